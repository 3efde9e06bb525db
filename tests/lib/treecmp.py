#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Compares two directory trees the way an image copy must keep them, for integration tests.

  treecmp.py [OPTIONS] A B       exit 0 if equal, 1 (differences on stdout) if not, 2 on error
  treecmp.py [OPTIONS] --manifest A
                                 one line per entry; equal manifests mean equal trees (for the
                                 same tree before and after something that must not touch it)

What is compared, per entry (relative path; the root itself included): type, mode (with
setuid/setgid/sticky), owner, size of non-directories, mtime (µs, unless --no-mtime), every
extended attribute (user.*, trusted.*, security.*, and the ACLs as system.posix_acl_*), the
SHA-256 of a regular file's content, a symlink's target, a device node's numbers, and the hard
link groups (which paths share an inode within the tree). With --sparse, a regular file whose
source has holes must have holes in the copy too (fewer bytes allocated than its size).
Nothing is followed out of the trees: lstat and no-follow xattr calls only; contents are read
in 1 MiB pieces.
"""

import argparse
import hashlib
import os
import stat
import sys


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        return "listxattr failed: %s" % e.strerror
    out = []
    for n in sorted(names):
        try:
            v = os.getxattr(path, n, follow_symlinks=False)
        except OSError as e:
            v = ("getxattr failed: %s" % e.strerror).encode()
        out.append("%s=%s" % (n, v.hex()))
    return ",".join(out)


def content_hash(path):
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
    finally:
        os.close(fd)
    return h.hexdigest()


def walk(root, opts):
    """{relative path: (fields dict, (dev, ino), allocated bytes)} for every entry of root."""
    entries = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        p = os.path.join(root, rel) if rel else root
        st = os.lstat(p)
        f = {"type": stat.S_IFMT(st.st_mode), "mode": "%o" % stat.S_IMODE(st.st_mode),
             "owner": "%d:%d" % (st.st_uid, st.st_gid), "xattrs": xattrs(p)}
        if opts.mtime:
            f["mtime"] = str(st.st_mtime_ns // 1000)
        if stat.S_ISDIR(st.st_mode):
            for n in os.listdir(p):
                stack.append(os.path.join(rel, n))
        else:
            f["size"] = str(st.st_size)
        if stat.S_ISREG(st.st_mode):
            f["sha256"] = content_hash(p)
        elif stat.S_ISLNK(st.st_mode):
            f["target"] = os.readlink(p)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            f["rdev"] = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        entries[rel or "."] = (f, (st.st_dev, st.st_ino), st.st_blocks * 512, st)
    # Hard link groups: every non-directory with more than one name in the tree lists the others.
    groups = {}
    for rel, (f, key, _, st) in entries.items():
        if not stat.S_ISDIR(st.st_mode):
            groups.setdefault(key, []).append(rel)
    for rel, (f, key, _, st) in entries.items():
        if not stat.S_ISDIR(st.st_mode) and len(groups[key]) > 1:
            f["links"] = " ".join(sorted(groups[key]))
    return entries


def manifest(root, opts):
    e = walk(root, opts)
    for rel in sorted(e):
        f = e[rel][0]
        print(rel, " ".join("%s=%s" % (k, f[k]) for k in sorted(f)))
    return 0


def compare(a, b, opts):
    ea, eb = walk(a, opts), walk(b, opts)
    diffs = []
    for rel in sorted(set(ea) | set(eb)):
        if rel not in eb:
            diffs.append("%s: only in %s" % (rel, a))
            continue
        if rel not in ea:
            diffs.append("%s: only in %s" % (rel, b))
            continue
        fa, _, alloc_a, sta = ea[rel]
        fb, _, alloc_b, _ = eb[rel]
        for k in sorted(set(fa) | set(fb)):
            if fa.get(k) != fb.get(k):
                diffs.append("%s: %s %s != %s" % (rel, k, fa.get(k), fb.get(k)))
        if opts.sparse and stat.S_ISREG(sta.st_mode) and alloc_a < sta.st_size and alloc_b >= sta.st_size:
            diffs.append("%s: holes lost (%d bytes allocated of %d, source %d)" %
                         (rel, alloc_b, sta.st_size, alloc_a))
    for d in diffs[:opts.max]:
        print(d)
    if len(diffs) > opts.max:
        print("... and %d more differences" % (len(diffs) - opts.max))
    return 1 if diffs else 0


def main():
    ap = argparse.ArgumentParser(description="Compare two trees (or print one tree's manifest).")
    ap.add_argument("--manifest", action="store_true", help="print the manifest of one tree")
    ap.add_argument("--no-mtime", dest="mtime", action="store_false", help="ignore modification times")
    ap.add_argument("--sparse", action="store_true", help="holes in the first tree must be kept")
    ap.add_argument("--max", type=int, default=40, help="differences to print at most")
    ap.add_argument("trees", nargs="+")
    opts = ap.parse_args()
    try:
        if opts.manifest:
            if len(opts.trees) != 1:
                ap.error("--manifest takes one tree")
            return manifest(opts.trees[0], opts)
        if len(opts.trees) != 2:
            ap.error("two trees to compare")
        return compare(opts.trees[0], opts.trees[1], opts)
    except OSError as e:
        print("treecmp: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
