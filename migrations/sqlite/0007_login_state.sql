-- SQLite dialect of ../postgres/0007_login_state.sql.
ALTER TABLE login_requests ADD COLUMN state TEXT NOT NULL DEFAULT '{"step": "identifier"}';
ALTER TABLE login_requests ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
