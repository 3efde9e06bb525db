/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Asks polkit, without blocking the bus, whether the sender of a method call may do something. */
#include <errno.h>
#include <stdlib.h>
#include <systemd/sd-event.h>

#include "bus-polkit.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

/* polkit's CheckAuthorization flag: the caller is there to answer a password prompt. */
#define POLKIT_ALLOW_USER_INTERACTION 1U

/* Senders whose euid we remember: a daemon's regular callers fit, a crowd only costs lookups. */
#define SENDER_CACHE_SIZE 16U

typedef enum QueryState {
        QUERY_PENDING,
        QUERY_ALLOWED,
        QUERY_DENIED,
        QUERY_CHALLENGE,
} QueryState;

typedef struct AsyncQuery AsyncQuery;

/* One question to polkit: may the sender of REQUEST do ACTION? A handler that asks for several
 * actions has one query per action; together they are the message's "group". */
struct AsyncQuery {
        PolkitRegistry *registry;
        AsyncQuery *next, *prev;
        sd_bus_message *request;  /* keeps the pointer unique while we key by it */
        char *action;
        char **details;
        sd_bus_slot *slot;        /* the call to polkit while it is in flight */
        QueryState state;
        bool seen;                /* the message was dispatched again after the answer */
};

/* A sender's euid, keyed by its unique bus name. Sound because the bus never hands a unique
 * name to another connection, and records a connection's credentials once, when it connects. */
typedef struct SenderCreds {
        char *name;
        uid_t euid;
} SenderCreds;

struct PolkitRegistry {
        sd_bus *bus;
        sd_bus_slot *filter_slot;
        sd_event_source *sweep_source;
        AsyncQuery *queries;
        size_t n_queries;
        SenderCreds senders[SENDER_CACHE_SIZE];
        size_t next_sender;  /* the slot to overwrite next (round robin) */
};

static AsyncQuery *query_free(AsyncQuery *q) {
        if (!q)
                return NULL;

        if (q->registry) {
                if (q->prev)
                        q->prev->next = q->next;
                else
                        q->registry->queries = q->next;
                if (q->next)
                        q->next->prev = q->prev;
                q->registry->n_queries--;
        }

        /* Unreferencing a pending call's slot cancels it: a late answer finds nobody to call. */
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        free(q->action);
        strv_free(q->details);
        free(q);
        return NULL;
}

PolkitRegistry *polkit_registry_free(PolkitRegistry *r) {
        if (!r)
                return NULL;

        while (r->queries)
                query_free(r->queries);
        for (size_t i = 0; i < SENDER_CACHE_SIZE; i++)
                free(r->senders[i].name);
        sd_event_source_disable_unref(r->sweep_source);
        sd_bus_slot_unref(r->filter_slot);
        sd_bus_unref(r->bus);
        free(r);
        return NULL;
}

size_t polkit_registry_size(const PolkitRegistry *r) {
        return r ? r->n_queries : 0;
}

static AsyncQuery *registry_find(PolkitRegistry *r, sd_bus_message *m, const char *action) {
        for (AsyncQuery *q = r->queries; q; q = q->next)
                if (q->request == m && streq(q->action, action))
                        return q;
        return NULL;
}

static bool group_is_pending(PolkitRegistry *r, sd_bus_message *m) {
        for (AsyncQuery *q = r->queries; q; q = q->next)
                if (q->request == m && q->state == QUERY_PENDING)
                        return true;
        return false;
}

/* A group whose every answer has been dispatched again is finished: the handler ran with all
 * the answers, and it only comes back (asking anew) if it starts another query, which makes the
 * group pending again. Dispatch is sequential, so this holds for every message but the one
 * being dispatched right now. */
static bool group_is_done(PolkitRegistry *r, sd_bus_message *m) {
        for (AsyncQuery *q = r->queries; q; q = q->next)
                if (q->request == m && (q->state == QUERY_PENDING || !q->seen))
                        return false;
        return true;
}

static void group_free(PolkitRegistry *r, sd_bus_message *m) {
        for (AsyncQuery *q = r->queries, *next; q; q = next) {
                next = q->next;
                if (q->request == m)
                        query_free(q);
        }
}

static void registry_sweep(PolkitRegistry *r, sd_bus_message *except) {
        AsyncQuery *q = r->queries;

        while (q)
                if (q->request != except && group_is_done(r, q->request)) {
                        /* The group's other members may be the next ones: walk again. */
                        group_free(r, q->request);
                        q = r->queries;
                } else
                        q = q->next;
}

