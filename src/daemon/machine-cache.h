/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's cache of what lists show about each machine from inside it (os-release, addresses),
 * filled by one forked worker for all stale machines, and ListMachinesEx, which answers from it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;
typedef struct Machine Machine;
typedef struct MachineCache MachineCache;
typedef struct NetnsEntry NetnsEntry;

/* Addresses older than this are read again when someone asks (never when nobody does); only for
 * machines the address watch (netns-watch.c) does not follow: those are always current. */
#define MACHINE_ADDRESSES_TTL_USEC (2ULL * 1000000ULL)
/* At most this many addresses are cached per machine; a machine with more is answered by
 * GetMachineAddresses (ADDRESSES_PENDING), so that no list ever shows a cut one. */
#define MACHINE_ADDRESSES_MAX 64U

/* ListMachinesEx's flags, per machine (out). */
enum {
        /* os-release not read yet, or not cacheable: GetMachineOSRelease has the answer. */
        MACHINE_INFO_OS_PENDING = 1U << 0,
        /* Addresses not read yet, or not cacheable: GetMachineAddresses has the answer. */
        MACHINE_INFO_ADDRESSES_PENDING = 1U << 1,
        /* Addresses older than MACHINE_ADDRESSES_TTL_USEC (a machine the address watch does not
         * follow); a refresh is under way. */
        MACHINE_INFO_ADDRESSES_STALE = 1U << 2,
        /* The machine shares the host's network namespace: no addresses of its own. */
        MACHINE_INFO_NO_PRIVATE_NETWORK = 1U << 3,
        /* The os-release has the value: the OS field (ID, or else NAME), VERSION (VERSION_ID,
         * or else VERSION), PRETTY_NAME (or else NAME). Without: the field is empty, and absent. */
        MACHINE_INFO_HAS_OS = 1U << 4,
        MACHINE_INFO_HAS_VERSION = 1U << 5,
        MACHINE_INFO_HAS_PRETTY_NAME = 1U << 6,
};

/* ListMachinesEx's flags (in). */
enum {
        /* Wait (at most LIST_FRESH_WAIT_USEC) until pending and stale entries were read: the
         * os-release of new machines, and the addresses of those the watch does not follow. */
        LIST_MACHINES_FRESH = 1ULL << 0,
        _LIST_MACHINES_FLAGS_ALL = LIST_MACHINES_FRESH,
};
#define LIST_FRESH_WAIT_USEC (1ULL * 1000000ULL)

/* One machine's cached view; embedded in Machine, all zero at first ("nothing known"). */
typedef struct MachineInfo {
        /* What lists show of the os-release, "OS\0VERSION\0PRETTY_NAME\0", and which of them
         * exist (MACHINE_INFO_HAS_*); NULL with os_known: none could be read. */
        char *os_release;
        uint8_t os_present;
        bool os_known;
        bool os_provisional;      /* read during the container's set-up: read again when asked */
        bool os_uncacheable;      /* too long to keep: always answered by GetMachineOSRelease */
        bool addresses_uncacheable;
        bool host_network;
        /* CLOCK_MONOTONIC µs of the last read of the addresses; 0: never. */
        uint64_t addresses_usec;
        /* Packed: per address one byte of family (AF_INET/AF_INET6) and 4 or 16 bytes. */
        uint8_t *addresses;
        uint16_t addresses_size;
        /* Index + 1 in the running worker's batch; 0: not in it. */
        uint32_t batch_slot;
        /* The address watch (netns-watch.c): NETNS_* state, the entry of the machine's network
         * namespace, and the next machine sharing it. */
        uint8_t netns_state;
        NetnsEntry *netns;
        Machine *netns_next;
} MachineInfo;

/* A new machine: its os-release and addresses are read soon, in a batch with others. */
void machine_cache_machine_new(Manager *m, Machine *machine);
/* MACHINE is being freed: forget it (its cached data, and its slot in a running batch). */
void machine_cache_machine_free(Machine *machine);

/* Answers GetMachineAddresses from the address watch when it follows MACHINE and has all of
 * them: 1 when answered, 0 when the caller reads them the old way, < 0 on error. */
int machine_cache_reply_addresses(Manager *m, Machine *machine, sd_bus_message *message);

/* The ListMachinesEx method, for the Manager's vtable. */
int method_list_machines_ex(sd_bus_message *message, void *userdata, sd_bus_error *error);

/* Creates the cache and its address watch (berthd's start: the watch's socket is its one fd). */
int machine_cache_start(Manager *m);

/* Worker and its waiting calls, killed and freed (berthd's exit). */
void machine_cache_free(Manager *m);
