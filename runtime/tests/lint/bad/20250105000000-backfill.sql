-- +migrate Up
ALTER TABLE accounts ADD COLUMN plan VARCHAR(16) NOT NULL;
UPDATE accounts SET plan = 'free';
FROB accounts WITH plans;

-- +migrate Down
ALTER TABLE accounts DROP COLUMN plan;
