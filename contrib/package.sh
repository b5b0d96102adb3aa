#!/usr/bin/env bash
# Builds the Debian packages pipewatch-agent and pipewatch-analyzer
# (packaging/CMakeLists.txt says what goes into which) with CPack's DEB
# generator, from a clean build directory configured for the prefix /usr:
# the units' ExecStart and the analyzer's data directory are compiled from
# the prefix, so the packages cannot come from a /usr/local build.
#
#   contrib/package.sh [OUT_DIR]     default OUT_DIR: build-package/debs
#
# Environment: PW_PACKAGE_BUILD_DIR (default build-package, removed first),
# PW_PACKAGE_INCREMENTAL=1 keeps that directory and rebuilds only what
# changed (the install test uses it; a release should not).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${PW_PACKAGE_BUILD_DIR:-build-package}
out=${1:-$dir/debs}

./contrib/deps.sh >&2
if [[ -z ${PW_PACKAGE_INCREMENTAL:-} ]]; then
    rm -rf "$dir"
fi
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
      -DPW_WERROR=ON -DPW_SANITIZE=OFF -DPW_FUZZ=OFF >/dev/null
# Only what the packages hold: the tests, benchmarks and development tools
# are not needed for them.
cmake --build "$dir" -j"$(nproc)" --target pipewatch-agent pipewatch-analyzer pipewatch-train >&2
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/pipewatch-*.deb
(cd "$dir" && cpack -G DEB -B "$out") >&2
rm -rf "$out/_CPack_Packages"
for deb in "$out"/pipewatch-*.deb; do
    echo "$deb"
done
