-- A counter every change to tenants or applications moves (by trigger, so
-- no writer can forget it). Each replica polls it and drops its in-memory
-- caches of tenants, applications and issuer documents when it moves.
CREATE TABLE cache_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO cache_version (id, n) VALUES (1, 0);

CREATE FUNCTION bump_cache_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END $$;

-- Not on the user, group and application counters (updated by triggers at
-- every provisioning write): only the columns a cache holds.
CREATE TRIGGER tenants_cache_version
    AFTER INSERT OR DELETE OR UPDATE OF partner_id, slug, name, settings, branding, updated_at ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version();
CREATE TRIGGER applications_cache_version AFTER INSERT OR UPDATE OR DELETE ON applications
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version();
