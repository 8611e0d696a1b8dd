//! `--dry-run --sql`: the SQL a run would send, in order, as one script for the `mysql`
//! (or `mariadb`) client. Every bookkeeping statement and every transaction boundary
//! comes from [`super::bookkeeping`], which the run itself sends from.
//!
//! What differs, because a client script cannot do it: the run holds the lock on a
//! second connection, the script on its own session (a failed `GET_LOCK` stops it with
//! an error); the run resets its session after a migration that may have changed it
//! (`COM_RESET_CONNECTION` would release the script's lock), the script only sends the
//! session's settings again; the script times nothing (`duration_ms` stays NULL); its
//! `running` rows name its own session (`CONNECTION_ID()`), so a later run finds them as
//! it finds a dead run's.

use std::fmt::Write as _;
use std::time::Duration;

use super::bookkeeping::StepSql;
use mysql::prelude::Queryable;

use super::journal::ADOPT_CHUNK;
use super::sql::query_err;
use super::{Database, Missing, StoreError};
use crate::migration::Migration;
use crate::plan::{self, Action, Plan, keeps_session, replays_on_resume};

/// The session note of a script's `running` rows: its own session, as a run's are.
const NOTE: &str = "CONCAT('session ', CONNECTION_ID())";

impl Database {
    /// The script of a run of `plan` over `migrations` (after a dry run's read, which
    /// noted the missing tables), waiting up to `lock_timeout` for the lock.
    pub(super) fn script(
        &mut self,
        migrations: &[Migration<'_>],
        plan: &Plan,
        lock_timeout: Duration,
    ) -> Result<String, StoreError> {
        let (first, after_reset) = self.handshake_names()?;
        let t = &self.tables;
        let mut s = Script::default();
        s.comment(
            "lambda-migrate: the SQL this run would send, in order. Run it with the mysql \
             client (mysql ... < FILE); it stops at the first error.",
        );
        s.comment(&format!(
            "{} migration(s); bookkeeping in {} and {}.",
            plan.steps.len(),
            t.history,
            t.journal
        ));
        s.blank();
        s.comment("The session, as each of the run's sessions starts.");
        self.session_again(&mut s, first.as_deref());
        s.comment(
            "The migration lock. The run holds it on a second connection; this script on its \
             own session, and stops here when it is not obtained (sql_mode refuses the value).",
        );
        s.sql(&format!(
            "SET SESSION sql_mode = IF({} = 1, @@SESSION.sql_mode, 'lambda_migrate_lock_not_obtained')",
            t.get_lock_expr(lock_timeout)
        ));
        if self.missing != Missing::None {
            s.blank();
            s.comment("The bookkeeping tables, missing now: the run creates them.");
            if self.missing == Missing::Both {
                s.sql(&t.create_history_sql());
            }
            s.sql(&t.create_journal_sql());
        }
        if !plan.adopt.is_empty() {
            s.blank();
            s.comment("Checksums of migrations applied without one (e.g. by sql-migrate).");
            for chunk in plan.adopt.chunks(ADOPT_CHUNK) {
                s.sql(&t.adopt_sql(migrations, chunk));
            }
        }
        let mut marked: Option<String> = None;
        for (n, step) in plan.steps.iter().enumerate() {
            let m = &migrations[step.index];
            self.step(
                &mut s,
                (m, step, n),
                plan,
                migrations,
                &mut marked,
                after_reset.as_deref(),
            );
        }
        s.blank();
        s.comment("The end of the run.");
        s.sql(&t.release_lock_sql());
        Ok(s.out)
    }

    /// When the DSN names no character set: the one a run's session has from the
    /// handshake, and the one it has after a reset, each as `SET NAMES`, for a client
    /// whose own default may be another. Asked, not assumed: MariaDB keeps the driver's
    /// utf8mb4_general_ci across a reset, MySQL 9 goes to utf8mb4_0900_ai_ci. The dry
    /// run's session holds nothing, so resetting it costs nothing.
    fn handshake_names(&mut self) -> Result<(Option<String>, Option<String>), StoreError> {
        if !self.handshake_names {
            return Ok((None, None));
        }
        let first = self.session_names()?;
        let after = match self.conn.reset() {
            Ok(()) => self.session_names()?,
            Err(_) => first.clone(),
        };
        Ok((first, after))
    }

    fn session_names(&mut self) -> Result<Option<String>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .query_first("SELECT @@character_set_client, @@collation_connection")
            .map_err(query_err("reading the session's character set"))?;
        let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        Ok(row
            .filter(|(cs, co)| plain(cs) && plain(co))
            .map(|(cs, co)| format!("SET NAMES '{cs}' COLLATE '{co}'")))
    }

