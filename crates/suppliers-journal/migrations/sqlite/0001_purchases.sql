-- One row per purchase: at most one per (supplier, reference).
CREATE TABLE purchases (
    supplier         TEXT    NOT NULL,
    reference        TEXT    NOT NULL,
    product_id       TEXT    NOT NULL,
    quantity         INTEGER NOT NULL,
    facts            TEXT    NOT NULL,
    -- ORs, not IN (...): SQLite builds a temporary table for every IN list it checks.
    state            TEXT    NOT NULL
        CHECK (state = 'sending' OR state = 'unknown' OR state = 'created'
            OR state = 'bought' OR state = 'not_bought' OR state = 'failed'),
    order_id         TEXT,
    idempotency_key  TEXT,
    balance_before   TEXT,
    balance_currency TEXT,
    detail           TEXT,
    attempt          INTEGER NOT NULL DEFAULT 1,
    owner            TEXT,
    lease_until      TEXT,
    started_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    PRIMARY KEY (supplier, reference)
);

CREATE INDEX purchases_unresolved ON purchases (started_at)
    WHERE state = 'sending' OR state = 'unknown' OR state = 'created';
