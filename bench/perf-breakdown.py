#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Turns `perf script --show-task-events -F comm,pid,tid,ip,sym,dso` of a driver run into CPU time
# per run, per process role (supervisor, container PID 1, payload) and per cause (a system call,
# page faults, or user code by library), for each command the driver ran.
#
# Usage: perf-breakdown.py SCRIPT_OUTPUT SAMPLE_HZ [MIN_MS]
import collections
import re
import sys

ROLES = {1: "supervisor", 2: "container PID 1", 3: "payload"}


def parse(path):
    parent, exe, samples, cur = {}, {}, [], None
    for line in open(path, errors="replace"):
        if "PERF_RECORD_FORK" in line:
            m = re.search(r"PERF_RECORD_FORK\((\d+):\d+\):\((\d+):", line)
            parent[int(m.group(1))] = int(m.group(2))
        elif "PERF_RECORD_COMM exec" in line:
            m = re.search(r"exec: (\S+):(\d+)/", line)
            exe[int(m.group(2))] = m.group(1)
        elif "PERF_RECORD" in line:
            continue
        elif line.strip() and not line[0].isspace():
            m = re.match(r"(.+?)\s+(\d+)/(\d+)", line)
            cur = (m.group(1).strip(), int(m.group(2)), [])
            samples.append(cur)
        elif line.strip() and cur is not None:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                sym, _, dso = parts[1].rpartition(" (")
                cur[2].append((sym, dso.rstrip(")")))
    return parent, exe, samples


def cause(frames):
    kernel = [f[0] for f in frames if "kernel" in f[1]]
    if not kernel:
        return "user " + (frames[0][1].rsplit("/", 1)[-1] if frames else "?")
    for i, name in enumerate(kernel):
        if name == "do_syscall_64" and i > 0:
            j = i - 1
            while j > 0 and kernel[j] == "x64_sys_call":
                j -= 1
            return "syscall " + re.sub(r"^(__x64_sys_|__do_sys_|__se_sys_|ksys_|__sys_)", "", kernel[j])
    if "asm_exc_page_fault" in kernel:
        return "page faults"
    if any(n.startswith("ret_from_fork") for n in kernel):
        return "return from fork"
    return "kernel, other"


def main():
    path, hz = sys.argv[1], float(sys.argv[2])
    min_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 0.03
    parent, exe, samples = parse(path)
    roots = {p for p in parent.values() if p not in parent}
    driver = min(roots)

    def chain(pid):
        depth = 0
        while pid in parent and pid != driver:
            top, pid, depth = pid, parent[pid], depth + 1
        return depth, top if depth else pid

    runs = collections.Counter()
    for pid, par in parent.items():
        if par == driver:
            runs[exe.get(pid, "?")] += 1
    table = collections.defaultdict(collections.Counter)
    for comm, pid, frames in samples:
        if pid == driver:
            continue
        depth, top = chain(pid)
        role = ROLES.get(depth, "deeper")
        if depth == 1 and comm == "driver":
            role = "driver's fork, before exec"
        table[(exe.get(top, "?"), role)][cause(frames)] += 1

    ms = 1000.0 / hz
    for cmd in sorted(runs):
        n = runs[cmd]
        total = sum(sum(c.values()) for (k, _), c in table.items() if k == cmd) * ms / n
        print(f"## {cmd}: {n} runs, {total:.2f} ms CPU per run")
        for (k, role), c in sorted(table.items(), key=lambda x: -sum(x[1].values())):
            if k != cmd:
                continue
            print(f"  {role}: {sum(c.values()) * ms / n:.3f} ms")
            for what, cnt in c.most_common():
                if cnt * ms / n >= min_ms:
                    print(f"    {cnt * ms / n:7.3f}  {what}")


if __name__ == "__main__":
    main()
