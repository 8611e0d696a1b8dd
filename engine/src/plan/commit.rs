//! Which statements may end the open transaction (MySQL's implicit commit), which
//! decides when the journal row must be written.
//!
//! One migration statement can be several server statements: sql-migrate splits only at
//! a `;` that ends a line, so `INSERT …; CREATE TABLE …;` on one line reaches the server
//! as one multi-statement text. Every statement of the text counts.

/// Whether a statement text may end the open transaction (MySQL's implicit commit).
/// Each top-level `;`-separated statement of the text is judged; the text may commit if
/// any of them may. Only statements that can never commit are `false`; anything
/// unrecognised (an empty text, an unterminated quote or comment, an executable comment
/// `/*! … */`) is `true`, which costs a journal write but is never wrong.
pub fn may_commit(sql: &str) -> bool {
    // Whether a backslash escapes inside a string depends on the server's sql_mode
    // (NO_BACKSLASH_ESCAPES), which is not known here: the text may commit if it may
    // under either reading.
    [true, false]
        .into_iter()
        .any(|escapes| match parts(sql, escapes) {
            Some(parts) => {
                parts
                .iter()
                .any(|&(first, executable)| part_may_commit(sql, Some(first), executable))
                // A text with no statement at all is unrecognised.
                || parts.is_empty()
            }
            None => true,
        })
}

/// Whether `sql` is exactly one server statement, under either reading of backslashes,
/// with no executable comment: only then did a failure of it fail it as a whole.
pub fn single_statement(sql: &str) -> bool {
    [true, false]
        .into_iter()
        .all(|escapes| parts(sql, escapes).is_some_and(|p| matches!(p.as_slice(), [(_, false)])))
}

/// `sql` from where its code starts (past leading comments), and its first word in
/// upper case.
fn code_and_head(sql: &str) -> (&str, String) {
    let start = parts(sql, true)
        .and_then(|p| p.first().map(|&(first, _)| first))
        .unwrap_or(0);
    let code = &sql[start..];
    let head = code
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_ascii_uppercase();
    (code, head)
}

/// Whether a failure of `sql` left nothing of it done: it is one server statement that
/// is not a `CALL` or a compound block (a procedure's statements commit one by one, so
/// one that fails may have committed part of its work).
pub fn fails_whole(sql: &str) -> bool {
    let (code, head) = code_and_head(sql);
    if compound(code) {
        // A stored program's definition is one statement, with `;` inside; a block that
        // runs (`BEGIN NOT ATOMIC … END`) runs its statements one by one.
        return matches!(head.as_str(), "CREATE" | "ALTER");
    }
    single_statement(sql) && head != "CALL"
}

/// Whether `sql` is one DDL statement over a list of objects that MariaDB carries out
/// one object at a time (`DROP TABLE a, b`, `DROP VIEW`, `CREATE`/`DROP`/`RENAME USER`
/// or `ROLE` with several accounts): when it fails part-way there, the objects before
/// the failure stay dropped or created. MySQL 8.0+ has atomic DDL and does all or
/// nothing. A comma anywhere after the object kind counts, which may say "several" of
/// a name with a comma in it: that costs a check by hand, never a wrong journal.
pub fn several_objects(sql: &str) -> bool {
    if !single_statement(sql) || compound(sql) {
        return false;
    }
    let (code, head) = code_and_head(sql);
    let upper = code.to_ascii_uppercase();
    let mut words = upper
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .skip(1)
        .skip_while(|w| *w == "TEMPORARY");
    let kind = words.next().unwrap_or_default();
    let listed = match head.as_str() {
        "DROP" => matches!(kind, "TABLE" | "TABLES" | "VIEW" | "USER" | "ROLE"),
        "CREATE" | "RENAME" => matches!(kind, "USER" | "ROLE"),
        _ => false,
    };
    listed && code.contains(',')
}

/// Whether `sql` only sets up the session for the statements after it (`USE db`, a
/// session `SET`), so that resuming after it must send it again: a resumed migration
/// runs on a fresh session, and its later statements were written to run where it
/// left them. `SET GLOBAL`/`PERSIST` change the server, and a user variable's value may
/// depend on data: those are never sent twice.
pub fn replays_on_resume(sql: &str) -> bool {
    if !single_statement(sql) {
        return false;
    }
    let (code, head) = code_and_head(sql);
    let upper = code.to_ascii_uppercase();
    match head.as_str() {
        "USE" => true,
        "SET" => {
            let words: Vec<&str> = upper
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .collect();
            let server_wide = words
                .iter()
                .any(|w| matches!(*w, "GLOBAL" | "PERSIST" | "PERSIST_ONLY"))
                || upper.contains("@@GLOBAL.")
                || upper.contains("@@PERSIST");
            // `@name` (a user variable) but not `@@name` (a system variable).
            let b = code.as_bytes();
            let user_var = (0..b.len()).any(|i| {
                b[i] == b'@'
                    && b.get(i + 1).is_some_and(|c| *c != b'@')
                    && (i == 0 || b[i - 1] != b'@')
            });
            !server_wide && !user_var
        }
        _ => false,
    }
}

