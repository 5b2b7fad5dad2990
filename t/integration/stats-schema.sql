-- Fallback fixture for the track-stats tests: the statistics tables as the
-- consumer creates them, used only while sql/schema.sql does not exist yet.
CREATE TABLE IF NOT EXISTS stats_hourly (
    day     DATE NOT NULL,
    hour    TINYINT UNSIGNED NOT NULL,
    app     VARCHAR(128) NOT NULL,
    module  VARCHAR(128) NOT NULL,
    action  VARCHAR(128) NOT NULL,
    object  VARCHAR(128) NOT NULL DEFAULT '',
    events  BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app, module, action, object, day, hour)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS stats_daily (
    day     DATE NOT NULL,
    app     VARCHAR(128) NOT NULL,
    module  VARCHAR(128) NOT NULL,
    action  VARCHAR(128) NOT NULL,
    object  VARCHAR(128) NOT NULL DEFAULT '',
    events  BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app, module, action, object, day),
    KEY by_day (app, module, action, day, events)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS stats_daily_users (
    day     DATE NOT NULL,
    app     VARCHAR(128) NOT NULL,
    module  VARCHAR(128) NOT NULL,
    action  VARCHAR(128) NOT NULL,
    users   BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app, module, action, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS stats_user_seen (
    day     DATE NOT NULL,
    app     VARCHAR(128) NOT NULL,
    module  VARCHAR(128) NOT NULL,
    action  VARCHAR(128) NOT NULL,
    uid     VARCHAR(128) NOT NULL,
    PRIMARY KEY (app, module, action, day, uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
