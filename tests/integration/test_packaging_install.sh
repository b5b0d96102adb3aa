#!/usr/bin/env bash
# test_packaging_install — the Debian packages install into a clean root and
# their programs run there with only what the packages declare.
#
# What it does:
#   1. contrib/package.sh builds both .debs (prefix /usr; its build directory
#      $PW_BUILD_DIR/package-build is kept between runs, so a rerun only
#      rebuilds what changed).
#   2. debroot.py makes a clean root from the host's own installed packages:
#      the dependency closure of the .debs' Depends, plus Debian's Essential
#      set (which policy lets every package use undeclared: sh for the
#      maintainer scripts, coreutils, dpkg), with each package's files as
#      `dpkg -L` lists them and its entry in the root's dpkg database.
#   3. `dpkg --root=ROOT -i` installs the .debs: dpkg checks their Depends
#      against that database (not the host's) and runs the maintainer
#      scripts chrooted into ROOT (systemd-sysusers creates the user there).
#   4. Inside `chroot ROOT`, as the pipewatch user: pipewatch-agent --once
#      (host metrics need /proc, mounted in a private mount namespace that
#      disappears with the test), pipewatch-agent --check-config and
#      pipewatch-analyzer --check-config on the installed /etc/pipewatch
#      files, pipewatch-train --help.
#   5. An upgrade (the agent again), a removal and a purge (the analyzer)
#      run their maintainer scripts too: configuration, user and state stay
#      on removal; purge takes only the analyzer's conffile.
#   6. Every shared library the three binaries load inside the root belongs to
#      a package in the closure of their Depends (not merely to the
#      Essential set), dpkg --audit and --verify are clean, and removing a
#      declared dependency is refused.
#
# Why not debootstrap: it needs the network to Debian's archive and minutes
# on every fresh CI machine. Why not `dpkg -x` of downloaded .debs: the
# same network for files that are already on the host, unpacked by the
# build's own dependencies. The host's installed files are the same files
# Debian ships (dpkg --verify of the root would show otherwise), and dpkg's
# own Depends check is the one an operator's apt/dpkg makes. What this does
# not prove: that the version constraints are the lowest that work (the
# host's versions are Debian 12's), and the units are not started (no
# systemd as PID 1 here; test_packaging_units verifies them).
#
# Needs root that may mount (chroot, /proc in the root): skips with 77
# otherwise, saying why. The packages come from
# a plain build; in the sanitizer build (PW_SANITIZE) it skips too.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $(id -u) -ne 0 ]]; then
    echo "skipped: needs root for chroot, mount and dpkg --root (CI runs as root)"
    exit 77
fi
if grep -Eq '^PW_SANITIZE:[A-Z]+=(ON|1|TRUE|YES)$' "$PW_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    echo "skipped: packages are built and installed by the plain build's run of this test"
    exit 77
fi
for tool in dpkg-deb dpkg-shlibdeps cpack unshare chroot python3; do
    command -v "$tool" >/dev/null || fail "$tool is missing (contrib/deps.sh installs it)"
done
mkdir -p "$PW_TMP/probe"
if ! unshare --mount --propagation private mount -t tmpfs none "$PW_TMP/probe" 2>"$PW_TMP/probe.err"; then
    echo "skipped: root here cannot mount in a private mount namespace (a container without CAP_SYS_ADMIN?): $(<"$PW_TMP/probe.err")"
    exit 77
fi

info "building the packages (contrib/package.sh)"
debs=$PW_TMP/debs
PW_PACKAGE_BUILD_DIR=$PW_BUILD_DIR/package-build PW_PACKAGE_INCREMENTAL=1 \
    "$PW_SOURCE_DIR/contrib/package.sh" "$debs" >"$PW_TMP/package.out" 2>"$PW_TMP/package.err" ||
    fail "contrib/package.sh: $(tail -20 "$PW_TMP/package.err")"
agent_deb=$(ls "$debs"/pipewatch-agent_*.deb)
analyzer_deb=$(ls "$debs"/pipewatch-analyzer_*.deb)
for deb in "$agent_deb" "$analyzer_deb"; do
    info "$(basename "$deb"): $(stat -c %s "$deb") bytes; Depends: $(dpkg-deb -f "$deb" Depends)"
done
for deb in "$agent_deb" "$analyzer_deb"; do
    dpkg-deb -c "$deb" >"$PW_TMP/contents" || fail "dpkg-deb -c $deb"
    grep -q ' \./usr/bin/pipewatch-' "$PW_TMP/contents" || fail "no program in $deb"
    if grep -E 'pipewatch-(broker|tail)' "$PW_TMP/contents"; then
        fail "a development tool is in $deb"
    fi
