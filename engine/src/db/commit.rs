//! Which statements may end the open transaction (MySQL's implicit commit), which
//! decides when the journal row must be written.

/// Whether a statement may end the open transaction (MySQL's implicit commit). Only
/// statements that can never commit are `false`; anything unrecognised is `true`, which
/// costs a journal write but is never wrong.
pub fn may_commit(sql: &str) -> bool {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--").or_else(|| s.strip_prefix('#')) {
            s = rest
                .split_once('\n')
                .map(|x| x.1)
                .unwrap_or("")
                .trim_start();
        } else if s.starts_with("/*") && !s.starts_with("/*!") && !s.starts_with("/*M!") {
            match s[2..].find("*/") {
                Some(end) => s = s[2 + end + 2..].trim_start(),
                None => return true,
            }
        } else {
            break;
        }
    }
    let word: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .take(8)
        .collect::<String>()
        .to_ascii_uppercase();
    !matches!(
        word.as_str(),
        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "WITH" | "DO"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_classification() {
        for dml in [
            "INSERT INTO t VALUES (1)",
            "  update t set a = 1",
            "-- note\nDELETE FROM t",
            "/* c */ select sleep(1)",
            "# x\nREPLACE INTO t VALUES (1)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
        ] {
            assert!(!may_commit(dml), "{dml}");
        }
        for ddl in [
            "CREATE TABLE t (a int)",
            "alter table t add b int",
            "DROP TABLE t",
            "SET autocommit = 1",
            "CALL p()",
            "/*!50001 CREATE VIEW v AS SELECT 1 */",
            "/* unterminated",
            "",
            "SELECTX",
            "(SELECT 1)",
        ] {
            assert!(may_commit(ddl), "{ddl}");
        }
    }
}
