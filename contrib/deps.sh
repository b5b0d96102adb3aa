#!/usr/bin/env bash
# Installs every Debian package pipewatch needs to build, test and run its demo.
# Idempotent: packages already present are left alone; apt-get update runs only
# when something is missing. Run as root (or through sudo).
# PW_DEPS_FUZZ=1 (contrib/fuzz.sh) adds clang and its libFuzzer runtime; the
# demo and the ordinary checks do not need them.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  librdkafka-dev libstatgrab-dev libgsl-dev libcurl4-openssl-dev check
  libyaml-dev libjansson-dev libsystemd-dev libmicrohttpd-dev libsqlite3-dev libssl-dev libpcre2-dev
  kcat procps curl python3 valgrind openssl
  # packaging: systemd-analyze, -sysusers, -tmpfiles (unit tests); dpkg-shlibdeps
  # and file (CPack DEB), the host runtime that the install test copies
  systemd dpkg-dev file
  python3-numpy python3-sklearn
  chromium
)
if [[ -n ${PW_DEPS_FUZZ:-} ]]; then
  # Debian 12's clang is clang-14; libFuzzer (libclang_rt.fuzzer) and the
  # sanitizer runtimes are in libclang-rt-14-dev, llvm-symbolizer in llvm.
  packages+=(clang libclang-rt-14-dev llvm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: missing ${missing[*]}; run as root" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
