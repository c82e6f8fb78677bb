-- One row per purchase: at most one per (supplier, reference).
CREATE TABLE purchases (
    supplier         TEXT        NOT NULL,
    reference        TEXT        NOT NULL,
    product_id       TEXT        NOT NULL,
    quantity         BIGINT      NOT NULL,
    facts            JSONB       NOT NULL,
    state            TEXT        NOT NULL
        CHECK (state IN ('sending', 'unknown', 'created', 'bought', 'not_bought', 'failed')),
    order_id         TEXT,
    idempotency_key  TEXT,
    balance_before   NUMERIC,
    balance_currency TEXT,
    detail           TEXT,
    attempt          BIGINT      NOT NULL DEFAULT 1,
    owner            TEXT,
    lease_until      TIMESTAMPTZ,
    started_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (supplier, reference)
);

CREATE INDEX purchases_unresolved ON purchases (started_at)
    WHERE state IN ('sending', 'unknown', 'created');
