/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's side of D-Bus: the connection, the polkit agent, calls, and errors as exit codes. */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>

#include "macro.h"

typedef struct Ctl Ctl;

#define BERTH_BUS_NAME "org.berth.machine1"
#define BERTH_BUS_PATH "/org/berth/machine1"
#define BERTH_MANAGER_IFACE "org.berth.machine1.Manager"
#define BERTH_MACHINE_IFACE "org.berth.machine1.Machine"
#define BERTH_IMAGE_IFACE "org.berth.machine1.Image"

/* The bus connection: the system bus ($DBUS_SYSTEM_BUS_ADDRESS honoured) or -H's remote one,
 * opened on first use and kept in ctl->bus. *RET is borrowed. Logs; returns a negative errno. */
int ctl_bus(Ctl *ctl, sd_bus **ret);

/* Starts pkttyagent (--notify-fd, waits until it is ready; the session's fallback agent in a
 * login session, else our own process's agent, which polkitd uses without a session) if stdin
 * is a tty, the bus is local and --no-ask-password was not given; idempotent. Call it right before a
 * method call that may need polkit's interactive authorization. Failure to start is not
 * fatal (logged at debug; the call then fails with InteractiveAuthorizationRequired). */
void ctl_polkit_agent_open(Ctl *ctl);
void ctl_polkit_agent_close(Ctl *ctl);

/* A new call of the Manager method METHOD, with allow-interactive-authorization set unless
 * --no-ask-password. Append arguments, then ctl_call_message(). */
int ctl_new_manager_call(Ctl *ctl, const char *method, sd_bus_message **ret);
/* Same for a method of any object and interface (e.g. a Machine's, or systemd's). */
int ctl_new_call(Ctl *ctl, const char *destination, const char *path, const char *interface,
                 const char *method, sd_bus_message **ret);
/* Sends M and waits (TIMEOUT in µs, 0: sd-bus's default; use UINT64_MAX for calls that wait
 * for a command, like exec). Opens the polkit agent first when M allows interactive
 * authorization. Returns >= 0 or a negative errno with ERROR set (never logs). */
int ctl_call_message(Ctl *ctl, sd_bus_message *m, uint64_t timeout, sd_bus_error *error,
                     sd_bus_message **reply);
/* How many calls of ctl_call_many() are in flight at once. dbus-daemon's stock limit is 128
 * pending replies per connection (CTL_CALLS_IN_FLIGHT_MAX stays well below); stopping 2,500
 * machines took as long with 4, 8, 16 or 64 in flight, and a deeper queue only waits in the bus. */
#define CTL_CALLS_IN_FLIGHT 16
#define CTL_CALLS_IN_FLIGHT_MAX 64

/* Called by ctl_call_many() once for every I in 0..N-1, in that order, as soon as calls 0..I have
 * all been answered: R >= 0 for a method return, else a negative errno with ERROR set as far as
 * known. For a NULL message (a call the caller did not make) R is 0 and ERROR unset. */
typedef void (*CtlCallDone)(size_t i, const sd_bus_error *error, int r, void *userdata);
/* Sends the calls MESSAGES[0..N) pipelined on the one connection, CTL_CALLS_IN_FLIGHT at a time
 * (TIMEOUT in µs for each, 0: sd-bus's default), so that N calls cost about as long as the slowest
 * of them rather than the sum. When one may need polkit's interactive authorization and an agent
 * runs, the first call goes alone, so that the person answers once (auth_admin_keep does the
 * rest). Returns 0 once DONE has seen every call, or a negative errno (logged) if there is no
 * connection. */
int ctl_call_many(Ctl *ctl, sd_bus_message **messages, size_t n, uint64_t timeout, CtlCallDone done,
                  void *userdata);
/* Builds, sends and waits for a Manager method in one go: TYPES and the arguments as for
 * sd_bus_message_append(). REPLY may be NULL. */
int ctl_call(Ctl *ctl, const char *method, sd_bus_error *error, sd_bus_message **reply,
             const char *types, ...);

/* The object path of machine NAME (GetMachine). Logs and returns the exit code (3 for an
 * unknown machine) as a positive number, or 0 with *RET set. */
int ctl_machine_path(Ctl *ctl, const char *name, char **ret);

/* Logs one line for a failed call ("Failed to terminate machine foo: not allowed: Access
 * denied. (polkit)") and returns the exit code that matches: NoSuchMachine/NoSuchImage/
 * UnknownObject → 3, AccessDenied/InteractiveAuthorizationRequired → 4, InvalidArgs → 2, else 1.
 * R is the negative errno the call returned; ERROR may be unset (then R's text is used).
 * FORMAT says what failed, without "Failed to". */
int ctl_log_bus_error(const sd_bus_error *error, int r, const char *format, ...) _printf_(3, 4);
/* Only the mapping, for callers that word the message themselves. */
int ctl_exit_code_from_bus_error(const sd_bus_error *error, int r);
