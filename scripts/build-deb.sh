#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# `make deb`: the Debian packages (debian/) built from a copy of the
# checkout, so that the build and its clean step never touch the working
# tree; then lintian, which must report no error and no warning.
# Usage: build-deb.sh OUTDIR   (the .deb, .changes and lintian.log land there)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)

version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
source=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Source)
src=$out/src/$source-$version

rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"
# the files git knows plus new ones not ignored: no build output comes
# along (a file deleted but not yet committed is skipped)
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
    tar -cf - --null --no-recursion --ignore-failed-read -T - 2>/dev/null) |
    tar -xf - -C "$src"

if ! (cd "$src" && dpkg-buildpackage -b -us -uc --no-sign) \
        >"$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed; whole log in $out/build.log" >&2
    exit 1
fi
mv "$out/src/"*.deb "$out/src/"*.changes "$out/src/"*.buildinfo "$out/"
rm -rf "$out/src"
ls -1 "$out"/*.deb

# as root (make test) lintian would warn "running with root privileges is
# not recommended" on every run
lintian --allow-root --fail-on error,warning --info \
    "$out/${source}_${version}_$(dpkg --print-architecture).changes" \
    | tee "$out/lintian.log"
