-- +migrate Up
-- lint:ignore destructive/drop-table events were archived to S3 (OPS-12)
DROP TABLE events;
-- lint:ignore destructive/truncate
TRUNCATE TABLE accounts;
