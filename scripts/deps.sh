#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Installs the Debian packages the project needs, only those missing.
set -euo pipefail

packages=(
    build-essential pkg-config perl curl procps
    nginx-core nginx-dev
    libhiredis-dev libjansson-dev default-libmysqlclient-dev libmicrohttpd-dev
    libsimdjson-dev g++
    redis-server redis-sentinel redis-tools
    mariadb-server mariadb-client libdbd-mariadb-perl
    # MariaDB Galera, the store's high-availability option, and its tests:
    # the provider, and rsync (with ss from iproute2) for state transfers
    galera-4 rsync iproute2
    libtest-base-perl libtext-diff-perl libwww-perl libipc-run-perl
    liblist-moreutils-perl libtest-longstring-perl libredis-perl
    clang libclang-rt-14-dev valgrind wrk apache2-utils prometheus
    # the browser tracker and dashboard: node --test, the size budget
    # (terser), Chart.js served by nginx, the tests in headless Chromium
    nodejs terser libjs-chart.js chromium chromium-driver fonts-dejavu-core
    # Debian packages (make deb) and their install test
    debhelper lintian pandoc logrotate adduser
)

# `deps.sh bench` adds what bench/ needs: the OpenResty peer's modules and
# Node.js with npm for the Node peer (unless a node and npm are there)
if [ "${1:-}" = bench ]; then
    packages+=(libnginx-mod-http-lua lua-nginx-redis)
    command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing+=("$p")
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: not root; install these packages first: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's policy-rc.d may refuse to start services: the project starts its own.
apt-get install -y -qq --no-install-recommends "${missing[@]}"
