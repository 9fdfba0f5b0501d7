-- Per-tenant counts of users, groups and applications, kept by triggers in
-- the same transaction as the insert or delete. Partner limits and SCIM's
-- unfiltered totalResults read them instead of counting rows.
ALTER TABLE tenants ADD COLUMN user_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN group_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN application_count BIGINT NOT NULL DEFAULT 0;
UPDATE tenants t SET
    user_count = (SELECT COUNT(*) FROM users x WHERE x.tenant_id = t.id),
    group_count = (SELECT COUNT(*) FROM groups x WHERE x.tenant_id = t.id),
    application_count = (SELECT COUNT(*) FROM applications x WHERE x.tenant_id = t.id);

CREATE FUNCTION scaikey_count_users() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants SET user_count = user_count + 1 WHERE id = NEW.tenant_id;
    ELSE
        UPDATE tenants SET user_count = user_count - 1 WHERE id = OLD.tenant_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER users_count AFTER INSERT OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION scaikey_count_users();

CREATE FUNCTION scaikey_count_groups() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants SET group_count = group_count + 1 WHERE id = NEW.tenant_id;
    ELSE
        UPDATE tenants SET group_count = group_count - 1 WHERE id = OLD.tenant_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER groups_count AFTER INSERT OR DELETE ON groups FOR EACH ROW EXECUTE FUNCTION scaikey_count_groups();

CREATE FUNCTION scaikey_count_applications() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants SET application_count = application_count + 1 WHERE id = NEW.tenant_id;
    ELSE
        UPDATE tenants SET application_count = application_count - 1 WHERE id = OLD.tenant_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER applications_count AFTER INSERT OR DELETE ON applications FOR EACH ROW EXECUTE FUNCTION scaikey_count_applications();