done

info "making a clean root from the host's installed packages"
root=$PW_TMP/root
mkdir -p "$root"
python3 "$PW_SOURCE_DIR/tests/integration/debroot.py" "$root" "$agent_deb" "$analyzer_deb" \
    >"$PW_TMP/closure" 2>"$PW_TMP/debroot.err" || fail "debroot.py: $(<"$PW_TMP/debroot.err")"
info "root: $(grep -c '^Package:' "$root/var/lib/dpkg/status") packages, $(wc -l <"$PW_TMP/closure") of them declared (closure of Depends), $(du -sm "$root" | cut -f1) MB"
[[ ! -e $root/usr/local/bin/pipewatch-agent && ! -e $root$PW_SOURCE_DIR && ! -e $root$PW_BUILD_DIR ]] ||
    fail "the root holds something of the host's build"
cp "$agent_deb" "$analyzer_deb" "$root/tmp/"

# Everything that needs /proc or /dev in the root runs in one private mount
# namespace: its mounts vanish with it, whatever happens to the test.
cat >"$PW_TMP/inside.sh" <<'INSIDE'
set -euo pipefail
root=$1 out=$2
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=0755,size=1m tmpfs "$root/dev"
for d in null zero random urandom; do
    : >"$root/dev/$d"
    mount --bind "/dev/$d" "$root/dev/$d"
done
chroot "$root" /sbin/ldconfig      # what libc-bin's trigger would do
dpkg --root="$root" -i "$root"/tmp/pipewatch-agent_*.deb "$root"/tmp/pipewatch-analyzer_*.deb \
    >"$out/dpkg-install.out" 2>&1
ids=$(chroot "$root" /usr/bin/id -u pipewatch):$(chroot "$root" /usr/bin/id -g pipewatch)
echo "$ids" >"$out/ids"
as_pw() { chroot --userspec="$ids" "$root" "$@"; }
as_pw /usr/bin/pipewatch-agent --once --config /etc/pipewatch/agent.yaml >"$out/once.out"
as_pw /usr/bin/pipewatch-agent --check-config --config /etc/pipewatch/agent.yaml >"$out/agent-check.out"
as_pw /usr/bin/pipewatch-analyzer --check-config --config /etc/pipewatch/analyzer.yaml \
    >"$out/analyzer-check.out"
as_pw /usr/bin/pipewatch-train --help >"$out/train-help.out"
for b in pipewatch-agent pipewatch-analyzer pipewatch-train; do
    chroot "$root" /usr/bin/env LD_TRACE_LOADED_OBJECTS=1 "/usr/bin/$b" >"$out/libs-$b"
done
# The other maintainer-script paths: an upgrade (the same version again),
# a removal and a purge of the analyzer.
cp -a "$root/etc/pipewatch" "$out/etc-before"
dpkg --root="$root" -i "$root"/tmp/pipewatch-agent_*.deb >"$out/dpkg-upgrade.out" 2>&1
dpkg --root="$root" -r pipewatch-analyzer >"$out/dpkg-remove.out" 2>&1
ls -A "$root/etc/pipewatch" >"$out/etc-after-remove"
dpkg --root="$root" -P pipewatch-analyzer >"$out/dpkg-purge.out" 2>&1
ls -A "$root/etc/pipewatch" >"$out/etc-after-purge"
INSIDE
info "installing with dpkg --root and running the programs in the root"
unshare --mount --propagation private bash "$PW_TMP/inside.sh" "$root" "$PW_TMP" \
    2>"$PW_TMP/inside.err" || {
    [[ -s $PW_TMP/dpkg-install.out ]] && cat "$PW_TMP/dpkg-install.out" >&2
    fail "in the root: $(tail -20 "$PW_TMP/inside.err")"
}

# The maintainer scripts: a system user, its directories, the config.
IFS=: read -r uid gid <"$PW_TMP/ids"
(( uid > 0 && uid < 1000 )) || fail "pipewatch is not a system user: uid $uid"
grep -q 'Creating user .pipewatch' "$PW_TMP/dpkg-install.out" ||
    fail "postinst did not create the user: $(<"$PW_TMP/dpkg-install.out")"
[[ $(stat -c '%u:%g %a' "$root/var/lib/pipewatch/models") == "$uid:$gid 750" ]] ||
    fail "/var/lib/pipewatch/models is $(stat -c '%u:%g %a' "$root/var/lib/pipewatch/models")"
