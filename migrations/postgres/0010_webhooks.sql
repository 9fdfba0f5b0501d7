-- Webhooks: deliveries fanned out from the change-event log (a durable
-- outbox), every attempt at each, what each assignment-scoped application
-- has been told exists, and the fan-out's place in the log. A rotated
-- webhook secret stays valid (both signatures are sent) until
-- `sync_webhook_secret_previous_until`.
ALTER TABLE applications ADD COLUMN sync_webhook_secret_previous_sealed TEXT;
ALTER TABLE applications ADD COLUMN sync_webhook_secret_previous_until TIMESTAMPTZ;

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id       TEXT NOT NULL,
    app_id           TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    position         BIGINT NOT NULL,
    resource_id      TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    lease_until      TIMESTAMPTZ,
    last_status_code BIGINT,
    last_error       TEXT,
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (app_id, resource_id, event_seq);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (app_id, event_seq, position);
CREATE INDEX webhook_deliveries_tenant_idx ON webhook_deliveries (tenant_id, id);

CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempted_at TIMESTAMPTZ NOT NULL,
    latency_ms   BIGINT NOT NULL,
    status_code  BIGINT,
    outcome      TEXT NOT NULL,
    response     TEXT,
    error        TEXT
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempted_at);

CREATE TABLE webhook_scope (
    app_id    TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    object_id TEXT NOT NULL,
    PRIMARY KEY (app_id, object_id)
);

CREATE TABLE webhook_fanout (
    id       INTEGER PRIMARY KEY,
    last_seq BIGINT NOT NULL
);
INSERT INTO webhook_fanout (id, last_seq) SELECT 1, last FROM event_sequence WHERE id = 1;
