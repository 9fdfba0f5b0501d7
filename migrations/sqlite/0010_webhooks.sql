-- SQLite dialect of ../postgres/0010_webhooks.sql.
ALTER TABLE applications ADD COLUMN sync_webhook_secret_previous_sealed TEXT;
ALTER TABLE applications ADD COLUMN sync_webhook_secret_previous_until INTEGER;

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id       TEXT NOT NULL,
    app_id           TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event_seq        INTEGER NOT NULL,
    event_type       TEXT NOT NULL,
    position         INTEGER NOT NULL,
    resource_id      TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    delivered_at     INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (app_id, resource_id, event_seq);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (app_id, event_seq, position);
CREATE INDEX webhook_deliveries_tenant_idx ON webhook_deliveries (tenant_id, id);

CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempted_at INTEGER NOT NULL,
    latency_ms   INTEGER NOT NULL,
    status_code  INTEGER,
    outcome      TEXT NOT NULL,
    response     TEXT,
    error        TEXT
) STRICT;
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempted_at);

CREATE TABLE webhook_scope (
    app_id    TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    object_id TEXT NOT NULL,
    PRIMARY KEY (app_id, object_id)
) STRICT;

CREATE TABLE webhook_fanout (
    id       INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL
) STRICT;
INSERT INTO webhook_fanout (id, last_seq) SELECT 1, last FROM event_sequence WHERE id = 1;
