#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# -x and --volatile: writes inside never reach the tree.
. "$(dirname "$0")/../lib/libtest.sh"
need_root
mkscratch
T=$SCRATCH/eph-$$
mk_busybox_tree "$T"
printf '#!/bin/sh\necho x >/etc/written-at-boot; poweroff\n' >"$T/etc/init.d/rc.test"
chmod 755 "$T/etc/init.d/rc.test"
leak_begin

# Contents, owners, modes and links of every file: what "byte-identical" means for a tree.
tree_state() { (cd "$T" && find . -printf '%p %y %U:%G %m %s %l\n' | sort && find . -type f -exec sha256sum {} + | sort); }
before=$(tree_state)
writes='echo changed >/etc/passwd; rm -f /bin/ls; mkdir /newdir; touch /newfile; chmod 700 /etc; echo $(cat /etc/passwd)'

for mode in "" "-U"; do
	out=$(spawn -D "$T" --console=pipe -x $mode -- /bin/sh -c "$writes" 2>&1)
	check_eq "$out" changed "-x $mode: writes work inside"
	check_eq "$(tree_state)" "$before" "-x $mode: the tree is byte-identical afterwards"
	out=$(spawn -D "$T" --console=pipe -x $mode -- /bin/sh -c 'cat /newfile 2>&1; ls /bin/ls')
	check_eq "$out" "$(printf 'cat: can'"'"'t open '"'"'/newfile'"'"': No such file or directory\n/bin/ls')" "-x $mode: the next run starts from the tree again"
done

spawn -D "$T" --console=pipe -x -b </dev/null >/dev/null 2>&1
check_eq "$?" 0 "booting with -x works (and powers off)"
check_eq "$(tree_state)" "$before" "booting with -x leaves the tree as it was"

out=$(spawn -D "$T" --console=pipe --volatile=yes -- /bin/sh -c 'ls /usr/lib/os-release && ls /etc && touch /x && echo ok')
check "--volatile=yes: /usr from the tree, an empty root" test "$(echo "$out" | tr '\n' ' ')" = "/usr/lib/os-release machine-id ok "
out=$(spawn -D "$T" --console=pipe --volatile=state -- /bin/sh -c 'touch /var/x && echo var-ok; touch /etc/x 2>/dev/null || echo etc-ro')
check_eq "$out" "$(printf 'var-ok\netc-ro')" "--volatile=state: /var writable, the rest read-only"
out=$(spawn -D "$T" --console=pipe --volatile=overlay -- /bin/sh -c 'touch /etc/x && echo ok')
check_eq "$out" ok "--volatile=overlay: writable"
check_eq "$(tree_state)" "$before" "--volatile modes leave the tree as it was"
leak_check
tap_done
