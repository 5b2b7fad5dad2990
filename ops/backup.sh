#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# ops/backup.sh: back up the closed days of the track database and prove
# that the backup restores.
#
# For each chosen day (a day before today in the consumer's time zone) it
# dumps, with mariadb-dump, the raw table events_YYYYMMDD and the rows of that
# day of the statistics tables (stats_hourly, stats_daily, stats_daily_users,
# stats_user_seen, stats_dead_letters), and all of stats_actions.  Then it computes, on the source, a
# row count and a checksum of every dumped table (only the chosen days' rows
# of the statistics tables), writes them to a manifest, restores the dump
# into a scratch schema on the same server, computes the same figures there
# and compares.  One verdict line per table goes to stderr ("OK" or "FAIL");
# any failure makes the exit status 1.
#
# The checksum is computed by SQL: every row becomes the MD5 of its columns'
# HEX values (NULL marked), and the table's checksum is the BIT_XOR of those
# hashes (in 32-bit pieces) and the SUM of their first piece, so it does not depend on row order or on the storage format.
#
# Output: OUT/<database>-<first day>-<last day>/ holds events.sql,
# stats.sql and MANIFEST (one "table rows checksum" line per table, the
# sha256 of both dump files, the days, the time zone).  Running again for the
# same days rewrites the same directory (files are written beside and
# renamed), so the job is idempotent (other days with the same first and
# last day are refused, not written over it); mariadb-dump runs with
# --skip-dump-date and --order-by-primary, so an unchanged day gives the same
# bytes.
#
# --verify DIR checks an existing backup directory instead: the sha256 of the
# dump files against its MANIFEST, then restores it into the scratch schema
# and compares every table with the MANIFEST (not with the source, which
# retention may have dropped since).
#
# The dump files are loaded by an account this run creates with rights on
# the scratch schema only (dropped at exit): they are SQL, and whoever could
# write the backup could have changed them.  An account that cannot create
# one (a verify-only account) loads unchanged files itself; --restore then
# refuses.  Triggers, routines or events in the scratch schema, or a
# statistics table without a MANIFEST line, fail the check.
#
# --restore DIR does what --verify does and then, when every check passed,
# puts the backed-up days into the database: the day tables that are
# missing there (moved in from the scratch schema, in one RENAME) and those
# days' rows of the statistics tables (replacing the database's rows of
# those days only; counters and memberships are mapped to the database's
# own action numbers through the actions' names, also from a backup whose
# counters hold the names themselves); with --day, only those days of the
# backup.  It refuses, changing nothing, when the database has rows of any
# of those days, a track-consumer has rows of them still to count, or its
# counters still hold the names (a track-consumer's start migrates them).
# Then it compares the database's copy with the backup (what is keyed by
# an action number, through the names), a verdict line per table.
#
# Exit status: 0 every check passed, 1 a check failed, 2 usage or
# connection error, or a restore refused.
#
# Usage: ops/backup.sh [options]
#   --defaults-file FILE   client options file ([client] user, password,
#                          socket or host/port) for dumping and reading
#   --socket PATH          (default $MYSQL_SOCKET)
#   --host HOST            (default $MYSQL_HOST, else localhost)
#   --port PORT            (default $MYSQL_PORT)
#   --user USER            (default $MYSQL_USER)
#                          the password comes from $MYSQL_PASSWORD (never a
#                          flag: flags show in ps)
#   --restore-defaults-file FILE
#                          client options of the account that creates and
#                          drops the scratch schema (track_writer may only
#                          touch track.*); default: the connection above
#   --database NAME        (default $MYSQL_DATABASE, else track)
#   --scratch NAME         scratch schema (default <database>_restore_check);
#                          dropped and recreated every run
#   --keep-scratch         leave the scratch schema after the run
#                          (default: drop it when all checks pass; it is
#                          always kept after a failure, for inspection)
#   --drop-scratch         drop it even after a failure
#   --out DIR              output directory (default ./backups)
#   --days N               the N closed days before today (default 1:
#                          yesterday)
#   --day YYYY-MM-DD       this closed day (repeatable; replaces --days);
#                          with --restore: only this day of the backup
#   --timezone TZ          the consumer's time zone (its `timezone`
#                          setting; default the system's)
#   --verify DIR           check an existing backup directory instead: its
#                          files' sha256 and its tables against MANIFEST
#   --restore DIR          --verify DIR, then restore its days into the
#                          database (with the --restore-defaults-file
#                          account, which needs rights on both schemas and
#                          to create users: MariaDB's root)
#   -h, --help
set -euo pipefail

