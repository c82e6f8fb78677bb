-- What became of a bought purchase's goods, and when the caller was told.
-- fulfilment: NULL until the purchase is bought, then 'awaiting', then 'delivered' or
-- 'undelivered' (fulfilment_detail says why). reported_at: when the caller's handler,
-- the CLI's output or the webhook receiver took the report.
ALTER TABLE purchases ADD COLUMN fulfilment TEXT
    CHECK (fulfilment IS NULL OR fulfilment = 'awaiting' OR fulfilment = 'delivered'
        OR fulfilment = 'undelivered');
ALTER TABLE purchases ADD COLUMN fulfilment_detail TEXT;
ALTER TABLE purchases ADD COLUMN settled_at TEXT;
ALTER TABLE purchases ADD COLUMN reported_at TEXT;

-- Purchases bought before this version are followed too.
UPDATE purchases SET fulfilment = 'awaiting' WHERE state = 'bought';

-- What trackers look through: bought and not yet reported.
CREATE INDEX purchases_unreported ON purchases (started_at)
    WHERE fulfilment IS NOT NULL AND reported_at IS NULL;
