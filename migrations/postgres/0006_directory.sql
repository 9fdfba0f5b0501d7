-- One write path: a commit-ordered sequence for the change-event log, a
-- versioned payload, the user's preferredLanguage beside locale, and an
-- index for substring searches of e-mail addresses.

-- The counter row is locked by the transaction that appends events until
-- it commits, so sequence numbers are handed out in commit order: a reader
-- that remembers the last number it saw never misses a later commit.
CREATE TABLE event_sequence (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    last  BIGINT NOT NULL
);
INSERT INTO event_sequence (id, last) VALUES (1, 0);
ALTER TABLE events ADD COLUMN seq BIGINT;
ALTER TABLE events ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
UPDATE events SET seq = s.n FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM events) s WHERE events.id = s.id;
UPDATE event_sequence SET last = (SELECT COALESCE(MAX(seq), 0) FROM events);
ALTER TABLE events ALTER COLUMN seq SET NOT NULL;
CREATE UNIQUE INDEX events_seq_key ON events (seq);

ALTER TABLE users ADD COLUMN preferred_language TEXT;
UPDATE users SET preferred_language = locale;

CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER TABLE users ADD COLUMN emails_lower TEXT GENERATED ALWAYS AS (lower(emails::text)) STORED;
CREATE INDEX users_emails_trgm_idx ON users USING gin (emails_lower gin_trgm_ops);

-- Data migrations done in code (see src/directory/rekey.rs), run once each.
CREATE TABLE data_migrations (
    name     TEXT PRIMARY KEY,
    done_at  TIMESTAMPTZ NOT NULL,
    report   JSONB NOT NULL
);

