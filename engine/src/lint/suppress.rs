//! `-- lint:ignore RULE-ID[,RULE-ID...] reason` comments. sql-migrate's parser drops
//! comment lines, so they are read from the file's raw lines: the comments directly above
//! a statement's first line (a `StatementBegin` directive between them is looked through).

/// One `lint:ignore` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The rule ids it names, as written.
    pub rules: Vec<String>,
    /// Why; empty when none was given.
    pub reason: String,
}

const MARKER: &str = "lint:ignore";

/// Parses one line as a directive.
fn directive(line: &str) -> Option<Directive> {
    let rest = line.trim().strip_prefix("--")?.trim_start();
    let rest = rest.strip_prefix(MARKER)?;
    // `lint:ignored` is some other word.
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    let (ids, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    Some(Directive {
        rules: ids
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        reason: reason.trim().to_owned(),
    })
}

fn is_statement_begin(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.len() >= 3 && words[0] == "--" && words[1] == "+migrate" && words[2] == "StatementBegin"
}

/// The directives that apply to the statement whose first line is `line` (1-based), in
/// `lines` (the file's lines). Each is returned with its own 1-based line.
pub fn above(lines: &[&str], line: usize) -> Vec<(usize, Directive)> {
    let mut out = Vec::new();
    // `line - 1` is the statement's own index; the one above is `line - 2`.
    let mut at = line.saturating_sub(1);
    while at > 0 {
        let text = lines.get(at - 1).copied().unwrap_or("");
        if let Some(d) = directive(text) {
            out.push((at, d));
        } else if !(out.is_empty() && is_statement_begin(text)) {
            break;
        }
        at -= 1;
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_parse_with_and_without_reason() {
        let d = directive("  -- lint:ignore destructive/drop-table, the table is empty").unwrap();
        assert_eq!(d.rules, ["destructive/drop-table"]);
        assert_eq!(d.reason, "the table is empty");
        let d = directive("--lint:ignore a/b,c/d   why not").unwrap();
        assert_eq!(d.rules, ["a/b", "c/d"]);
        assert_eq!(d.reason, "why not");
        let d = directive("-- lint:ignore destructive/drop-table").unwrap();
        assert!(d.reason.is_empty());
        assert!(directive("-- lint:ignored x y").is_none());
        assert!(directive("DROP TABLE t; -- lint:ignore x y").is_none());
    }

    #[test]
    fn only_comments_directly_above_count() {
        let lines = [
            "-- +migrate Up",
            "-- lint:ignore a/b far away",
            "",
            "-- lint:ignore c/d first",
            "-- lint:ignore e/f second",
            "DROP TABLE t;",
            "-- lint:ignore g/h begin",
            "-- +migrate StatementBegin",
            "CREATE PROCEDURE p() BEGIN END;",
        ];
        let got: Vec<_> = above(&lines, 6)
            .into_iter()
            .map(|(l, d)| (l, d.rules))
            .collect();
        assert_eq!(
            got,
            [(4, vec!["c/d".to_owned()]), (5, vec!["e/f".to_owned()])]
        );
        let got = above(&lines, 9);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 7);
        assert!(above(&lines, 1).is_empty());
    }
}
