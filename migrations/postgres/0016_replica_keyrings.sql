-- Which signing keys each serving replica has loaded, reported at every
-- reload (each minute). A new key is promoted to signing only once every
-- replica seen in the last three minutes reports it, so no replica refuses
-- a token another one signed. A cleanly stopped replica removes its row.
CREATE TABLE replica_keyrings (
    instance_id TEXT PRIMARY KEY,
    loaded_kids TEXT NOT NULL,
    seen_at     TIMESTAMPTZ NOT NULL
);
