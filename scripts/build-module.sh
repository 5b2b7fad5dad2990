#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds ngx_http_track_module.so against Debian's nginx (nginx-dev), with
# Debian's own configure flags so the module is binary compatible.
# Usage: build-module.sh BUILDDIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(mkdir -p "$1" && cd "$1" && pwd)
src=/usr/share/nginx/src

# shellcheck disable=SC1091
. "$src/conf_flags"

# configure only when the module's config changed (it takes a few seconds)
if [ ! -f "$builddir/Makefile" ] || [ "$root/config" -nt "$builddir/Makefile" ]; then
    (cd "$src" && ./configure "${NGX_CONF_FLAGS[@]}" \
        --add-dynamic-module="$root" --builddir="$builddir" \
        --with-cc-opt="${TRACK_CC_OPT:--g -O2}" >"$builddir/configure.log" 2>&1) || {
        tail -n 30 "$builddir/configure.log" >&2
        exit 1
    }
fi
make -s -f "$builddir/Makefile" -C "$src" modules
