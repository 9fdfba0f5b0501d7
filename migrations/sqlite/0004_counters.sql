-- SQLite dialect of ../postgres/0004_counters.sql: per-tenant counts of
-- users, groups and applications, kept by triggers in the same transaction.
ALTER TABLE tenants ADD COLUMN user_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN group_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN application_count INTEGER NOT NULL DEFAULT 0;
UPDATE tenants SET
    user_count = (SELECT COUNT(*) FROM users x WHERE x.tenant_id = tenants.id),
    group_count = (SELECT COUNT(*) FROM groups x WHERE x.tenant_id = tenants.id),
    application_count = (SELECT COUNT(*) FROM applications x WHERE x.tenant_id = tenants.id);

CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
    UPDATE tenants SET user_count = user_count + 1 WHERE id = NEW.tenant_id;
END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
    UPDATE tenants SET user_count = user_count - 1 WHERE id = OLD.tenant_id;
END;
CREATE TRIGGER groups_count_insert AFTER INSERT ON groups BEGIN
    UPDATE tenants SET group_count = group_count + 1 WHERE id = NEW.tenant_id;
END;
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups BEGIN
    UPDATE tenants SET group_count = group_count - 1 WHERE id = OLD.tenant_id;
END;
CREATE TRIGGER applications_count_insert AFTER INSERT ON applications WHEN NEW.tenant_id IS NOT NULL BEGIN
    UPDATE tenants SET application_count = application_count + 1 WHERE id = NEW.tenant_id;
END;
CREATE TRIGGER applications_count_delete AFTER DELETE ON applications WHEN OLD.tenant_id IS NOT NULL BEGIN
    UPDATE tenants SET application_count = application_count - 1 WHERE id = OLD.tenant_id;
END;
