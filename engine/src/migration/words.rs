//! Reading SQL words and names without a parser: enough to find the table a DDL
//! statement names (for the lock-wait guard and the review's probes), with comments and
//! backticks handled and nothing allocated beyond the names found.

/// The table a DDL statement locks first, as (schema, table), when its text says it
/// plainly: `ALTER`/`DROP`/`TRUNCATE`/`RENAME TABLE t`, `CREATE`/`DROP INDEX i ON t`.
pub(crate) fn ddl_table(sql: &str) -> Option<(Option<String>, String)> {
    let mut w = Words(sql);
    let upper = |s: &str| s.to_ascii_uppercase();
    let mut first = upper(&w.word()?);
    if first == "CREATE" || first == "ALTER" || first == "DROP" {
        // Modifiers before the object kind.
        let mut kind = upper(&w.word()?);
        while matches!(
            kind.as_str(),
            "OR" | "REPLACE" | "ONLINE" | "OFFLINE" | "IGNORE" | "UNIQUE" | "FULLTEXT" | "SPATIAL"
        ) {
            kind = upper(&w.word()?);
        }
        if kind == "INDEX" && first != "ALTER" {
            // `… INDEX [IF [NOT] EXISTS] name ON table`
            while upper(&w.ident()?) != "ON" {}
            return w.name();
        }
        if kind != "TABLE" {
            return None;
        }
        first = "TABLE".into();
    } else if first == "TRUNCATE" || first == "RENAME" {
        if is_word(&w, "TABLE") {
            w.word();
        }
        first = "TABLE".into();
    }
    if first != "TABLE" {
        return None;
    }
    if is_word(&w, "IF") {
        w.word();
        while is_word(&w, "NOT") || is_word(&w, "EXISTS") {
            w.word();
        }
    }
    w.name()
}

/// Whether the next word is `want` (a keyword, any case).
pub(crate) fn is_word(w: &Words<'_>, want: &str) -> bool {
    w.clone()
        .word()
        .is_some_and(|x| x.eq_ignore_ascii_case(want))
}

/// A tiny reader of SQL words and names; comments and blanks are skipped.
#[derive(Clone)]
pub(crate) struct Words<'a>(pub(crate) &'a str);

impl Words<'_> {
    pub(crate) fn skip(&mut self) {
        loop {
            let s = self.0.trim_start();
            self.0 = if let Some(r) = s.strip_prefix("/*") {
                r.find("*/").map_or("", |e| &r[e + 2..])
            } else if s.starts_with('#') || s.starts_with("-- ") || s.starts_with("--\n") {
                s.find('\n').map_or("", |e| &s[e..])
            } else {
                self.0 = s;
                return;
            };
        }
    }

    /// The next bare word (letters, digits, `_`, `$`).
    pub(crate) fn word(&mut self) -> Option<String> {
        self.skip();
        let end = self
            .0
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(self.0.len());
        let (w, rest) = self.0.split_at(end);
        self.0 = rest;
        (!w.is_empty()).then(|| w.to_owned())
    }

    /// The next identifier, bare or in backticks.
    pub(crate) fn ident(&mut self) -> Option<String> {
        self.skip();
        match self.0.strip_prefix('`') {
            Some(r) => {
                let mut out = String::new();
                let mut rest = r;
                loop {
                    let end = rest.find('`')?;
                    out.push_str(&rest[..end]);
                    rest = &rest[end + 1..];
                    match rest.strip_prefix('`') {
                        Some(r) => {
                            out.push('`');
                            rest = r;
                        }
                        None => break,
                    }
                }
                self.0 = rest;
                Some(out)
            }
            None => self.word(),
        }
    }

    /// `name` or `schema.name`.
    pub(crate) fn name(&mut self) -> Option<(Option<String>, String)> {
        let a = self.ident()?;
        self.skip();
        match self.0.strip_prefix('.') {
            Some(r) => {
                self.0 = r;
                Some((Some(a), self.ident()?))
            }
            None => Some((None, a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_tables() {
        let t = |sql| ddl_table(sql).map(|(s, t)| format!("{}|{t}", s.unwrap_or_default()));
        for (sql, want) in [
            ("ALTER TABLE t ADD COLUMN c int", "|t"),
            ("alter online ignore table `s`.`t``x` add c int", "s|t`x"),
            (
                "-- why\nALTER TABLE /* c */ shop . orders ADD c int",
                "shop|orders",
            ),
            ("ALTER TABLE IF EXISTS t DROP c", "|t"),
            ("DROP TABLE IF EXISTS a, b", "|a"),
            ("TRUNCATE t", "|t"),
            ("TRUNCATE TABLE s.t", "s|t"),
            ("RENAME TABLE a TO b", "|a"),
            ("CREATE UNIQUE INDEX i ON t (a)", "|t"),
            ("CREATE INDEX IF NOT EXISTS i ON `x`.t (a)", "x|t"),
            ("DROP INDEX i ON t", "|t"),
            ("CREATE OR REPLACE TABLE n (a int)", "|n"),
        ] {
            assert_eq!(t(sql).as_deref(), Some(want), "{sql}");
        }
        for sql in [
            "CREATE VIEW v AS SELECT 1",
            "ALTER DATABASE d CHARSET utf8mb4",
            "INSERT INTO t VALUES (1)",
            "ALTER TABLE `unterminated",
            "",
        ] {
            assert_eq!(t(sql), None, "{sql}");
        }
    }
}
