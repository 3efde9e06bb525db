# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the benchmarks that compare berthd with machined inside a testhost
# (tests/lib/testhost.sh, sourced before this): one way to bring the testhost up with the build.

# bench_testhost_up TH BUILD [testhost_start options...]: starts testhost TH, installs BUILD into
# it and sets $berthd to the installed daemon's path. Sets started=1 once the testhost runs, for
# the caller's cleanup.
bench_testhost_up() {
	local th=$1 build=$2
	shift 2
	log "starting testhost $th..."
	testhost_start "$th" "$@"
	started=1
	log "installing $build into it..."
	testhost_install "$th" "$build"
	berthd=$(testhost_exec "$th" sh -c 'for p in /usr/local/libexec/berthd /usr/libexec/berthd; do [ -x $p ] && echo $p && break; done')
	[ -n "$berthd" ] || { log "berthd not installed in the testhost"; return 1; }
}
