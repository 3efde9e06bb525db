/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Looking inside a running container: os-release, addresses, UID mapping, hostname, its root. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "machine.h"

/* One line of /proc/PID/uid_map or gid_map. */
typedef struct IdRange {
        uint32_t inside;
        uint32_t outside;
        uint32_t count;
} IdRange;

/* Parses the text of a uid_map/gid_map; an empty map (a user namespace not set up yet) is
 * -ENODATA. */
int id_map_parse(const char *text, IdRange **ret, size_t *ret_n);
/* The whole 32-bit range mapped onto itself: no user namespace of its own. */
bool id_map_is_identity(const IdRange *r, size_t n);
/* The host ID of the container's ID 0: 0 without a user namespace; -ENXIO when the mapping is
 * not one contiguous range starting at 0 (machined's "complex mapping"). */
int id_map_shift(const IdRange *r, size_t n, uint32_t *ret);
/* INSIDE → host ID, and back; -ESRCH when the ID is not mapped. */
int id_map_to_outside(const IdRange *r, size_t n, uint32_t inside, uint32_t *ret);
int id_map_to_inside(const IdRange *r, size_t n, uint32_t outside, uint32_t *ret);

/* Parses os-release text (KEY=VALUE lines with shell-style quoting) into a NULL-terminated list
 * of alternating keys and values. Malformed lines are skipped, as os-release(5) asks. */
int os_release_parse(const char *text, char ***ret);

/* The image name when ROOT is a direct child of one of the image pools, else NULL. */
const char *image_name_from_root(const char *root);

/* An O_PATH|O_DIRECTORY fd of /proc/LEADER, checked through the leader's pidfd to be the
 * registered process (not a recycled PID). -ESRCH when the leader is gone, -EOPNOTSUPP for a
 * machine that is not a container. */
int machine_open_proc(Machine *m);
/* An O_PATH|O_DIRECTORY fd of the container's root directory, as the leader sees it. */
int machine_open_root(Machine *m);
/* The leader's uid_map (or gid_map with GROUP). */
int machine_read_id_map(Machine *m, bool group, IdRange **ret, size_t *ret_n);
/* 0 without a user namespace; -ENXIO for a complex mapping. */
int machine_uid_shift(Machine *m, uint32_t *ret);

/* What GetAddresses shows per address, as a child writes it: fixed size, so the parent needs
 * no framing. */
typedef struct AddressRecord {
        int32_t family;
        uint32_t size;
        uint8_t bytes[16];
} AddressRecord;

/* Parses an RTM_NEWADDR/RTM_DELADDR message into REC (IFA_LOCAL, or else IFA_ADDRESS): 1 when
 * GetAddresses shows it (not loopback scope, not tentative or deprecated), 0 when not, -EBADMSG
 * when it is not a whole IPv4 or IPv6 address. Shared with the address watch (netns-watch.c). */
struct nlmsghdr;
int inside_parse_address(const struct nlmsghdr *nlh, AddressRecord *rec);

/* Writes an AddressRecord to OUT_FD for each address of the network namespace we are in that
 * others can reach (no loopback, none in DAD), as GetAddresses shows them; for forked children
 * (GetAddresses' own, and machine-cache.c's worker). */
int inside_dump_addresses(int out_fd);

/* The inside methods and properties, on the Manager and on Machine objects (added by manager_bus_register()). */
extern const sd_bus_vtable inside_manager_vtable[];
extern const sd_bus_vtable inside_machine_vtable[];
