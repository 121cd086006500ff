-- Feed versions: every GTFS feed imported, by content hash; one row is the active feed.
CREATE TABLE IF NOT EXISTS feed_versions (
    id            bigserial PRIMARY KEY,
    feed_hash     text        NOT NULL UNIQUE,
    source_path   text        NOT NULL,
    imported_at   timestamptz NOT NULL DEFAULT now(),
    counts        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    warnings      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    snapshot_path text,
    active        boolean     NOT NULL DEFAULT false
);

-- At most one active feed at a time.
CREATE UNIQUE INDEX IF NOT EXISTS feed_versions_one_active
    ON feed_versions (active) WHERE active;
