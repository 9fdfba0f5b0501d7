-- SQLite dialect of ../postgres/0015_cache_version.sql (row triggers).
CREATE TABLE cache_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
) STRICT;
INSERT INTO cache_version (id, n) VALUES (1, 0);

CREATE TRIGGER tenants_cache_version_ins AFTER INSERT ON tenants BEGIN UPDATE cache_version SET n = n + 1 WHERE id = 1; END;
-- Not on the user, group and application counters: only what a cache holds.
CREATE TRIGGER tenants_cache_version_upd AFTER UPDATE OF partner_id, slug, name, settings, branding, updated_at ON tenants BEGIN UPDATE cache_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER tenants_cache_version_del AFTER DELETE ON tenants BEGIN UPDATE cache_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER applications_cache_version_ins AFTER INSERT ON applications BEGIN UPDATE cache_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER applications_cache_version_upd AFTER UPDATE ON applications BEGIN UPDATE cache_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER applications_cache_version_del AFTER DELETE ON applications BEGIN UPDATE cache_version SET n = n + 1 WHERE id = 1; END;
