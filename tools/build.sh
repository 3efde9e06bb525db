#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Configures (once) and builds berth in ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build --prefix=/usr --sysconfdir=/etc --localstatedir=/var >/dev/null
ninja -C build
