-- A stored procedure: its body holds semicolons, so it is one statement between
-- StatementBegin and StatementEnd (sql-migrate's way; lambda-migrate also reads DELIMITER).
-- +migrate Up
-- +migrate StatementBegin
CREATE PROCEDURE user_order_total(IN p_user BIGINT UNSIGNED, OUT p_total BIGINT)
BEGIN
  SELECT COALESCE(SUM(total_cents), 0) INTO p_total FROM orders WHERE user_id = p_user;
END;
-- +migrate StatementEnd

-- +migrate Down
DROP PROCEDURE user_order_total;
