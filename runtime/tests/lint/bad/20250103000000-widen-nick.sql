-- +migrate Up
ALTER TABLE accounts MODIFY nick VARCHAR(200) NOT NULL;

-- +migrate Down
ALTER TABLE accounts MODIFY nick VARCHAR(100) NOT NULL;
