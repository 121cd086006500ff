-- Street maps: every OpenStreetMap extract imported for walking, by content hash; one is active.
CREATE TABLE IF NOT EXISTS street_versions (
    id            bigserial PRIMARY KEY,
    osm_hash      text        NOT NULL UNIQUE,
    source_path   text        NOT NULL,
    imported_at   timestamptz NOT NULL DEFAULT now(),
    counts        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    snapshot_path text        NOT NULL,
    active        boolean     NOT NULL DEFAULT false
);

-- At most one active street map at a time.
CREATE UNIQUE INDEX IF NOT EXISTS street_versions_one_active
    ON street_versions (active) WHERE active;