/// Whether `sql` certainly leaves the session as it found it: one plain DDL or data
/// statement, with no user variable and nothing temporary. A stored program's
/// definition keeps it too (its body runs later, when called). Anything else (`USE`,
/// `SET`, `LOCK TABLES`, `CALL`, a `SELECT` that may assign, what is not recognised)
/// may change it, and the session is reset after its migration.
pub fn keeps_session(sql: &str) -> bool {
    let (code, head) = code_and_head(sql);
    let upper = code.to_ascii_uppercase();
    if compound(code) {
        return matches!(head.as_str(), "CREATE" | "ALTER");
    }
    let plain = matches!(
        head.as_str(),
        "CREATE"
            | "ALTER"
            | "DROP"
            | "RENAME"
            | "TRUNCATE"
            | "INSERT"
            | "UPDATE"
            | "DELETE"
            | "REPLACE"
    );
    plain && single_statement(sql) && !upper.contains("TEMPORARY") && !code.contains('@')
}

/// Whether a statement text holds several statements of which one may commit
/// implicitly. If a later one failed, the server would have committed the earlier ones
/// with no way for the journal to tell, so such texts are refused before a run.
pub fn commits_part_way(sql: &str) -> bool {
    // A stored program's body has `;` inside one statement (what StatementBegin/End and
    // DELIMITER are for): the server takes it as one, so it is one.
    if compound(sql) {
        return false;
    }
    [true, false]
        .into_iter()
        .any(|escapes| match parts(sql, escapes) {
            Some(p) => {
                p.len() > 1
                    && p.iter()
                        .any(|&(first, executable)| part_may_commit(sql, Some(first), executable))
            }
            // Unrecognised: journaled as possibly committing, and the server judges it.
            None => false,
        })
}

/// Whether `sql` is one compound statement: a stored program (`CREATE … PROCEDURE`,
/// `FUNCTION`, `TRIGGER`, `EVENT`, `PACKAGE`, `ALTER EVENT`) or a `BEGIN … END` block.
fn compound(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .take(10)
        .map(str::to_ascii_uppercase)
        .collect();
    match words.first().map(String::as_str) {
        Some("CREATE" | "ALTER") => words.iter().any(|w| {
            matches!(
                w.as_str(),
                "PROCEDURE" | "FUNCTION" | "TRIGGER" | "EVENT" | "PACKAGE"
            )
        }),
        Some("BEGIN" | "DECLARE" | "IF" | "LOOP" | "WHILE" | "REPEAT" | "CASE") => true,
        _ => false,
    }
}

/// Splits `sql` at top-level `;` (outside quotes, backticks and comments) into the parts
/// that hold code: (where the code starts, whether it holds an executable comment).
/// `None` when an unterminated quote or comment leaves the text unrecognised.
fn parts(sql: &str, backslash_escapes: bool) -> Option<Vec<(usize, bool)>> {
    let mut out = Vec::new();
    let b = sql.as_bytes();
    let mut i = 0;
    // Where the current part's first code starts, and whether it holds an executable
    // comment.
    let mut first: Option<usize> = None;
    let mut executable = false;
    while i < b.len() {
        match b[i] {
            b';' => {
                if let Some(f) = first {
                    out.push((f, executable));
                }
                first = None;
                executable = false;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            b'#' => i = line_end(b, i),
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2)
                    .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control()) =>
            {
                i = line_end(b, i)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let body = &b[i + 2..];
                if body.starts_with(b"!") || body.starts_with(b"M!") {
                    // MySQL runs what is inside: judge it as code, and the part as
                    // possibly committing whatever it says.
                    executable = true;
                    first.get_or_insert(i);
                    i += 2;
                } else {
                    i += 2 + find(body, b"*/")? + 2;
                }
            }
            q @ (b'\'' | b'"' | b'`') => {
                first.get_or_insert(i);
                i = quoted_end(b, i, q, backslash_escapes && q != b'`')?;
            }
            _ => {
                first.get_or_insert(i);
                i += 1;
            }
        }
    }
    if let Some(f) = first {
        out.push((f, executable));
    }
    Some(out)
}

