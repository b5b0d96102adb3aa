#!/usr/bin/env bash
# test_packaging_units — the systemd units, sysusers.d and tmpfiles.d files
# of packaging/ are valid, keep their sandbox, and stay at or under the
# exposure the project promises (docs/packaging.md).
#
# Why this way: `systemd-analyze verify` wants the ExecStart binary to exist,
# and the generated units name the installed path (the install prefix). The
# test verifies a copy of each unit whose ExecStart points at the binary in
# the build tree; everything else in the copy is the unit as shipped.
# `systemd-analyze security --offline=yes` scores the same copies (offline:
# no running systemd is needed, as in CI's container). The sysusers.d and
# tmpfiles.d files are applied to a scratch root (--root), which checks
# that they parse and that the state directory ends up owned by the user.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v systemd-analyze >/dev/null || {
    echo "skipped: systemd-analyze is not installed (contrib/deps.sh installs systemd)"
    exit 77
}
MAX_EXPOSURE=2.0

for name in agent analyzer; do
    unit=pipewatch-$name.service
    src=$PW_BUILD_DIR/packaging/$unit
    bin=$PW_BUILD_DIR/pipewatch-$name
    [[ -f $src ]] || fail "no generated unit $src (configure the build)"
    [[ -x $bin ]] || fail "no binary $bin (build target pipewatch-$name)"

    # What the unit must keep, whoever edits it next.
    for line in Type=notify WatchdogSec= Restart=on-failure \
                'ExecReload=/bin/kill -HUP $MAINPID' User=pipewatch Group=pipewatch \
                StateDirectory=pipewatch ConfigurationDirectory=pipewatch UMask=0077 \
                NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes \
                PrivateDevices=yes 'CapabilityBoundingSet=$' \
                SystemCallFilter=@system-service SystemCallArchitectures=native \
                'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX$' \
                MemoryDenyWriteExecute=yes "ExecStart=.*/pipewatch-$name --config /etc/pipewatch/$name.yaml\$"; do
        grep -Eq "^${line//\$MAINPID/\\\$MAINPID}" "$src" || fail "$unit lacks \"$line\""
    done

    sed -E "s|^ExecStart=[^ ]*/pipewatch-$name |ExecStart=$bin |" "$src" >"$PW_TMP/$unit"
    grep -q "^ExecStart=$bin " "$PW_TMP/$unit" || fail "could not point $unit at $bin"
    out=$(systemd-analyze verify "$PW_TMP/$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
    [[ -z $out ]] || fail "systemd-analyze verify $unit warns: $out"

    sec=$(systemd-analyze security --offline=yes "$PW_TMP/$unit" 2>&1) || true
    level=$(sed -nE "s/.*Overall exposure level for $unit: ([0-9.]+).*/\1/p" <<<"$sec")
    [[ -n $level ]] || fail "no exposure level from systemd-analyze security: $sec"
    info "$unit: verify ok, exposure $level (at most $MAX_EXPOSURE)"
    awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l <= m) }' ||
        fail "$unit: exposure $level is above $MAX_EXPOSURE:
$(grep '✗' <<<"$sec")"
done

# sysusers.d then tmpfiles.d, applied to a scratch root as postinst does.
root=$PW_TMP/root
mkdir -p "$root/etc"
: >"$root/etc/passwd"; : >"$root/etc/group"
systemd-sysusers --root="$root" "$PW_SOURCE_DIR/packaging/pipewatch.sysusers.conf" \
    >"$PW_TMP/sysusers.out" 2>&1 || fail "systemd-sysusers: $(<"$PW_TMP/sysusers.out")"
entry=$(grep '^pipewatch:' "$root/etc/passwd") || fail "sysusers created no pipewatch user"
IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
[[ $home == /var/lib/pipewatch && $shell == */nologin ]] ||
    fail "pipewatch user: home $home, shell $shell (want /var/lib/pipewatch, nologin)"
grep -q "^pipewatch:x:$gid:" "$root/etc/group" || fail "no pipewatch group $gid"
(( uid < 1000 )) || fail "pipewatch is not a system user (uid $uid)"
for name in agent analyzer; do
    systemd-tmpfiles --root="$root" --create \
        "$PW_SOURCE_DIR/packaging/pipewatch-$name.tmpfiles.conf" >"$PW_TMP/tmpfiles.out" 2>&1 ||
        fail "systemd-tmpfiles $name: $(<"$PW_TMP/tmpfiles.out")"
done
for d in /var/lib/pipewatch /var/lib/pipewatch/models; do
    [[ $(stat -c '%u:%g %a' "$root$d") == "$uid:$gid 750" ]] ||
        fail "$d is $(stat -c '%u:%g %a' "$root$d"), want $uid:$gid 750"
done
info "sysusers: pipewatch uid $uid; tmpfiles: /var/lib/pipewatch{,/models} 0750"
echo "PASS"
