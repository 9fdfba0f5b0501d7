-- Tenant counters per statement, not per row. A row-level trigger updated
-- the tenant's row once per inserted or deleted user, group or application:
-- a statement writing many rows of one tenant (a bulk import) left one dead
-- version of that tenant's row per row written — PostgreSQL cannot prune
-- them inside the statement, and the versions no longer fit the page, so
-- every one also took new entries in every index of `tenants`. Seeding
-- 10 million users bloated `tenants` (50,000 rows) to 5.9 GB and made
-- tenant lists take 600 ms until a vacuum. A statement-level trigger with a
-- transition table updates each touched tenant once per statement. (SQLite
-- updates rows in place and has no statement-level triggers: unchanged.)
DROP TRIGGER users_count ON users;
DROP TRIGGER groups_count ON groups;
DROP TRIGGER applications_count ON applications;
DROP FUNCTION scaikey_count_users();
DROP FUNCTION scaikey_count_groups();
DROP FUNCTION scaikey_count_applications();

-- One function for the three counters: TG_ARGV[0] names the `tenants`
-- column that counts the trigger's table. Transition tables allow one event
-- per trigger: `added` on INSERT, `removed` on DELETE.
CREATE FUNCTION scaikey_count_rows() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('UPDATE tenants t SET %1$I = t.%1$I + n.c '
            'FROM (SELECT tenant_id, COUNT(*) AS c FROM added GROUP BY tenant_id) n WHERE t.id = n.tenant_id',
            TG_ARGV[0]);
    ELSE
        EXECUTE format('UPDATE tenants t SET %1$I = t.%1$I - n.c '
            'FROM (SELECT tenant_id, COUNT(*) AS c FROM removed GROUP BY tenant_id) n WHERE t.id = n.tenant_id',
            TG_ARGV[0]);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER users_count_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_rows('user_count');
CREATE TRIGGER users_count_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_rows('user_count');
CREATE TRIGGER groups_count_insert AFTER INSERT ON groups
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_rows('group_count');
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_rows('group_count');
CREATE TRIGGER applications_count_insert AFTER INSERT ON applications
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_rows('application_count');
CREATE TRIGGER applications_count_delete AFTER DELETE ON applications
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_rows('application_count');
