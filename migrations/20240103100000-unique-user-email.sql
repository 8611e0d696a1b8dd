-- +migrate Up
CREATE UNIQUE INDEX users_email ON users (email);

-- +migrate Down
DROP INDEX users_email ON users;