static int on_sweep(sd_event_source *s, void *userdata) {
        registry_sweep(userdata, NULL);
        return 0;
}

/* Runs before any handler sees a message: marks the answers that are being delivered now, and
 * frees finished groups. With an event loop the freeing also happens right after this dispatch,
 * so that a finished call's message (and any fds it carries) is not held until the next one. */
static int on_bus_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        PolkitRegistry *r = userdata;
        bool marked = false;

        for (AsyncQuery *q = r->queries; q; q = q->next)
                if (q->request == m && q->state != QUERY_PENDING) {
                        q->seen = true;
                        marked = true;
                }

        registry_sweep(r, m);

        if (marked) {
                sd_event *e = sd_bus_get_event(r->bus);

                if (r->sweep_source)
                        (void) sd_event_source_set_enabled(r->sweep_source, SD_EVENT_ONESHOT);
                else if (e && sd_event_add_defer(e, &r->sweep_source, on_sweep, r) < 0)
                        log_debug("Cannot schedule freeing of polkit queries, freeing them later.");
        }
        return 0;
}

static int registry_new(sd_bus *bus, PolkitRegistry **ret) {
        PolkitRegistry *reg;
        int r;

        reg = calloc(1, sizeof(*reg));
        if (!reg)
                return -ENOMEM;
        reg->bus = sd_bus_ref(bus);

        r = sd_bus_add_filter(bus, &reg->filter_slot, on_bus_message, reg);
        if (r < 0) {
                polkit_registry_free(reg);
                return r;
        }
        *ret = reg;
        return 0;
}

static QueryState parse_answer(sd_bus_message *reply) {
        int authorized = false, challenge = false, r;

        if (sd_bus_message_is_method_error(reply, NULL)) {
                /* Not on the bus, no answer in time, or an error: all mean no. */
                log_debug("polkit did not answer: %s", sd_bus_message_get_error(reply)->name);
                return QUERY_DENIED;
        }

        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r > 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r <= 0) {
                log_debug_errno(r < 0 ? r : -EBADMSG, "Cannot parse polkit's answer: %m");
                return QUERY_DENIED;
        }

        if (authorized)
                return QUERY_ALLOWED;
        /* polkit also says "challenge" when interaction was allowed but no agent could ask: the
         * caller learns that a password would have helped either way. */
        return challenge ? QUERY_CHALLENGE : QUERY_DENIED;
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        AsyncQuery *q = userdata;
        PolkitRegistry *reg = q->registry;
        sd_bus_message *request = q->request;
        int r;

        q->slot = sd_bus_slot_unref(q->slot);
        q->state = parse_answer(reply);
        q->seen = false;

        /* With more queries of this message still out, wait for them: one dispatch, one reply. */
        if (group_is_pending(reg, request))
                return 0;

        r = sd_bus_enqueue_for_read(reg->bus, request);
        if (r < 0) {
                log_debug_errno(r, "Cannot dispatch the authorized call again: %m");
                (void) sd_bus_reply_method_errorf(request, SD_BUS_ERROR_ACCESS_DENIED,
                                                  "Authorization could not be completed.");
                group_free(reg, request);
        }
        return 0;
}

static int query_start(AsyncQuery *q, const char *sender) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        uint32_t flags = 0;
        int r;

        if (sd_bus_message_get_allow_interactive_authorization(q->request) > 0)
                flags |= POLKIT_ALLOW_USER_INTERACTION;

        r = sd_bus_message_new_method_call(q->registry->bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority",
                                           "CheckAuthorization");
        if (r < 0)
                return r;

        /* The subject is the bus name, not a PID: polkit resolves it itself, so the caller
         * cannot be swapped for another process behind a reused PID. */
        r = sd_bus_message_append(call, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender,
                                  q->action);
        if (r < 0)
                return r;

        r = sd_bus_message_open_container(call, 'a', "{ss}");
        if (r < 0)
                return r;
        for (char **k = q->details; k && k[0] && k[1]; k += 2) {
                r = sd_bus_message_append(call, "{ss}", k[0], k[1]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(call);
        if (r < 0)
                return r;

        r = sd_bus_message_append(call, "us", flags, "");
        if (r < 0)
                return r;

        /* The bus's method call timeout bounds a hung polkitd; its expiry is an error reply. */
        return sd_bus_call_async(q->registry->bus, &q->slot, call, on_polkit_reply, q, 0);
}

static int query_new(PolkitRegistry *reg, sd_bus_message *m, const char *action,
                     const char **details, AsyncQuery **ret) {
        AsyncQuery *q;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->request = sd_bus_message_ref(m);
        q->action = strdup(action);
        q->details = strv_copy((char *const *) details);
        if (!q->action || (details && !q->details)) {
                query_free(q);
                return -ENOMEM;
        }

        q->registry = reg;
        q->next = reg->queries;
        if (q->next)
                q->next->prev = q;
        reg->queries = q;
        reg->n_queries++;
        *ret = q;
        return 0;
}

static bool details_equal(char **a, const char **b) {
        size_t i = 0;

        for (; a && a[i]; i++)
                if (!b || !b[i] || !streq(a[i], b[i]))
                        return false;
        return !b || !b[i];
}

static int query_answer(AsyncQuery *q, const char **details, sd_bus_error *error) {
        /* The handler asked with other details the second time: what polkit allowed is not what
         * the handler is about to do now. */
        if (!details_equal(q->details, details))
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "The request changed while it was being authorized.");

        switch (q->state) {
        case QUERY_ALLOWED:
                return 1;
        case QUERY_CHALLENGE:
                return sd_bus_error_set(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                        "Interactive authentication required.");
        case QUERY_DENIED:
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied.");
        case QUERY_PENDING:
                return 0;
        }
        return -EINVAL;
}

