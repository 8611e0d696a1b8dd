-- Reference data: inserts run in the migration's transaction with its history row.
-- +migrate Up
CREATE TABLE plans (
  code VARCHAR(32) NOT NULL PRIMARY KEY,
  monthly_cents INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO plans (code, monthly_cents) VALUES ('free', 0), ('pro', 1900), ('team', 4900);

-- +migrate Down
DROP TABLE plans;
