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

-- Transition tables allow one event per trigger: `added` on INSERT,
-- `removed` on DELETE; each function reads the one its event has.
CREATE FUNCTION scaikey_count_users() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants t SET user_count = t.user_count + n.c
        FROM (SELECT tenant_id, COUNT(*) AS c FROM added GROUP BY tenant_id) n WHERE t.id = n.tenant_id;
    ELSE
        UPDATE tenants t SET user_count = t.user_count - n.c
        FROM (SELECT tenant_id, COUNT(*) AS c FROM removed GROUP BY tenant_id) n WHERE t.id = n.tenant_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER users_count_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_users();
CREATE TRIGGER users_count_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_users();

CREATE FUNCTION scaikey_count_groups() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants t SET group_count = t.group_count + n.c
        FROM (SELECT tenant_id, COUNT(*) AS c FROM added GROUP BY tenant_id) n WHERE t.id = n.tenant_id;
    ELSE
        UPDATE tenants t SET group_count = t.group_count - n.c
        FROM (SELECT tenant_id, COUNT(*) AS c FROM removed GROUP BY tenant_id) n WHERE t.id = n.tenant_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER groups_count_insert AFTER INSERT ON groups
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_groups();
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_groups();

CREATE FUNCTION scaikey_count_applications() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants t SET application_count = t.application_count + n.c
        FROM (SELECT tenant_id, COUNT(*) AS c FROM added GROUP BY tenant_id) n WHERE t.id = n.tenant_id;
    ELSE
        UPDATE tenants t SET application_count = t.application_count - n.c
        FROM (SELECT tenant_id, COUNT(*) AS c FROM removed GROUP BY tenant_id) n WHERE t.id = n.tenant_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER applications_count_insert AFTER INSERT ON applications
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_applications();
CREATE TRIGGER applications_count_delete AFTER DELETE ON applications
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION scaikey_count_applications();
