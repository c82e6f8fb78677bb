-- Why a settled purchase's report has not been taken yet: how many times it was handed
-- over (to the caller's handler, the CLI's output or the webhook receiver) without being
-- accepted, and the last reason. Reset when a purchase is claimed again.
ALTER TABLE purchases ADD COLUMN report_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE purchases ADD COLUMN report_error TEXT;
-- The holder whose lease had lapsed when a tracker took the entry over (NULL when it
-- was free): a takeover is logged.
ALTER TABLE purchases ADD COLUMN taken_over_from TEXT;