prog=ops/backup.sh
die() { echo "$prog: $*" >&2; exit 2; }
usage() { sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

defaults_file=
restore_defaults=
socket=
host=
port=
user=
database=${MYSQL_DATABASE:-track}
scratch=
keep=auto
out=./backups
ndays=1
explicit_days=()
tz=${TZ:-}
verify=
restore=

# val "$@": the option in $1 has its value in $2, or a usage error
val() { [ $# -ge 2 ] || die "$1 wants a value (see --help)"; }

while [ $# -gt 0 ]; do
    case $1 in
        --defaults-file) val "$@"; defaults_file=$2; shift ;;
        --defaults-file=*) defaults_file=${1#*=} ;;
        --restore-defaults-file) val "$@"; restore_defaults=$2; shift ;;
        --restore-defaults-file=*) restore_defaults=${1#*=} ;;
        --socket) val "$@"; socket=$2; shift ;;
        --socket=*) socket=${1#*=} ;;
        --host) val "$@"; host=$2; shift ;;
        --host=*) host=${1#*=} ;;
        --port) val "$@"; port=$2; shift ;;
        --port=*) port=${1#*=} ;;
        --user) val "$@"; user=$2; shift ;;
        --user=*) user=${1#*=} ;;
        --database) val "$@"; database=$2; shift ;;
        --database=*) database=${1#*=} ;;
        --scratch) val "$@"; scratch=$2; shift ;;
        --scratch=*) scratch=${1#*=} ;;
        --keep-scratch) keep=yes ;;
        --drop-scratch) keep=no ;;
        --out) val "$@"; out=$2; shift ;;
        --out=*) out=${1#*=} ;;
        --days) val "$@"; ndays=$2; shift ;;
        --days=*) ndays=${1#*=} ;;
        --day) val "$@"; explicit_days+=("$2"); shift ;;
        --day=*) explicit_days+=("${1#*=}") ;;
        --timezone) val "$@"; tz=$2; shift ;;
        --timezone=*) tz=${1#*=} ;;
        --verify) val "$@"; verify=$2; shift ;;
        --verify=*) verify=${1#*=} ;;
        --restore) val "$@"; restore=$2; shift ;;
        --restore=*) restore=${1#*=} ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

if [ -n "$restore" ]; then
    [ -z "$verify" ] || die "--verify and --restore are one or the other"
    verify=$restore
fi

# Without --defaults-file the consumer's MYSQL_* variables (run/env) are the
# connection; with it, only flags given here override the file.
password=
if [ -z "$defaults_file" ]; then
    socket=${socket:-${MYSQL_SOCKET:-}}
    host=${host:-${MYSQL_HOST:-}}
    port=${port:-${MYSQL_PORT:-}}
    user=${user:-${MYSQL_USER:-}}
    password=${MYSQL_PASSWORD:-}
    # a port alone means TCP; a socket alone (or both, as in run/env) means
    # the socket on localhost
    [ -z "$host" ] && [ -z "$socket" ] && [ -n "$port" ] && host=127.0.0.1
fi

ident='^[A-Za-z0-9_]+$'
[[ $database =~ $ident ]] || die "bad database name: $database"
scratch=${scratch:-${database}_restore_check}
[[ $scratch =~ $ident ]] || die "bad scratch schema name: $scratch"
[ "$scratch" != "$database" ] || die "the scratch schema must not be the database"
[[ $ndays =~ ^[1-9][0-9]*$ ]] || die "--days wants a positive number"
# date(1) takes an unknown zone for UTC without a word: a typo would move
# the line between closed and open days
[ -z "$tz" ] || { [[ $tz =~ ^[A-Za-z0-9_+/-]+$ ]] && [[ $tz != *..* ]] &&
                  [ -f "/usr/share/zoneinfo/$tz" ]; } ||
    die "unknown time zone: $tz (a name under /usr/share/zoneinfo)"
command -v mariadb >/dev/null || die "mariadb client not found (apt-get install mariadb-client)"
command -v mariadb-dump >/dev/null || die "mariadb-dump not found (apt-get install mariadb-client)"

work=$(mktemp -d "${TMPDIR:-/tmp}/track-backup.XXXXXX")
loader=
cleanup() {
    if [ -n "$loader" ]; then
        qr -e "DROP USER IF EXISTS '$loader'@'localhost', '$loader'@'%'" \
            2>/dev/null || echo "$prog: could not drop the account $loader" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Client options: a private defaults file, so the password is not a flag.
cnf=$work/client.cnf
(
    umask 077
    if [ -n "$defaults_file" ]; then
        [ -r "$defaults_file" ] || die "cannot read $defaults_file"
        cat "$defaults_file"
        echo
    fi
    echo "[client]"
    [ -n "$user" ] && echo "user=$user"
    [ -n "$password" ] && echo "password=$password"
    [ -n "$socket" ] && echo "socket=$socket"
    [ -n "$host" ] && echo "host=$host"
    [ -n "$port" ] && echo "port=$port"
    echo "default-character-set=utf8mb4"
) >"$cnf"
src_opts=(--defaults-file="$cnf")
if [ -n "$restore_defaults" ]; then
    [ -r "$restore_defaults" ] || die "cannot read $restore_defaults"
    rst_opts=(--defaults-file="$restore_defaults")
else
    rst_opts=("${src_opts[@]}")
fi

q() { mariadb "${src_opts[@]}" --batch --skip-column-names "$@"; }
qr() { mariadb "${rst_opts[@]}" --batch --skip-column-names "$@"; }

# --verify reads only the backup and the scratch schema: no source needed
if [ -z "$verify" ]; then
    q -e 'SELECT 1' >/dev/null 2>"$work/err" ||
        die "cannot connect: $(tr '\n' ' ' <"$work/err")"
fi
qr -e 'SELECT 1' >/dev/null 2>"$work/err" ||
    die "cannot connect with the restore account: $(tr '\n' ' ' <"$work/err")"

stats_tables=(stats_hourly stats_daily stats_daily_users stats_user_seen stats_dead_letters)
# those keyed by a number of stats_actions: a restore maps them to the
# database's numbers, through the names
action_tables=(stats_hourly stats_daily stats_user_seen)

# checksum DB TABLE WHERE OPTS...: prints "rows checksum" of TABLE's rows
# matching WHERE, columns in the source's order.
checksum() {
    local db=$1 table=$2 where=$3; shift 3
    local cols
    cols=$("$@" -e "SELECT GROUP_CONCAT(CONCAT('IFNULL(HEX(\`', COLUMN_NAME, '\`),''N'')')
                   ORDER BY ORDINAL_POSITION SEPARATOR ',')
                 FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA='$db' AND TABLE_NAME='$table'" 2>/dev/null)
    if [ -z "$cols" ] || [ "$cols" = NULL ]; then
        echo "missing -"
        return
    fi
    "$@" -e "SELECT COUNT(*), CONCAT_WS('-',
               LPAD(HEX(IFNULL(BIT_XOR(CAST(CONV(SUBSTR(h,  1, 8), 16, 10) AS UNSIGNED)), 0)), 8, '0'),
               LPAD(HEX(IFNULL(BIT_XOR(CAST(CONV(SUBSTR(h,  9, 8), 16, 10) AS UNSIGNED)), 0)), 8, '0'),
               LPAD(HEX(IFNULL(BIT_XOR(CAST(CONV(SUBSTR(h, 17, 8), 16, 10) AS UNSIGNED)), 0)), 8, '0'),
               LPAD(HEX(IFNULL(BIT_XOR(CAST(CONV(SUBSTR(h, 25, 8), 16, 10) AS UNSIGNED)), 0)), 8, '0'),
               IFNULL(SUM(CAST(CONV(SUBSTR(h, 1, 8), 16, 10) AS UNSIGNED)), 0))
             FROM (SELECT MD5(CONCAT_WS('|', $cols)) AS h
                     FROM \`$db\`.\`$table\` WHERE $where) r" 2>>"$work/err" ||
        echo "error -"
}

# --- which days --------------------------------------------------------------

if [ -n "$verify" ]; then
    [ -f "$verify/MANIFEST" ] || die "no MANIFEST in $verify"
    dir=$verify
    read -r -a days <<<"$(sed -n 's/^days //p' "$dir/MANIFEST")"
    [ "${#days[@]}" -gt 0 ] || die "$dir/MANIFEST names no days"
    # the MANIFEST's words go into SQL: only days, known tables and the
    # two dump files' sums, else the backup is not read at all
    for d in "${days[@]}"; do
        if ! [[ $d =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || ! date -d "$d" >/dev/null 2>&1; then
            die "$dir/MANIFEST: bad day: $d"
        fi
    done
    while read -r _ t _; do
        [[ $t =~ ^(events_[0-9]{8}|stats_(hourly|daily|daily_users|user_seen|dead_letters|actions))$ ]] ||
            die "$dir/MANIFEST: unknown table: $t"
    done < <(grep '^table ' "$dir/MANIFEST")
    if [ "$(grep -c '^sha256 [0-9a-f]\{64\}  *events\.sql$' "$dir/MANIFEST")" != 1 ] ||
        [ "$(grep -c '^sha256 [0-9a-f]\{64\}  *stats\.sql$' "$dir/MANIFEST")" != 1 ] ||
        [ "$(grep -c '^sha256 ' "$dir/MANIFEST")" != 2 ]; then
        die "$dir/MANIFEST: not one sha256 line for each of events.sql and stats.sql"
    fi
else
    if [ -n "$tz" ]; then today=$(TZ=$tz date +%F); else today=$(date +%F); fi
    days=()
    if [ "${#explicit_days[@]}" -gt 0 ]; then
        for d in "${explicit_days[@]}"; do
            if ! [[ $d =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || ! date -d "$d" >/dev/null 2>&1; then
                die "bad day: $d"
            fi
            [[ $d < $today ]] || die "$d is not closed yet (today is $today${tz:+ in $tz})"
            days+=("$d")
        done
        mapfile -t days < <(printf '%s\n' "${days[@]}" | sort -u)
    else
        for ((i = ndays; i >= 1; i--)); do
            days+=("$(date -d "$today -$i day" +%F)")
        done
    fi
    dir=$out/$database-${days[0]//-/}-${days[-1]//-/}
    # the name holds the first and last day only: another set of days
    # with the same ends must not replace that backup
    if [ -f "$dir/MANIFEST" ]; then
        [ "$(sed -n 's/^days //p' "$dir/MANIFEST")" = "${days[*]}" ] ||
            die "$dir holds a backup of other days ($(sed -n 's/^days //p' "$dir/MANIFEST")): move it away or choose another --out"
    fi
    mkdir -p "$dir"
fi
dir=$(cd "$dir" && pwd)
day_list=$(printf "'%s'," "${days[@]}"); day_list=${day_list%,}

# the days --restore puts back: --day picks some of the backup's
rdays=("${days[@]}")
if [ -n "$verify" ] && [ "${#explicit_days[@]}" -gt 0 ]; then
    [ -n "$restore" ] || die "--day with --verify: a backup is verified whole"
    mapfile -t rdays < <(printf '%s\n' "${explicit_days[@]}" | sort -u)
    for d in "${rdays[@]}"; do
        [[ " ${days[*]} " == *" $d "* ]] ||
            die "$d is not a day of the backup in $dir (${days[*]})"
    done
fi
rday_list=$(printf "'%s'," "${rdays[@]}"); rday_list=${rday_list%,}

# --- dump ----------------------------------------------------------------------

if [ -z "$verify" ]; then
    # rows of these days the consumers' roll-up has not counted yet would
    # leave their statistics short in the dump: wait (they take < 1 s)
    pending=1
    for _ in $(seq 1 100); do
        pending=$(q -e "SELECT COUNT(*) FROM information_schema.TABLES
                        WHERE TABLE_SCHEMA='$database'
                        AND TABLE_NAME='stats_pending'")
        [ "$pending" = 1 ] || { pending=0; break; }
        pending=$(q -e "SELECT COUNT(*) FROM \`$database\`.stats_pending
                        WHERE day IN ($day_list)")
        [ "$pending" = 0 ] && break
        sleep 0.1
    done
    [ "$pending" = 0 ] ||
        die "$pending ranges of these days are not counted in the statistics yet after 10 s (is a track-consumer running?)"
    day_tables=()
    for d in "${days[@]}"; do
        t=events_${d//-/}
        n=$(q -e "SELECT COUNT(*) FROM information_schema.TABLES
                  WHERE TABLE_SCHEMA='$database' AND TABLE_NAME='$t'")
        if [ "$n" = 1 ]; then
            day_tables+=("$t")
        else
            echo "$prog: note: no table $t (no events that day)" >&2
        fi
    done
    dump_opts=(--single-transaction --skip-dump-date --order-by-primary
               --hex-blob --no-tablespaces --skip-triggers
               --default-character-set=utf8mb4)
    if [ "${#day_tables[@]}" -gt 0 ]; then
        mariadb-dump "${src_opts[@]}" "${dump_opts[@]}" "$database" \
            "${day_tables[@]}" >"$dir/events.sql.tmp" 2>"$work/err" ||
            die "mariadb-dump of the day tables failed: $(tr '\n' ' ' <"$work/err")"
    else
        : >"$dir/events.sql.tmp"
    fi
    mariadb-dump "${src_opts[@]}" "${dump_opts[@]}" --where="day IN ($day_list)" \
        "$database" "${stats_tables[@]}" >"$dir/stats.sql.tmp" 2>"$work/err" ||
        die "mariadb-dump of the statistics tables failed: $(tr '\n' ' ' <"$work/err")"
    # the numbers the counters' and memberships' action_id refer to: every
    # row (few, never deleted), so they restore with their meaning
    mariadb-dump "${src_opts[@]}" "${dump_opts[@]}" "$database" stats_actions \
        >>"$dir/stats.sql.tmp" 2>"$work/err" ||
        die "mariadb-dump of stats_actions failed: $(tr '\n' ' ' <"$work/err")"
    mv "$dir/events.sql.tmp" "$dir/events.sql"
    mv "$dir/stats.sql.tmp" "$dir/stats.sql"

    {
        echo "# track backup manifest; written by $prog"
        echo "database $database"
        echo "days ${days[*]}"
        echo "timezone ${tz:-system}"
        echo "created $(date -u +%FT%TZ)"
        (cd "$dir" && sha256sum events.sql stats.sql) | sed 's/^/sha256 /'
        for t in "${day_tables[@]}"; do
            echo "table $t $(checksum "$database" "$t" 1 q)"
        done
        for t in "${stats_tables[@]}"; do
            echo "table $t $(checksum "$database" "$t" "day IN ($day_list)" q)"
        done
        echo "table stats_actions $(checksum "$database" stats_actions 1 q)"
    } >"$dir/MANIFEST.tmp"
    mv "$dir/MANIFEST.tmp" "$dir/MANIFEST"
fi

# --- restore and compare -----------------------------------------------------

fail=0
verdict() { # STATUS TABLE TEXT
    if [ "$1" = OK ]; then
        echo "OK   $2: $3" >&2
    else
        echo "FAIL $2: $3" >&2
        fail=1
    fi
}

while read -r _ sum file; do
    actual=$(cd "$dir" && sha256sum "$file" 2>/dev/null | cut -d' ' -f1) || actual=missing
    if [ "$sum" = "$actual" ]; then
        verdict OK "$file" "sha256 matches the manifest"
    else
        verdict FAIL "$file" "sha256 ${actual:-missing} differs from the manifest's $sum (dump file changed or damaged)"
    fi
done < <(grep '^sha256 ' "$dir/MANIFEST")

qr -e "DROP DATABASE IF EXISTS \`$scratch\`; CREATE DATABASE \`$scratch\` CHARACTER SET utf8mb4" \
    2>"$work/err" || die "cannot create the scratch schema $scratch: $(tr '\n' ' ' <"$work/err")"

# A dump file is SQL, and whoever could write the backup could have
# changed it: it runs under an account of this run's own with rights on
# the scratch schema only, never with the restore account's, and in the
# client's sandbox mode (no shell, no files).
load_opts=()
name=track_restore_$$_$RANDOM
lpw=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
# what a dump of tables needs, no routines, views, triggers or events;
# `_` is a wildcard in a GRANT's schema name
loader=$name
if qr -e "CREATE USER '$name'@'localhost' IDENTIFIED BY '$lpw';
          CREATE USER '$name'@'%' IDENTIFIED BY '$lpw';
          GRANT CREATE, DROP, ALTER, INDEX, INSERT, SELECT, LOCK TABLES
              ON \`${scratch//_/\\_}\`.* TO '$name'@'localhost', '$name'@'%'" \
        2>"$work/err"; then
    (
        umask 077
        if [ -n "$restore_defaults" ]; then cat "$restore_defaults"; else cat "$cnf"; fi
        printf '\n[client]\nuser=%s\npassword=%s\n' "$loader" "$lpw"
    ) >"$work/loader.cnf"
    load_opts=(--defaults-file="$work/loader.cnf")
else
    qr -e "DROP USER IF EXISTS '$name'@'localhost', '$name'@'%'" 2>/dev/null || true
    loader=
    if [ "$fail" = 0 ] && [ -z "$restore" ]; then
    # an account that cannot make one (a verify-only account on the
    # scratch schema) loads unchanged files itself
    load_opts=("${rst_opts[@]}")
    fi
fi

restored=1
if [ "${#load_opts[@]}" = 0 ]; then
    verdict FAIL "scratch" "dump files not loaded: $( [ "$fail" = 0 ] &&
        echo "--restore loads them only through an account of its own, and the restore account cannot create one ($(tr '\n' ' ' <"$work/err"))" ||
        echo "they changed since the backup, and the restore account cannot create a scratch-only account to load them with")"
    restored=0
fi
for f in events.sql stats.sql; do
    if [ "$restored" = 0 ] || [ ! -f "$dir/$f" ]; then
        continue
    fi
    # --sandbox: the client's own commands (\! runs a shell) are refused
    # --local-infile=0: no LOAD DATA LOCAL of this host's files
    if ! mariadb "${load_opts[@]}" --batch --sandbox --local-infile=0 \
            "$scratch" <"$dir/$f" >/dev/null 2>"$work/err"; then
        verdict FAIL "$f" "restore into $scratch failed: $(tr '\n' ' ' <"$work/err")"
        restored=0
    fi
done

# the dumps are written without triggers or routines: any found came from
# a changed file, and a trigger would move into the database with its table
n=$(qr -e "SELECT (SELECT COUNT(*) FROM information_schema.TABLES
                   WHERE TABLE_SCHEMA='$scratch' AND TABLE_TYPE <> 'BASE TABLE')
                + (SELECT COUNT(*) FROM information_schema.TRIGGERS
                   WHERE TRIGGER_SCHEMA='$scratch')
                + (SELECT COUNT(*) FROM information_schema.ROUTINES
                   WHERE ROUTINE_SCHEMA='$scratch')
                + (SELECT COUNT(*) FROM information_schema.EVENTS
                   WHERE EVENT_SCHEMA='$scratch')" 2>>"$work/err") || n=error
if [ "$n" != 0 ]; then
    # stop before anything reads the scratch schema: a view could call
    # code with the reader's rights
    echo "FAIL $scratch: the dump files made $n views, triggers, routines or events, which no backup holds" >&2
    qr -e "DROP DATABASE IF EXISTS \`$scratch\`" || true
    echo "$prog: BACKUP CHECK FAILED for $database days ${days[*]} in $dir (see FAIL lines above)" >&2
    exit 1
fi

# every statistics table has its manifest line: one deleted would go unchecked
for t in "${stats_tables[@]}" stats_actions; do
    grep -q "^table $t " "$dir/MANIFEST" ||
        verdict FAIL "$t" "the manifest has no line for it"
done

# the scratch copy is read with the restore account
while read -r _ t rows sum; do
    where=1
    case $t in
        stats_actions) ;;
        stats_*) where="day IN ($day_list)" ;;
    esac
    read -r grows gsum <<<"$(checksum "$scratch" "$t" "$where" qr)"
    if [ "$rows" = missing ] || [ "$rows" = error ]; then
        verdict FAIL "$t" "the source could not be read when the manifest was written"
    elif [ "$grows" != "$rows" ]; then
        verdict FAIL "$t" "restored copy has $grows rows, the source had $rows"
    elif [ "$gsum" != "$sum" ]; then
        verdict FAIL "$t" "restored copy's checksum $gsum differs from the source's $sum ($rows rows)"
    else
        verdict OK "$t" "$rows rows, checksum $sum"
    fi
done < <(grep '^table ' "$dir/MANIFEST")

# --- restore into the database (--restore) -------------------------------

# in_db SQL: one value from the database, read with the restore account
in_db() { qr -e "$1" 2>>"$work/err"; }

# refuse TEXT: a restore refused, nothing changed in $database: exit 2
# (the scratch schema is a full copy of the backup: dropped unless kept)
refuse() {
    if [ "$keep" = yes ]; then
        echo "$prog: scratch schema $scratch kept" >&2
    else
        qr -e "DROP DATABASE IF EXISTS \`$scratch\`" || true
    fi
    die "$1; nothing restored"
}

# restored_verdict TABLE ROWS SUM GOT_ROWS GOT_SUM: the database's copy of
# TABLE against the backup's figures
restored_verdict() {
    if [ "$4" != "$2" ] || [ "$5" != "$3" ]; then
        verdict FAIL "$1" "restored into $database: $4 rows, checksum $5; the backup's: $2, $3"
    else
        verdict OK "$1" "restored into $database: $2 rows"
    fi
}

# other_cols TABLE: the columns of $database's TABLE besides action_id,
# one line
other_cols() {
    in_db "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION SEPARATOR ' ')
           FROM information_schema.COLUMNS
           WHERE TABLE_SCHEMA='$database' AND TABLE_NAME='$1'
           AND COLUMN_NAME <> 'action_id'" ||
        die "cannot read the columns of $database.$1: $(tr '\n' ' ' <"$work/err")"
}

# named SCHEMA TABLE: a table expression of TABLE's rows in SCHEMA with
# their action's names (app, module, action) besides their own columns:
# joined to SCHEMA's own stats_actions, or as they are in a backup of the
# first layout (counters keyed by the names, no action_id)
named() {
    local n
    n=$(in_db "SELECT COUNT(*) FROM information_schema.COLUMNS
               WHERE TABLE_SCHEMA='$1' AND TABLE_NAME='$2'
               AND COLUMN_NAME='action_id'") ||
        die "cannot read the columns of $1.$2: $(tr '\n' ' ' <"$work/err")"
    if [ "$n" = 1 ]; then
        echo "(SELECT n.app, n.module, n.action, c.* FROM \`$1\`.\`$2\` c
               JOIN \`$1\`.stats_actions n ON n.id = c.action_id)"
    else
        echo "\`$1\`.\`$2\`"
    fi
}

# restore_named TABLE: appends to $stmt the SQL replacing the restored
# days' rows of TABLE in $database with the scratch copy's, each under the
# database's number of its action (added to its stats_actions if missing:
# a backup of the first layout has some names only in its counters)
restore_named() {
    local t=$1 c into="" sel="" line cols from
    line=$(other_cols "$t")
    read -r -a cols <<<"$line"
    for c in "${cols[@]}"; do into+=", \`$c\`"; sel+=", r.\`$c\`"; done
    from=$(named "$scratch" "$t")
    stmt+="INSERT IGNORE INTO \`$database\`.stats_actions (app, module, action)
              SELECT DISTINCT app, module, action FROM $from r
              WHERE r.day IN ($rday_list);
          DELETE FROM \`$database\`.\`$t\` WHERE day IN ($rday_list);
          INSERT INTO \`$database\`.\`$t\` (action_id$into)
              SELECT a.id$sel FROM $from r
              JOIN \`$database\`.stats_actions a
                  ON (a.app, a.module, a.action) = (r.app, r.module, r.action)
              WHERE r.day IN ($rday_list);"
}

# restored_named TABLE: the database's TABLE against the checked scratch
# copy of the restored days, through the names (the numbers may differ):
# as many rows, and each of the copy's rows there with the same names and
# the same values in every other column
restored_named() {
    local t=$1 c on="" line cols from_s from_d rows grows misses
    line=$(other_cols "$t")
    read -r -a cols <<<"$line"
    for c in app module action "${cols[@]}"; do
        on+="${on:+ AND }d.\`$c\` = s.\`$c\`"
    done
    from_s=$(named "$scratch" "$t")
    from_d=$(named "$database" "$t")
    read -r rows grows misses <<<"$(in_db "SELECT
        (SELECT COUNT(*) FROM \`$scratch\`.\`$t\` WHERE day IN ($rday_list)),
        (SELECT COUNT(*) FROM \`$database\`.\`$t\` WHERE day IN ($rday_list)),
        (SELECT COUNT(*) FROM $from_s s LEFT JOIN $from_d d ON $on
             WHERE s.day IN ($rday_list) AND d.action_id IS NULL)")"
    if [ -z "$misses" ]; then
        verdict FAIL "$t" "restored into $database, but not compared: $(tail -n 1 "$work/err")"
    elif [ "$grows" != "$rows" ] || [ "$misses" != 0 ]; then
        verdict FAIL "$t" "restored into $database: $grows rows, $misses of the backup's $rows rows not there with their action's names and values"
    else
        verdict OK "$t" "restored into $database: $rows rows, by their action's names"
    fi
}

# restore_days: the checked scratch copy's days into $database, or exit 2
# with nothing changed
restore_days() {
    local d t n backed_up drops="" renames="" raises=""
    [ "$(in_db "SELECT COUNT(*) FROM information_schema.TABLES
               WHERE TABLE_SCHEMA='$database' AND TABLE_NAME='stats_daily'")" = 1 ] ||
        refuse "$database has no statistics tables: start a track-consumer on it once (it applies sql/schema.sql), then restore"
    # rows go in under the database's action numbers: counters still keyed
    # by the names are migrated when a track-consumer starts
    n=$(printf "'%s'," "${action_tables[@]}")
    [ "$(in_db "SELECT COUNT(*) FROM information_schema.COLUMNS
               WHERE TABLE_SCHEMA='$database' AND TABLE_NAME IN (${n%,})
               AND COLUMN_NAME='action_id'")" = "${#action_tables[@]}" ] ||
        refuse "the statistics tables of $database have an older layout: start a track-consumer of this version on it once (it migrates them), then restore"
    n=$(in_db "SELECT COUNT(*) FROM \`$database\`.stats_pending WHERE day IN ($rday_list)")
    [ "$n" = 0 ] ||
        refuse "a track-consumer still has $n ranges of these days to count in $database: restore once they are counted (a running track-consumer does so within seconds; start one if none runs)"
    # every day to restore first, with a day table in the backup or not:
    # its statistics are replaced, so rows the database has of it would
    # lose theirs; a refusal changes nothing
    for d in "${rdays[@]}"; do
        t=events_${d//-/}
        backed_up=0
        if grep -q "^table $t " "$dir/MANIFEST"; then
            backed_up=1
            renames+="${renames:+, }\`$scratch\`.\`$t\` TO \`$database\`.\`$t\`"
            raises+="UPDATE \`$database\`.track_ids SET next_id = GREATEST(next_id,
                     (SELECT COALESCE(MAX(id), 0) + 1 FROM \`$database\`.\`$t\`))
                     WHERE name = 'events';"
        fi
        n=$(in_db "SELECT COUNT(*) FROM information_schema.TABLES
                   WHERE TABLE_SCHEMA='$database' AND TABLE_NAME='$t'")
        [ "$n" = 1 ] || continue
        n=$(in_db "SELECT COUNT(*) FROM \`$database\`.\`$t\`")
        [ "$n" = 0 ] ||
            refuse "$database.$t exists with $n rows: a restore only brings back missing days (to replace it, drop it first)"
        [ "$backed_up" = 0 ] || drops+="DROP TABLE \`$database\`.\`$t\`;"
    done

    # the days' statistics replaced in one transaction; counters and
    # memberships carry the database's own numbers of their actions
    stmt="START TRANSACTION;
          INSERT IGNORE INTO \`$database\`.stats_actions (app, module, action)
              SELECT app, module, action FROM \`$scratch\`.stats_actions;"
    for t in stats_daily_users stats_dead_letters; do
        stmt+="DELETE FROM \`$database\`.$t WHERE day IN ($rday_list);
               INSERT INTO \`$database\`.$t SELECT * FROM \`$scratch\`.$t
                   WHERE day IN ($rday_list);"
    done
    for t in "${action_tables[@]}"; do
        restore_named "$t"
    done
    stmt+="COMMIT;"
    # statistics first, then every day table in one RENAME (all or none):
    # should the tables not move, a second run finds them still missing and
    # redoes both
    [ -z "$renames" ] || stmt+="${drops}RENAME TABLE $renames;$raises"
    qr -e "$stmt" 2>"$work/err" ||
        die "restoring into $database failed: $(tr '\n' ' ' <"$work/err"); run the same --restore again once that is mended"

    # the database's copy: day tables against the MANIFEST, statistics
    # against the checked scratch copy of the same days (those keyed by an
    # action number through the names: the numbers are the database's)
    for t in "${stats_tables[@]}"; do
        if [[ " ${action_tables[*]} " == *" $t "* ]]; then
            restored_named "$t"
            continue
        fi
        read -r rows sum <<<"$(checksum "$scratch" "$t" "day IN ($rday_list)" qr)"
        read -r grows gsum <<<"$(checksum "$database" "$t" "day IN ($rday_list)" qr)"
        restored_verdict "$t" "$rows" "$sum" "$grows" "$gsum"
    done
    for d in "${rdays[@]}"; do
        t=events_${d//-/}
        read -r rows sum <<<"$(sed -n "s/^table $t //p" "$dir/MANIFEST")"
        [ -n "$rows" ] || continue
        read -r grows gsum <<<"$(checksum "$database" "$t" 1 qr)"
        restored_verdict "$t" "$rows" "$sum" "$grows" "$gsum"
    done
}

if [ -n "$restore" ] && [ "$fail" = 0 ] && [ "$restored" = 1 ]; then
    restore_days
fi

if [ "$keep" = no ] || { [ "$keep" = auto ] && [ "$fail" = 0 ]; }; then
    qr -e "DROP DATABASE IF EXISTS \`$scratch\`" || true
else
    echo "$prog: scratch schema $scratch kept" >&2
fi

if [ "$fail" != 0 ]; then
    echo "$prog: BACKUP CHECK FAILED for $database days ${days[*]} in $dir (see FAIL lines above)" >&2
    exit 1
fi
[ "$restored" = 1 ] || exit 1
if [ -n "$restore" ]; then
    echo "$prog: backup $dir verified and its days ${rdays[*]} restored into $database" >&2
else
    echo "$prog: backup of $database days ${days[*]} verified: $dir" >&2
fi
