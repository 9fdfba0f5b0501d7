-- The login flow as typed states: each state's data as JSON, and a version
-- for compare-and-set, so slow steps (password hashing, upstream IdPs) run
-- outside the transaction. Logins in flight during the upgrade restart at
-- the identifier step.
ALTER TABLE login_requests ADD COLUMN state JSONB NOT NULL DEFAULT '{"step": "identifier"}';
ALTER TABLE login_requests ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
