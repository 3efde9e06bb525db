/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Asking polkit whether the sender of a D-Bus method call may do something, asynchronously. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct PolkitRegistry PolkitRegistry;

/* Frees every query; those still in flight are cancelled, and their messages are never
 * dispatched again. The registry holds a reference to its bus: free it before the bus. */
PolkitRegistry *polkit_registry_free(PolkitRegistry *r);

/* Queries held: in flight, or answered and not yet seen through by their handler. A registry
 * serves the one bus connection its first message came from. */
size_t polkit_registry_size(const PolkitRegistry *r);

/* Decides whether the sender of MESSAGE may perform ACTION (e.g. "org.berth.machine1.manage-
 * machines"), with DETAILS (NULL-terminated key/value pairs, e.g. {"machine", "foo", NULL}) for
 * rules to use. Callers with uid 0 are allowed without asking. Otherwise polkit is asked with the
 * sender's bus name as subject, honouring the message's allow-interactive-authorization flag.
 *
 * Returns 1: allowed, go on. 0: a query is in flight; return 1 from the method handler (the reply
 * is pending); when polkit answers, MESSAGE is dispatched again and this call returns the answer
 * (the registry caches it per message). Negative: refused, with ERROR set:
 * org.freedesktop.DBus.Error.AccessDenied (no, or polkit unreachable: fail closed) or
 * org.freedesktop.DBus.Error.InteractiveAuthorizationRequired (challenge without the flag).
 *
 * *REGISTRY is allocated on first use, for the bus MESSAGE came from; call this again with the
 * same ACTION and DETAILS when MESSAGE comes back (different details are refused: what polkit
 * allowed is not what is about to happen). A handler may ask for several actions, one after the
 * other or all at once; MESSAGE comes back once all of them are answered. Answers are dropped
 * once the message has been dispatched with them, so a message's fds are not held after. */
int polkit_verify_async(sd_bus_message *message, const char *action, const char **details,
                        PolkitRegistry **registry, sd_bus_error *error);

/* The effective uid of MESSAGE's sender as the bus daemon recorded it when the sender connected
 * (never a header field the sender wrote). On a bus the answer is kept in *REGISTRY (allocated
 * on first use, as above) per unique name, which the bus never gives to another connection: a
 * handler that checks its caller itself and then calls polkit_verify_async() asks the bus once,
 * and a sender's later calls not at all. Negative errno if the bus cannot tell (e.g. the sender
 * is gone already). */
int polkit_sender_euid(sd_bus_message *message, PolkitRegistry **registry, uid_t *ret);
