#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Prints the nginx locations that serve the browser parts from a checkout:
# the tracker (/tracker/), its demo shop (/demo/), the dashboard
# (/dashboard/) and Debian's Chart.js under it.  scripts/run.sh and the
# browser test paste them into their server block, next to /collect and
# /stats/.  Usage: dashboard/nginx-locations.sh [CHECKOUT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
# mime.types in each location: the including http block may lack it, and
# browsers run ES modules only when served as JavaScript
types="include /etc/nginx/mime.types; charset utf-8;"
cat <<EOF
        location = / { return 302 /demo/; }
        location ~ ^/tracker/(track|track\.esm)\.js\$ {
            root $root;
            $types
            add_header Cache-Control no-cache;
        }
        location /demo/ {
            alias $root/tracker/demo/;
            # SPA routes (/demo/deals) are the shop's index page
            try_files \$uri \$uri/ /demo/index.html;
            $types
            add_header Cache-Control no-cache;
        }
        location /dashboard/ {
            alias $root/dashboard/;
            $types
            add_header Cache-Control no-cache;
        }
        location /dashboard/chart.js/ {
            alias /usr/share/javascript/chart.js/;
            $types
        }
EOF