for f in agent analyzer; do
    [[ $(stat -c '%u:%g %a' "$PW_TMP/etc-before/$f.yaml") == "0:$gid 640" ]] ||
        fail "/etc/pipewatch/$f.yaml is $(stat -c '%u:%g %a' "$PW_TMP/etc-before/$f.yaml")"
done
[[ ! -e $root/etc/systemd/system/multi-user.target.wants/pipewatch-agent.service &&
   ! -e $root/etc/systemd/system/multi-user.target.wants/pipewatch-analyzer.service ]] ||
    fail "a unit was enabled on installation"
for p in pipewatch-agent pipewatch-analyzer; do
    grep -q "^Setting up $p " "$PW_TMP/dpkg-install.out" || fail "$p was not set up"
done
dpkg-query --root="$root" -W -f='${Status}' pipewatch-agent | grep -q 'install ok installed' ||
    fail "pipewatch-agent is not installed in the root after its upgrade"

# The programs' output, as the pipewatch user inside the root.
for m in cpu mem system processes; do
    grep -q "^$m[, ]" "$PW_TMP/once.out" || fail "pipewatch-agent --once printed no $m line: $(<"$PW_TMP/once.out")"
done
grep -q 'configuration is valid' "$PW_TMP/agent-check.out" || fail "agent --check-config"
grep -q '^/etc/pipewatch/analyzer.yaml: configuration is valid' "$PW_TMP/analyzer-check.out" ||
    fail "analyzer --check-config: $(<"$PW_TMP/analyzer-check.out")"
grep -q '^usage: pipewatch-train' "$PW_TMP/train-help.out" || fail "pipewatch-train --help"

# Every library they load comes from a package their Depends reach.
for b in pipewatch-agent pipewatch-analyzer pipewatch-train; do
    n=0
    while read -r lib; do
        owner=$(dpkg-query --root="$root" -S "*/${lib##*/}" 2>/dev/null | head -1 | cut -d: -f1) ||
            true
        [[ -n $owner ]] || fail "$b loads $lib, which no package in the root owns"
        grep -qx "$owner" "$PW_TMP/closure" ||
            fail "$b loads $lib from $owner, which its Depends do not reach"
        n=$((n + 1))
    done < <(grep -oE '(=> )?/[^ ]+' "$PW_TMP/libs-$b" | sed 's/^=> //')
    (( n > 1 )) || fail "no libraries traced for $b: $(<"$PW_TMP/libs-$b")"
    info "$b: $n libraries, all from declared packages"
done

# Upgrade keeps the configuration as it was (mode too); removal leaves the
# configuration, the user and the state; purge takes only the conffile.
[[ $(stat -c '%u:%g %a' "$root/etc/pipewatch/agent.yaml") == "0:$gid 640" ]] ||
    fail "the upgrade changed /etc/pipewatch/agent.yaml's mode"
[[ $(tr '\n' ' ' <"$PW_TMP/etc-after-remove") == "agent.yaml analyzer.yaml " ]] ||
    fail "removal touched /etc/pipewatch: $(<"$PW_TMP/etc-after-remove")"
[[ $(tr '\n' ' ' <"$PW_TMP/etc-after-purge") == "agent.yaml " ]] ||
    fail "purge left or took other files in /etc/pipewatch: $(<"$PW_TMP/etc-after-purge")"
[[ ! -e $root/usr/bin/pipewatch-analyzer && -x $root/usr/bin/pipewatch-agent ]] ||
    fail "removing the analyzer did not remove just its files"
grep -q '^pipewatch:' "$root/etc/passwd" && [[ -d $root/var/lib/pipewatch/models ]] ||
    fail "purge took the user or the state directory"

audit=$(dpkg --root="$root" --audit 2>&1) || fail "dpkg --audit: $audit"
[[ -z $audit ]] || fail "dpkg --audit: $audit"
verify=$(dpkg --root="$root" --verify pipewatch-agent 2>&1)
# The configuration files' mode changed on purpose (0640); their content not.
[[ -z $(grep -v ' c /etc/pipewatch/' <<<"$verify") ]] || fail "dpkg --verify: $verify"
if dpkg --root="$root" -r --dry-run librdkafka1 >"$PW_TMP/dry.out" 2>&1; then
    fail "dpkg would remove librdkafka1 under the installed packages"
fi
grep -q 'pipewatch-agent depends on librdkafka1' "$PW_TMP/dry.out" ||
    fail "unexpected dpkg answer: $(<"$PW_TMP/dry.out")"
echo "PASS"
