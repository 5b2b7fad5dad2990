-- SPDX-License-Identifier: BSD-2-Clause
-- Fixed tables of the track database: statistics and consumer bookkeeping.
--
-- Applied idempotently at every start of track-consumer (the file is compiled
-- into the binary) and by start_mariadb in scripts/lib/services.sh.  Day
-- tables of raw events come from events_day.sql.
--
-- Text columns that identify something (app, module, action, object, uid)
-- use utf8mb4_nopad_bin: values compare byte for byte, so 'A' <> 'a' and
-- 'x' <> 'x ' (a PAD SPACE or case-insensitive collation would merge them).

-- The (app, module, action) triples of the statistics, numbered once: a
-- counter or membership row holds the number, not the three strings again
-- (a shorter key in every B-tree: the counters' upserts 6-29 % faster,
-- bench/README.md).  Only the roll-up and the migrations below add rows;
-- none are deleted, so a number never changes.
CREATE TABLE IF NOT EXISTS stats_actions (
    id      INT UNSIGNED     NOT NULL AUTO_INCREMENT,
    app     VARCHAR(128)     NOT NULL,
    module  VARCHAR(128)     NOT NULL,
    action  VARCHAR(128)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY by_name (app, module, action)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
-- Migrations from counters and memberships keyed by the three strings (a
-- column `app`): such a table is renamed *_v1 here, copied into the new one
-- through stats_actions below, then dropped.  Every step checks first, so
-- a start interrupted half-way finishes it; the lock keeps a second
-- consumer starting at the same time from dropping an old table before the
-- first one copied it.  GET_LOCK is local to a Galera node, so a check may
-- be stale by the time its rename runs: the rename names the column `app`,
-- and fails (the start is retried) on a table another node already made
-- new, instead of renaming it away with the counts copied into it.
DO GET_LOCK(CONCAT('track-schema:', DATABASE()), 600)
;
SET @track_migration = (
    SELECT IF(COUNT(*) = 0, 'DO 0',
              'ALTER TABLE stats_hourly RENAME COLUMN app TO app,
               RENAME TO stats_hourly_v1')
    FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'stats_hourly'
    AND column_name = 'app')
;
EXECUTE IMMEDIATE @track_migration
;
SET @track_migration = (
    SELECT IF(COUNT(*) = 0, 'DO 0',
              'ALTER TABLE stats_daily RENAME COLUMN app TO app,
               RENAME TO stats_daily_v1')
    FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'stats_daily'
    AND column_name = 'app')
;
EXECUTE IMMEDIATE @track_migration
;
-- Event counts per hour of the consumer's time zone, per action number
-- (stats_actions.id).  The primary key serves series for one object;
-- by_action serves series over all objects of an action (sum over objects
-- for an hour range).
CREATE TABLE IF NOT EXISTS stats_hourly (
    action_id INT UNSIGNED     NOT NULL,
    object    VARCHAR(128)     NOT NULL DEFAULT '',
    day       DATE             NOT NULL,
    hour      TINYINT UNSIGNED NOT NULL,
    events    BIGINT UNSIGNED  NOT NULL,
    PRIMARY KEY (action_id, object, day, hour),
    KEY by_action (action_id, day, hour)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
-- Event counts per day.  The primary key puts a day's objects of an action
-- side by side: top objects of an action on a day, daily totals over a date
-- range and the breakdown of an app read one range of it; by_object serves
-- series for one object.  No index holds `events`: every upsert would move
-- an index entry (about a third of the counters' cost in MariaDB).
CREATE TABLE IF NOT EXISTS stats_daily (
    action_id INT UNSIGNED     NOT NULL,
    day       DATE             NOT NULL,
    object    VARCHAR(128)     NOT NULL DEFAULT '',
    events    BIGINT UNSIGNED  NOT NULL,
    PRIMARY KEY (action_id, day, object),
    KEY by_object (action_id, object, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
SET @track_migration = (
    SELECT IF(COUNT(*) = 0, 'DO 0',
              'INSERT IGNORE INTO stats_actions (app, module, action)
               SELECT DISTINCT app, module, action FROM stats_hourly_v1')
    FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = 'stats_hourly_v1')
;
EXECUTE IMMEDIATE @track_migration
;
SET @track_migration = (
    SELECT IF(COUNT(*) = 0, 'DO 0',
              'INSERT IGNORE INTO stats_hourly (action_id, object, day, hour, events)
               SELECT a.id, v.object, v.day, v.hour, v.events FROM stats_hourly_v1 v
               JOIN stats_actions a USING (app, module, action)')
    FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = 'stats_hourly_v1')
;
EXECUTE IMMEDIATE @track_migration
;
DROP TABLE IF EXISTS stats_hourly_v1
;
SET @track_migration = (
    SELECT IF(COUNT(*) = 0, 'DO 0',
              'INSERT IGNORE INTO stats_actions (app, module, action)
               SELECT DISTINCT app, module, action FROM stats_daily_v1')
    FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = 'stats_daily_v1')
;
EXECUTE IMMEDIATE @track_migration
;
SET @track_migration = (
    SELECT IF(COUNT(*) = 0, 'DO 0',
              'INSERT IGNORE INTO stats_daily (action_id, day, object, events)
               SELECT a.id, v.day, v.object, v.events FROM stats_daily_v1 v
               JOIN stats_actions a USING (app, module, action)')
    FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = 'stats_daily_v1')
;
EXECUTE IMMEDIATE @track_migration
;
DROP TABLE IF EXISTS stats_daily_v1
;
-- Distinct non-empty uids per day and action; kept exact with the membership
-- table below.
CREATE TABLE IF NOT EXISTS stats_daily_users (
    day     DATE             NOT NULL,
    app     VARCHAR(128)     NOT NULL,
    module  VARCHAR(128)     NOT NULL,
    action  VARCHAR(128)     NOT NULL,
    users   BIGINT UNSIGNED  NOT NULL,
    PRIMARY KEY (app, module, action, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
SET @track_migration = (
    SELECT IF(COUNT(*) = 0, 'DO 0',
              'ALTER TABLE stats_user_seen RENAME COLUMN app TO app,
               RENAME TO stats_user_seen_v1')
    FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'stats_user_seen'
    AND column_name = 'app')
;
EXECUTE IMMEDIATE @track_migration
;
-- Which uids were seen on a day for an action (stats_actions.id).  The
-- roll-up inserts a window's uids with INSERT IGNORE; the affected row
-- count is the number of new users it adds to stats_daily_users in the same
-- transaction.  No index besides the key (one row per user and action and
-- day makes every index costly); retention deletes old days by primary-key
-- ranges, per action.
CREATE TABLE IF NOT EXISTS stats_user_seen (
    action_id INT UNSIGNED   NOT NULL,
    day       DATE           NOT NULL,
    uid       VARCHAR(128)   NOT NULL,
    PRIMARY KEY (action_id, day, uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
SET @track_migration = (
    SELECT IF(COUNT(*) = 0, 'DO 0',
              'INSERT IGNORE INTO stats_actions (app, module, action)
               SELECT DISTINCT app, module, action FROM stats_user_seen_v1')
    FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = 'stats_user_seen_v1')
;
EXECUTE IMMEDIATE @track_migration
;
SET @track_migration = (
    SELECT IF(COUNT(*) = 0, 'DO 0',
              'INSERT IGNORE INTO stats_user_seen (action_id, day, uid)
               SELECT a.id, v.day, v.uid FROM stats_user_seen_v1 v
               JOIN stats_actions a USING (app, module, action)')
    FROM information_schema.tables
    WHERE table_schema = DATABASE() AND table_name = 'stats_user_seen_v1')
;
EXECUTE IMMEDIATE @track_migration
;
DROP TABLE IF EXISTS stats_user_seen_v1
;
DO RELEASE_LOCK(CONCAT('track-schema:', DATABASE()))
;
-- Queue elements moved to the dead-letter list, per day (consumer's time
-- zone, at processing time) and short reason.
CREATE TABLE IF NOT EXISTS stats_dead_letters (
    day     DATE             NOT NULL,
    reason  VARCHAR(64)      NOT NULL,
    events  BIGINT UNSIGNED  NOT NULL,
    PRIMARY KEY (day, reason)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
-- One row per consumer id: the sequence number of the last batch committed.
-- It is updated in the transaction that stores the batch, so a batch replayed
-- after a crash (its sequence <= last_seq) is recognised and only acknowledged.
CREATE TABLE IF NOT EXISTS consumer_state (
    consumer_id VARCHAR(64)     NOT NULL,
    last_seq    BIGINT UNSIGNED NOT NULL,
    batches     BIGINT UNSIGNED NOT NULL DEFAULT 0,
    events      BIGINT UNSIGNED NOT NULL DEFAULT 0,
    duplicates  BIGINT UNSIGNED NOT NULL DEFAULT 0,
    dead        BIGINT UNSIGNED NOT NULL DEFAULT 0,
    updated_at  TIMESTAMP       NOT NULL DEFAULT CURRENT_TIMESTAMP
                                ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (consumer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
-- One row per lane a track-consumer supervisor restarted: how often it did
-- (restarts), and whether it gave the lane up for now (crash_loop 1: it died
-- lane_crash_limit times in a row within 2 s of its start); with Redis
-- Cluster also one per shard a lane gave up for another shard's turn
-- (shard_turns: fewer lanes than shards).  Written by the supervisor and
-- the lanes, read by track-stats' metrics; not part of exactly-once.
CREATE TABLE IF NOT EXISTS consumer_lanes (
    consumer_id VARCHAR(64)     NOT NULL,
    restarts    BIGINT UNSIGNED NOT NULL DEFAULT 0,
    crash_loop  TINYINT UNSIGNED NOT NULL DEFAULT 0,
    shard_turns BIGINT UNSIGNED NOT NULL DEFAULT 0,
    updated_at  TIMESTAMP       NOT NULL DEFAULT CURRENT_TIMESTAMP
                                ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (consumer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
-- A table from before shard turns gets the column.
ALTER TABLE consumer_lanes ADD COLUMN IF NOT EXISTS
    shard_turns BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER crash_loop
;
-- Statistics are not written in a batch's transaction but rolled up from
-- committed rows (see consumer/track-consumer/README.md, "Statistics").
-- Ids of raw rows come from this allocator: a batch reserves a block of ids
-- in one autocommit UPDATE, so the ids of lanes and consumers never
-- interleave and a batch's rows of a day lie in one id range.  The consumer
-- raises next_id above MAX(id) of every day table it writes, so a database
-- whose day tables were filled by AUTO_INCREMENT upgrades in place.
CREATE TABLE IF NOT EXISTS track_ids (
    name        VARCHAR(16)     NOT NULL,
    next_id     BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
INSERT IGNORE INTO track_ids (name, next_id) VALUES ('events', 1)
;
-- Id ranges of day-table rows committed but not yet counted in the
-- statistics: one row per batch and day, inserted in the batch's
-- transaction; the roll-up counts the rows of a range and deletes it in one
-- transaction, so every row is counted exactly once.  committed_at gives
-- the roll-up's lag (track-stats' metrics).
CREATE TABLE IF NOT EXISTS stats_pending (
    first_id     BIGINT UNSIGNED NOT NULL,
    last_id      BIGINT UNSIGNED NOT NULL,
    day          DATE            NOT NULL,
    events       INT UNSIGNED    NOT NULL,
    committed_at TIMESTAMP(3)    NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (first_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
-- One row the roll-up updates in every transaction that counts rows.  On
-- one server GET_LOCK already lets one roll-up run at a time; GET_LOCK is
-- local to a Galera node, but this row is not: of two roll-ups on
-- different nodes at once, certification aborts the one that commits
-- second (a deadlock error, retried), so they count one after the other.
-- holder: a random number the transaction writes with its turn and checks
-- before COMMIT (its claim: an abort Galera reports late rolls it back).
CREATE TABLE IF NOT EXISTS rollup_lock (
    name        VARCHAR(16)     NOT NULL,
    passes      BIGINT UNSIGNED NOT NULL,
    holder      BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
-- A table from before the claim gets the column.
ALTER TABLE rollup_lock ADD COLUMN IF NOT EXISTS
    holder BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER passes
;
INSERT IGNORE INTO rollup_lock (name, passes) VALUES ('rollup', 0)
;
