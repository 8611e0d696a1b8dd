//! Which statements the review can ask the server about, and the same change aimed at
//! a probe table: `ALTER TABLE t …`, `CREATE … INDEX i ON t …` and `DROP INDEX i ON t`
//! whose text names no other table. Pure: text in, text out.
//!
//! The change is retargeted by replacing the table's name where the statement names it,
//! never by printing a parsed tree again (a parser's printout may differ from what the
//! server reads). Anything that could reach another table or carry data is refused, with
//! the reason; a refused statement is reported as not probed and never run.

use crate::migration::words::{Words, is_word};

/// What the review does with one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Not a change the review asks about (not an ALTER or index statement).
    Other,
    /// An ALTER or index statement that cannot be aimed at a probe safely.
    Unprobeable {
        /// `(schema, table)` when the text names it.
        table: Option<(Option<String>, String)>,
        /// Why not.
        reason: String,
    },
    /// A change to ask the server about.
    Probe(Probe),
}

/// A change to one table, ready to aim at a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The schema the statement names, if any (else the session's).
    pub schema: Option<String>,
    /// The table.
    pub table: String,
    /// The text before the table's name.
    head: String,
    /// The text after it.
    tail: String,
    /// `ALTER TABLE` (options go right after the name) or an index statement (options
    /// go at the end).
    alter: bool,
    /// The statement sets `ALGORITHM=` or `LOCK=` itself: only it as written is asked.
    pub explicit: bool,
    /// It builds an index. Both servers accept `ALGORITHM=INSTANT` for that on an
    /// empty table (so on a probe) and refuse it on one with rows, so INSTANT is not
    /// asked: the answer would be the probe's, not the table's.
    pub adds_index: bool,
}

/// One way of asking: the algorithm and lock clauses added, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// `ALGORITHM=` value, or `None` for the statement as written.
    pub algorithm: Option<&'static str>,
    /// `LOCK=` value.
    pub lock: Option<&'static str>,
}

/// The attempts, in the order the review asks: the cheapest first. The first the
/// server accepts is what the change would get.
pub const ATTEMPTS: [Attempt; 6] = [
    Attempt {
        algorithm: Some("INSTANT"),
        lock: None,
    },
    Attempt {
        algorithm: Some("INPLACE"),
        lock: Some("NONE"),
    },
    Attempt {
        algorithm: Some("INPLACE"),
        lock: Some("SHARED"),
    },
    Attempt {
        algorithm: Some("INPLACE"),
        lock: Some("EXCLUSIVE"),
    },
    Attempt {
        algorithm: Some("COPY"),
        lock: Some("SHARED"),
    },
    Attempt {
        algorithm: None,
        lock: None,
    },
];

impl Probe {
    /// The change aimed at `probe` (a bare name in the statement's schema), with
    /// `attempt`'s clauses.
    pub fn sql(&self, probe: &str, attempt: Attempt) -> String {
        let name = match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(probe)),
            None => quote(probe),
        };
        let mut clauses = Vec::new();
        if let Some(a) = attempt.algorithm {
            clauses.push(format!("ALGORITHM={a}"));
        }
        if let Some(l) = attempt.lock {
            clauses.push(format!("LOCK={l}"));
        }
        if clauses.is_empty() {
            return format!("{}{name}{}", self.head, self.tail);
        }
        if self.alter {
            // `ALTER TABLE p ALGORITHM=…, LOCK=…, <the changes>`: options first, so a
            // trailing partition clause stays last.
            let rest = self.tail.trim_start();
            let sep = if rest.is_empty() { "" } else { ", " };
            format!("{}{name} {}{sep}{rest}", self.head, clauses.join(", "))
        } else {
            // On a new line: a trailing `-- comment` must not swallow the clauses.
            format!("{}{name}{}\n{}", self.head, self.tail, clauses.join(" "))
        }
    }
}

/// Quotes a name for MySQL.
fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Words in a statement that make it unsafe to aim at a probe, and why.
const REFUSED: [(&str, &str); 5] = [
    (
        "REFERENCES",
        "it names another table (a foreign key): a probe would lock that table too",
    ),
    (
        "FOREIGN",
        "it changes a foreign key, which CREATE TABLE … LIKE does not copy to a probe",
    ),
    (
        "SELECT",
        "it carries a query, which could read other tables",
    ),
    ("EXCHANGE", "it swaps a partition with another table"),
    (
        "TABLESPACE",
        "it discards or imports a tablespace, which a probe does not have",
    ),
];

/// Why a table rename is never probed.
const RENAMES: &str =
    "it renames the table: a probe renamed to the new name could take a real table's name";

