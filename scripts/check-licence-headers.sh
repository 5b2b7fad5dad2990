#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Lists tracked source files without the licence line (README, "Licence"):
# `SPDX-License-Identifier: BSD-2-Clause` on line 1, or line 2 after a
# shebang.  Documents, data, images and debian/ (its copyright file covers
# it) are exempt.  Exit status 1 when a file lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."
tag='SPDX-License-Identifier: BSD-2-Clause'
missing=0
while IFS= read -r f; do
    [ -f "$f" ] || continue
    if ! head -n 2 "$f" | grep -qF "$tag"; then
        echo "no licence line: $f"
        missing=1
    fi
done < <(git ls-files | grep -Ev \
    '(\.md|\.json|\.dict|\.suppress|\.gitignore|\.png|\.html)$|^LICENSE$|^fuzz/corpus/|^debian/')
exit "$missing"