/// Judges one part by its first word; a part with no code (only comments and blanks,
/// e.g. after the final `;`) runs nothing.
fn part_may_commit(sql: &str, first: Option<usize>, executable: bool) -> bool {
    let Some(start) = first else {
        return false;
    };
    if executable {
        return true;
    }
    let word: String = sql[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(8)
        .collect::<String>()
        .to_ascii_uppercase();
    !matches!(
        word.as_str(),
        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "WITH" | "DO"
    )
}

/// The index just past the newline ending the line at `i` (or the end of the text).
fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |n| i + n + 1)
}

/// The index just past the quote closing the one at `start`; `None` if unterminated. A
/// doubled quote is part of the text, as is a character after a backslash when
/// `backslash` is set.
fn quoted_end(b: &[u8], start: usize, q: u8, backslash: bool) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if backslash => i += 2,
            c if c == q => {
                if b.get(i + 1) == Some(&q) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_statements_keep_the_session() {
        for yes in [
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD c int",
            "INSERT INTO t VALUES (1)",
            "CREATE PROCEDURE p() BEGIN SET @x = 1; USE other; END",
        ] {
            assert!(keeps_session(yes), "{yes}");
        }
        for no in [
            "USE other",
            "SET autocommit = 0",
            "LOCK TABLES t WRITE",
            "CALL p()",
            "SELECT 1 INTO @x",
            "CREATE TEMPORARY TABLE t (id int)",
            "UPDATE t SET c = @x",
            "START TRANSACTION",
            "INSERT INTO t VALUES (1); SET sql_mode = ''",
        ] {
            assert!(!keeps_session(no), "{no}");
        }
    }

    #[test]
    fn session_settings_are_replayed_on_resume() {
        for yes in [
            "USE other",
            "SET autocommit = 0",
            "SET SESSION sql_mode = ''",
            "set @@session.foreign_key_checks = 0",
            "SET NAMES utf8mb4",
        ] {
            assert!(replays_on_resume(yes), "{yes}");
        }
        for no in [
            "SET GLOBAL max_connections = 10",
            "SET @@global.read_only = 1",
            "SET PERSIST x = 1",
            "SET @n = (SELECT COUNT(*) FROM t)",
            "CREATE TABLE t (id int)",
            "USE a; CREATE TABLE t (id int)",
        ] {
            assert!(!replays_on_resume(no), "{no}");
        }
    }

    #[test]
    fn only_one_plain_statement_fails_whole() {
        assert!(fails_whole("ALTER TABLE t ADD c int"));
        assert!(fails_whole("/* why */ INSERT INTO t VALUES (1)"));
        assert!(fails_whole(
            "CREATE PROCEDURE p() BEGIN INSERT INTO t VALUES (1); END"
        ));
        assert!(!fails_whole("CALL p()"));
        assert!(!fails_whole("-- first\ncall p()"));
        assert!(!fails_whole(
            "INSERT INTO t VALUES (1); CREATE TABLE u (id int)"
        ));
        assert!(!fails_whole(
            "BEGIN NOT ATOMIC INSERT INTO t VALUES (1); END"
        ));
    }

    #[test]
    fn ddl_over_a_list_of_objects_is_told_apart() {
        for yes in [
            "DROP TABLE a, b",
            "drop temporary table if exists a,b",
            "DROP VIEW v, w",
            "CREATE USER 'a'@'%', 'b'@'%'",
            "RENAME USER a TO b, c TO d",
            "DROP ROLE r1, r2",
        ] {
            assert!(several_objects(yes), "{yes}");
        }
        for no in [
            "DROP TABLE a",
            "CREATE TABLE t (a int, b int)",
            "ALTER TABLE t ADD a int, ADD b int",
            "RENAME TABLE a TO b, c TO d",
            "DROP TABLE a; DROP TABLE b, c",
            "INSERT INTO t VALUES (1), (2)",
            "CREATE PROCEDURE p() BEGIN DROP TABLE a, b; END",
        ] {
            assert!(!several_objects(no), "{no}");
        }
    }

    #[test]
    fn several_statements_with_a_commit_among_them_are_flagged() {
        for sql in [
            "INSERT INTO t2 VALUES (1); CREATE TABLE t3 (id int);",
            "CREATE TABLE a (id int); CREATE TABLE b (id int)",
            "CREATE TABLE a (id int); INSERT INTO nope VALUES (1)",
            "/*! SET x = 1 */; SELECT 1",
        ] {
            assert!(commits_part_way(sql), "{sql}");
        }
        for sql in [
            "CREATE TABLE a (id int);",
            "CREATE TABLE a (id int); -- done",
            "INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);",
            "INSERT INTO a VALUES ('x; CREATE TABLE b (id int)')",
            "CREATE PROCEDURE p() BEGIN SELECT 1; END",
            "CREATE DEFINER = `a`@`%` TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END",
        ] {
            assert!(!commits_part_way(sql), "{sql}");
        }
    }

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

    #[test]
    fn every_statement_of_a_multi_statement_text_counts() {
        for commits in [
            "INSERT INTO t2 VALUES (1); CREATE TABLE t3 (id int);",
            "INSERT INTO t VALUES (1);CREATE TABLE t3 (id int)",
            "UPDATE t SET a = 1;\n-- then\nDROP TABLE u;",
            "DELETE FROM t; /* x */ ALTER TABLE t ADD b int",
            "SELECT 1; SELECT 2; TRUNCATE t",
            // `--` without a blank after it is two minus signs, not a comment.
            "SELECT 1--1; CREATE TABLE x (a int)",
            "CREATE PROCEDURE p() BEGIN INSERT INTO t VALUES (1); END",
        ] {
            assert!(may_commit(commits), "{commits}");
        }
        for data in [
            "INSERT INTO t VALUES (1); INSERT INTO u VALUES (2);",
            "INSERT INTO t VALUES (1);  ",
            "DELETE FROM t;;",
            "INSERT INTO t VALUES (1); -- done",
            "INSERT INTO t VALUES (1); # done\n",
            "INSERT INTO t VALUES (1); /* done */",
        ] {
            assert!(!may_commit(data), "{data}");
        }
    }

    #[test]
    fn quotes_and_comments_hide_semicolons() {
        for data in [
            "INSERT INTO t VALUES ('a; CREATE TABLE x (a int)')",
            "INSERT INTO t VALUES (\"a; DROP TABLE t\")",
            "INSERT INTO `we;ird` VALUES (1)",
            "INSERT INTO `a``; DROP TABLE t` VALUES (1)",
            "INSERT INTO t VALUES ('it''s; DROP TABLE t')",
            "INSERT INTO t VALUES (1) -- ; CREATE TABLE x\n",
            "# ; DROP TABLE t\nINSERT INTO t VALUES (1)",
            "/* ; DROP TABLE t */ INSERT INTO t VALUES (1)",
        ] {
            assert!(!may_commit(data), "{data}");
        }
        for unsure in [
            // Unterminated: what follows cannot be judged.
            "INSERT INTO t VALUES ('abc; DROP TABLE t",
            "INSERT INTO t VALUES (1); /* CREATE",
            "INSERT INTO `t; DROP TABLE t",
            // With backslash escapes off the string ends at `\'` and `c'` opens one
            // that never ends.
            "INSERT INTO t VALUES ('a\\'b; c')",
            // With backslash escapes off the string ends at `\'`, and a CREATE follows.
            "INSERT INTO t VALUES ('a\\'); CREATE TABLE x (a int); -- ')",
        ] {
            assert!(may_commit(unsure), "{unsure}");
        }
    }

    #[test]
    fn single_statements_are_told_apart() {
        for one in [
            "ALTER TABLE t ADD c int",
            "ALTER TABLE t ADD c int;",
            "-- x\nALTER TABLE `a;b` ADD c int; -- done",
            "CREATE PROCEDURE p() BEGIN INSERT INTO t VALUES (1); END",
        ] {
            // The body's `;` splits it here: the parser sends DELIMITER bodies whole,
            // but the text alone cannot tell, so only the first three are single.
            assert_eq!(
                single_statement(one),
                !one.starts_with("CREATE PROC"),
                "{one}"
            );
        }
        for many in [
            "INSERT INTO t VALUES (1); ALTER TABLE t ADD c int",
            "ALTER TABLE t ADD c int /*!, ADD d int */",
            "ALTER TABLE t COMMENT 'unterminated",
            "",
            "-- only a comment",
        ] {
            assert!(!single_statement(many), "{many}");
        }
    }

    #[test]
    fn executable_comments_count_as_committing() {
        for text in [
            "INSERT /*! IGNORE */ INTO t VALUES (1)",
            "INSERT INTO t VALUES (1); /*!50001 CREATE VIEW v AS SELECT 1 */",
            "/*M!100100 DROP TABLE t */",
            "INSERT INTO t VALUES (1) /*!; DROP TABLE t */",
        ] {
            assert!(may_commit(text), "{text}");
        }
    }
}