static int registry_get(sd_bus_message *message, PolkitRegistry **registry) {
        sd_bus *bus = sd_bus_message_get_bus(message);

        if (*registry)
                /* A registry's filter sees the messages of one connection only. */
                return (*registry)->bus == bus ? 0 : -EXDEV;
        return registry_new(bus, registry);
}

static SenderCreds *sender_find(PolkitRegistry *r, const char *name) {
        for (size_t i = 0; i < SENDER_CACHE_SIZE; i++)
                if (streq_ptr(r->senders[i].name, name))
                        return &r->senders[i];
        return NULL;
}

static void sender_remember(PolkitRegistry *r, const char *name, uid_t euid) {
        SenderCreds *c = &r->senders[r->next_sender];
        char *n = strdup(name);

        if (!n)
                return; /* only a cache */
        free(c->name);
        *c = (SenderCreds) { .name = n, .euid = euid };
        r->next_sender = (r->next_sender + 1) % SENDER_CACHE_SIZE;
}

/* The euid comes from the bus daemon (what it saw when the sender connected), never from the
 * message: a header field is whatever the sender wrote. */
int polkit_sender_euid(sd_bus_message *message, PolkitRegistry **registry, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *sender;
        SenderCreds *c;
        uid_t euid;
        int r;

        if (!message || !registry || !ret)
                return -EINVAL;
        r = registry_get(message, registry);
        if (r < 0)
                return r;
        /* Only a bus daemon vouches for the sender field; on a direct connection it is whatever
         * the peer wrote, so nothing may be keyed by it. */
        sender = sd_bus_is_bus_client(sd_bus_message_get_bus(message)) > 0 ?
                sd_bus_message_get_sender(message) : NULL;
        if (sender && sender[0] != ':')
                sender = NULL;
        c = sender ? sender_find(*registry, sender) : NULL;
        if (c) {
                *ret = c->euid;
                return 0;
        }

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &euid);
        if (r < 0)
                return r;
        if (sender)
                sender_remember(*registry, sender, euid);
        *ret = euid;
        return 0;
}

int polkit_verify_async(sd_bus_message *message, const char *action, const char **details,
                        PolkitRegistry **registry, sd_bus_error *error) {
        AsyncQuery *q;
        const char *sender;
        uid_t euid;
        int r;

        if (!message || !action || !registry)
                return sd_bus_error_set_errno(error, -EINVAL);
        r = registry_get(message, registry);
        if (r < 0)
                return sd_bus_error_set_errno(error, r);

        q = registry_find(*registry, message, action);
        if (q)
                return query_answer(q, details, error);

        r = polkit_sender_euid(message, registry, &euid);
        if (r < 0) {
                log_debug_errno(r, "Cannot learn who sent the call, refusing: %m");
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Cannot identify the caller.");
        }
        if (euid == 0)
                return 1;

        /* Without a bus name (a direct connection) polkit has no subject to judge. */
        sender = sd_bus_message_get_sender(message);
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Cannot identify the caller.");

        r = query_new(*registry, message, action, details, &q);
        if (r < 0)
                return sd_bus_error_set_errno(error, r);

        r = query_start(q, sender);
        if (r < 0) {
                query_free(q);
                log_debug_errno(r, "Cannot ask polkit, refusing: %m");
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied.");
        }
        return 0;
}
