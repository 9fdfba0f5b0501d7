-- SQLite dialect of ../postgres/0006_directory.sql (writers are serialized
-- by BEGIN IMMEDIATE, so the counter row keeps commit order here too).
CREATE TABLE event_sequence (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    last  INTEGER NOT NULL
) STRICT;
INSERT INTO event_sequence (id, last) VALUES (1, 0);
ALTER TABLE events ADD COLUMN seq INTEGER;
ALTER TABLE events ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
UPDATE events SET seq = (SELECT COUNT(*) FROM events e2 WHERE e2.id <= events.id);
UPDATE event_sequence SET last = (SELECT COALESCE(MAX(seq), 0) FROM events);
CREATE UNIQUE INDEX events_seq_key ON events (seq);

ALTER TABLE users ADD COLUMN preferred_language TEXT;
UPDATE users SET preferred_language = locale;

ALTER TABLE users ADD COLUMN emails_lower TEXT GENERATED ALWAYS AS (lower(emails)) VIRTUAL;

-- Data migrations done in code (see src/directory/rekey.rs), run once each.
CREATE TABLE data_migrations (
    name     TEXT PRIMARY KEY,
    done_at  INTEGER NOT NULL,
    report   TEXT NOT NULL
) STRICT;
