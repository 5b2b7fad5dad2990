-- SPDX-License-Identifier: BSD-2-Clause
-- Template of a day table of raw events; track-consumer replaces @TABLE@ with
-- events_YYYYMMDD (the day of recv_ts in its configured time zone) and runs
-- it before the first insert into that day.  One column per field of the
-- README's event format; absent optional fields are NULL.  props and fields
-- hold the object as compact JSON text (jansson's form, the module's too).
CREATE TABLE IF NOT EXISTS `@TABLE@` (
    id       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    eid      VARCHAR(64)     NOT NULL,
    recv_ts  BIGINT          NOT NULL,
    app      VARCHAR(128)    NOT NULL,
    module   VARCHAR(128)    NOT NULL,
    action   VARCHAR(128)    NOT NULL,
    object   VARCHAR(128)    NULL,
    uid      VARCHAR(128)    NULL,
    ts       BIGINT          NULL,
    ip       VARCHAR(45)     NULL,
    ua       TEXT            NULL,
    referer  TEXT            NULL,
    props    MEDIUMTEXT      NULL,
    fields   MEDIUMTEXT      NULL,
    PRIMARY KEY (id),
    UNIQUE KEY eid (eid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
;
