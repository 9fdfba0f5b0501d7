-- SQLite dialect of ../postgres/0016_replica_keyrings.sql.
CREATE TABLE replica_keyrings (
    instance_id TEXT PRIMARY KEY,
    loaded_kids TEXT NOT NULL,
    seen_at     INTEGER NOT NULL
) STRICT;