    /// One step of the script: its header, then what the run sends for it.
    /// `at`: the migration, its step and the step's index in `plan`.
    fn step(
        &self,
        s: &mut Script,
        at: (&Migration<'_>, &plan::Step, usize),
        plan: &Plan,
        migrations: &[Migration<'_>],
        marked: &mut Option<String>,
        names: Option<&str>,
    ) {
        let (m, step, n) = at;
        let t = &self.tables;
        let mut w = StepSql::new(m, step);
        let stmts = w.stmts;
        let total = w.total();
        let resume_from = step.resume_from.min(total);
        let runs = step.action == Action::Run;
        s.blank();
        s.comment(&format!(
            "==== migration {} of {}: {} ({}{})",
            n + 1,
            plan.steps.len(),
            m.id,
            step.direction,
            if runs { "" } else { ", recorded only" }
        ));
        s.comment(&format!("file: {}", m.origin));
        s.comment(&format!("sha256: {}", m.sha256));
        s.comment(&format!(
            "statements: {total}{}",
            if resume_from > 0 {
                format!(", resumed after {resume_from} committed")
            } else {
                String::new()
            }
        ));
        if runs && resume_from < total && marked.as_deref() != Some(m.id) {
            s.batch(&w.start(t, NOTE));
        }
        if runs {
            for st in &stmts[..resume_from] {
                if replays_on_resume(&st.sql) {
                    s.comment("sent again to set up the session before resuming:");
                    s.sql(&st.sql);
                }
            }
            for (i, st) in stmts.iter().enumerate().skip(resume_from) {
                if let Some(sql) = w.before(t, i) {
                    s.sql(&sql);
                }
                s.comment(&format!(
                    "statement {} of {total} (line {})",
                    i + 1,
                    st.line
                ));
                s.sql(&st.sql);
                if let Some(b) = w.after(t, i) {
                    s.batch(&b);
                }
            }
        }
        let next = plan.steps.get(n + 1).map(|s| (&migrations[s.index], s));
        let announce = t.announce_sql(next, NOTE);
        s.comment(&format!("---- end of {}", m.id));
        s.batch(&w.finish(
            t,
            step.final_state(),
            None,
            announce.as_ref().map(|(_, b)| b.as_slice()),
        ));
        *marked = announce.map(|(id, _)| id);
        if runs && !stmts.iter().all(|st| keeps_session(&st.sql)) {
            s.comment(
                "The run resets its session here (the migration may have changed it); this \
                 script sends the session's settings again.",
            );
            self.session_again(s, names);
        }
    }

    /// The session's settings: the character set the handshake gives (`names`, unless
    /// the DSN names one), then what the run sends.
    fn session_again(&self, s: &mut Script, names: Option<&str>) {
        if let Some(names) = names {
            s.sql(names);
        }
        s.batch(&self.session);
    }
}

/// A script being written.
#[derive(Default)]
struct Script {
    out: String,
}

impl Script {
    fn blank(&mut self) {
        self.out.push('\n');
    }

    /// A comment line. Ids and file names are untrusted: a line break in one would end
    /// the comment and start SQL, so every control character is escaped.
    fn comment(&mut self, text: &str) {
        self.out.push_str("-- ");
        for c in text.chars() {
            if c.is_control() {
                let _ = write!(self.out, "\\u{{{:x}}}", c as u32);
            } else {
                self.out.push(c);
            }
        }
        self.out.push('\n');
    }

    fn batch(&mut self, b: &[String]) {
        for sql in b {
            self.sql(sql);
        }
    }

    /// One statement, sent as the run sends it: its text whole. Its terminator is on a
    /// line of its own (the text may end in a `--` comment). A text that holds a `;`
    /// (a stored program's body, a string, several statements) goes between `DELIMITER`
    /// lines, with a delimiter that occurs nowhere in it, so that the client sends it
    /// in one piece.
    fn sql(&mut self, sql: &str) {
        let text = sql.trim_end_matches(['\n', '\r']);
        if !text.contains(';') {
            self.out.push_str(text);
            self.out.push_str("\n;\n");
            return;
        }
        let delimiter = delimiter_for(text);
        let _ = write!(
            self.out,
            "DELIMITER {delimiter}\n{text}\n{delimiter}\nDELIMITER ;\n"
        );
    }
}

/// `$$`, or a longer run of `$` when the text holds that: a delimiter that occurs
/// nowhere in `text` (the client looks for it outside quotes and comments only, but
/// nowhere is simpler to be sure of).
fn delimiter_for(text: &str) -> String {
    let mut d = String::from("$$");
    while text.contains(&d) {
        d.push('$');
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_keep_their_text_and_their_semicolons() {
        let mut s = Script::default();
        s.sql("CREATE TABLE t (a int) -- why");
        s.sql("INSERT INTO t VALUES ('a;b')");
        s.sql("CREATE PROCEDURE p() BEGIN SELECT '$$'; END");
        assert_eq!(
            s.out,
            "CREATE TABLE t (a int) -- why\n;\n\
             DELIMITER $$\nINSERT INTO t VALUES ('a;b')\n$$\nDELIMITER ;\n\
             DELIMITER $$$\nCREATE PROCEDURE p() BEGIN SELECT '$$'; END\n$$$\nDELIMITER ;\n"
        );
    }

    #[test]
    fn comments_cannot_be_broken_out_of() {
        let mut s = Script::default();
        s.comment("1_a.sql\nDROP DATABASE x;\r\u{0}");
        assert_eq!(s.out, "-- 1_a.sql\\u{a}DROP DATABASE x;\\u{d}\\u{0}\n");
        assert_eq!(s.out.lines().count(), 1);
    }
}