/// What the review does with statement `sql`.
pub fn target(sql: &str) -> Target {
    let mut w = Words(sql);
    let Some(first) = w.word().map(|s| s.to_ascii_uppercase()) else {
        return Target::Other;
    };
    let alter = match first.as_str() {
        "ALTER" => true,
        "CREATE" | "DROP" => false,
        _ => return Target::Other,
    };
    let mut kind = match w.word() {
        Some(k) => k.to_ascii_uppercase(),
        None => return Target::Other,
    };
    while matches!(
        kind.as_str(),
        "ONLINE" | "OFFLINE" | "IGNORE" | "UNIQUE" | "FULLTEXT" | "SPATIAL"
    ) {
        kind = match w.word() {
            Some(k) => k.to_ascii_uppercase(),
            None => return Target::Other,
        };
    }
    match (alter, kind.as_str()) {
        (true, "TABLE") => {
            if is_word(&w, "IF") {
                return unprobeable(
                    sql,
                    "ALTER TABLE IF EXISTS: whether it runs depends on the server",
                );
            }
        }
        (false, "INDEX") => {
            // `… INDEX [IF [NOT] EXISTS] name [USING …] ON table`
            loop {
                match w.ident() {
                    Some(x) if x.eq_ignore_ascii_case("ON") => break,
                    Some(_) => {}
                    None => return unprobeable(sql, "its table could not be read"),
                }
            }
        }
        _ => return Target::Other,
    }
    w.skip();
    let at = sql.len() - w.0.len();
    let Some((schema, table)) = w.name() else {
        return unprobeable(sql, "its table could not be read");
    };
    // The name's reader skipped what follows it; keep that whitespace in the tail.
    let read = &sql[..sql.len() - w.0.len()];
    let end = read.trim_end().len().max(at);
    let tail = &sql[end..];
    let mut rest = Words(tail);
    let mut explicit = false;
    let mut adds_index = !alter;
    let mut previous = String::new();
    while let Some(word) = next_word(&mut rest) {
        let upper = word.to_ascii_uppercase();
        if alter && upper == "RENAME" && !next_is_one_of(&rest, &["COLUMN", "INDEX", "KEY"]) {
            return unprobeable(sql, RENAMES);
        }
        if let Some((_, why)) = REFUSED.iter().find(|(w, _)| *w == upper) {
            return Target::Unprobeable {
                table: Some((schema, table)),
                reason: (*why).to_owned(),
            };
        }
        // `ALGORITHM [=] INPLACE`, `LOCK [=] NONE`: a column named `lock` is not one.
        if (upper == "ALGORITHM"
            && next_is_one_of(&rest, &["DEFAULT", "INSTANT", "INPLACE", "COPY", "NOCOPY"]))
            || (upper == "LOCK"
                && next_is_one_of(&rest, &["DEFAULT", "NONE", "SHARED", "EXCLUSIVE"]))
        {
            explicit = true;
        }
        if matches!(
            upper.as_str(),
            "UNIQUE" | "PRIMARY" | "FULLTEXT" | "SPATIAL"
        ) || (previous == "ADD" && matches!(upper.as_str(), "INDEX" | "KEY"))
        {
            adds_index = true;
        }
        previous = upper;
    }
    Target::Probe(Probe {
        schema,
        table,
        head: sql[..at].to_owned(),
        tail: tail.to_owned(),
        alter,
        explicit,
        adds_index: adds_index && !is_drop_index(sql),
    })
}

/// `DROP INDEX`: removes one, which needs no rows read.
fn is_drop_index(sql: &str) -> bool {
    let mut w = Words(sql);
    w.word().is_some_and(|x| x.eq_ignore_ascii_case("DROP"))
}

fn unprobeable(sql: &str, reason: &str) -> Target {
    Target::Unprobeable {
        table: crate::migration::words::ddl_table(sql),
        reason: reason.to_owned(),
    }
}

/// The next bare word, skipping quoted strings, backticked names and punctuation, so a
/// word inside a string literal or a comment (`COMMENT 'see SELECT'`) is not read as SQL.
fn next_word(w: &mut Words<'_>) -> Option<String> {
    loop {
        w.skip();
        let c = w.0.chars().next()?;
        if c == '\'' || c == '"' {
            // A quoted string; a doubled or backslashed quote stays inside it.
            let body = &w.0[1..];
            let mut chars = body.char_indices();
            let mut end = body.len();
            while let Some((i, ch)) = chars.next() {
                if ch == '\\' {
                    chars.next();
                } else if ch == c {
                    if body[i + 1..].starts_with(c) {
                        chars.next();
                    } else {
                        end = i + 1;
                        break;
                    }
                }
            }
            w.0 = &body[end.min(body.len())..];
        } else if c == '`' {
            w.ident()?;
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            return w.word();
        } else {
            w.0 = &w.0[c.len_utf8()..];
        }
    }
}

fn next_is_one_of(w: &Words<'_>, words: &[&str]) -> bool {
    let mut peek = w.clone();
    next_word(&mut peek).is_some_and(|x| words.iter().any(|k| x.eq_ignore_ascii_case(k)))
}
