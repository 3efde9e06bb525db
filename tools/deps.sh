#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what berth needs to build, run and test, from Debian 12's packages. Idempotent.
set -euo pipefail

PACKAGES=(
	# build
	meson ninja-build pkg-config gcc libc6-dev scdoc
	libsystemd-dev libmount-dev libblkid-dev libseccomp-dev libmnl-dev libinih-dev
	libglib2.0-dev libglib-testing-0-dev
	libsmartcols-dev libjson-c-dev libarchive-dev
	# port forwarding (berth-spawn -p): headers, the library it dlopen()s, nft for the tests
	libnftables-dev libnftables1 nftables
	# run and test: trees, namespaces, the testhost, polkit, terminals
	busybox-static debootstrap systemd systemd-container dbus dbus-bin polkitd
	iproute2 util-linux procps passwd python3 python3-dbus python3-gi libxml2-utils libglib2.0-bin tmux acl openssh-server
	# images: partitioning and the file systems of the pool tests
	fdisk btrfs-progs xfsprogs e2fsprogs dosfstools mtools
	# transfers: the test unpacks a zstd raw export
	zstd
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "Installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
