/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's one rtnetlink socket that hears address changes in every machine's network namespace
 * (NETLINK_LISTEN_ALL_NSID) and keeps each watched machine's cached addresses current. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct Manager Manager;
typedef struct Machine Machine;
typedef struct NetnsWatch NetnsWatch;
typedef struct NetnsEntry NetnsEntry;

/* MachineInfo.netns_state */
enum {
        NETNS_UNTRIED = 0, /* not looked at yet (or to look at again) */
        NETNS_WATCHED,     /* its namespace has an nsid here and is watched: addresses never stale */
        NETNS_HOST,        /* it shares berthd's namespace: read the old way (it may leave it) */
        NETNS_FAILED,      /* no nsid could be given (old kernel, EPERM): read the old way */
};

/* Full resyncs (after the socket overran) and re-reads of a namespace with too many addresses
 * happen at most this often, whatever a guest does. */
#define NETNS_RESYNC_USEC (1ULL * 1000000ULL)

int netns_watch_new(Manager *m, NetnsWatch **ret);
/* Closes the socket; every machine it watched is NETNS_UNTRIED again. */
NetnsWatch *netns_watch_free(NetnsWatch *w);

/* Looks at MACHINE's network namespace (through its leader's /proc entry, checked against the
 * pidfd), gives it an nsid if it has none, and watches it: 1, the addresses come soon (the dump
 * runs in the event loop); 0, the leader shares our namespace; < 0, it cannot be watched. Sets
 * machine->info.netns_state accordingly. */
int netns_watch_add(NetnsWatch *w, Machine *machine);
/* MACHINE is being freed, or leaves the watch. */
void netns_watch_remove(Machine *machine);

/* Applies whatever the socket has queued now (a list answers with the latest). */
void netns_watch_drain(NetnsWatch *w);

/* For tests: how many namespaces (nsids) are mapped now; the socket; how many full resyncs ran. */
unsigned netns_watch_n_entries(const NetnsWatch *w);
int netns_watch_fd(const NetnsWatch *w);
unsigned netns_watch_n_resyncs(const NetnsWatch *w);
