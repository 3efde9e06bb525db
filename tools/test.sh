#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The whole test suite, from a fresh Debian 12 machine, as root: installs what it needs, builds,
# runs every test (unit and integration: real namespaces, trees, a systemd testhost), and ends
# with one line "N passed, N failed, N skipped" counted from meson's test log.
set -uo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "Run this as root: the tests make namespaces, mounts and cgroups." >&2; exit 1; }
tools/deps.sh || exit 1
tools/build.sh >/dev/null || { echo "Build failed." >&2; exit 1; }
# The Debian tree takes a minute the first time and is cached in /var/cache/berth.
tests/fixtures/debian-tree.sh >/dev/null || { echo "Could not build the Debian test tree." >&2; exit 1; }

meson test -C build --print-errorlogs "$@"
status=$?

python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
