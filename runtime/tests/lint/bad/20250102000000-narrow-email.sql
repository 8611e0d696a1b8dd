-- VARCHAR(300) -> VARCHAR(200): longer addresses are cut. The Down grows it back
-- within the same length-prefix class (800 -> 1200 bytes in utf8mb4): in place.
-- +migrate Up
ALTER TABLE accounts MODIFY email VARCHAR(200) NOT NULL;

-- +migrate Down
ALTER TABLE accounts MODIFY email VARCHAR(300) NOT NULL;
