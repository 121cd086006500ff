-- API keys (owned by ingest): only a SHA-256 of each key is stored; the key is shown once.

CREATE TABLE IF NOT EXISTS api_keys (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('rider', 'ingest', 'operator')),
    key_prefix text NOT NULL,
    key_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
