//! One statement as the parser collects it, and sql-migrate's rule for where a statement
//! ends (its last word before a `--` comment ends with `;`).

use std::borrow::Cow;

use super::Statement;

/// The statement being collected: a borrowed run of the source while it stays contiguous,
/// copied out the first time it is not.
pub(super) struct Pending<'a> {
    src: &'a str,
    start: usize,
    end: usize,
    owned: Option<String>,
    pub(super) first_line: Option<usize>,
}

impl<'a> Pending<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Pending {
            src,
            start: 0,
            end: 0,
            owned: None,
            first_line: None,
        }
    }

    pub(super) fn text(&self) -> &str {
        self.owned
            .as_deref()
            .unwrap_or(&self.src[self.start..self.end])
    }

    /// Only whitespace so far. `first_line` is set by the first line with anything else,
    /// so this is O(1): re-trimming the text per line made blank runs quadratic.
    pub(super) fn is_blank(&self) -> bool {
        self.first_line.is_none()
    }

    /// Appends `line` plus `\n`. `at..next` is the line's span in the source including
    /// its terminator; `clean` says that terminator is exactly `\n`.
    pub(super) fn push_line(
        &mut self,
        line: &str,
        number: usize,
        at: usize,
        next: usize,
        clean: bool,
    ) {
        if self.first_line.is_none() && !line.trim().is_empty() {
            self.first_line = Some(number);
        }
        match &mut self.owned {
            None if clean && (self.start == self.end || self.end == at) => {
                if self.start == self.end {
                    self.start = at;
                }
                self.end = next;
            }
            None => {
                let mut s = String::with_capacity(self.end - self.start + line.len() + 1);
                s.push_str(&self.src[self.start..self.end]);
                s.push_str(line);
                s.push('\n');
                self.owned = Some(s);
            }
            Some(s) => {
                s.push_str(line);
                s.push('\n');
            }
        }
    }

    /// Takes the statement, cutting `cut` bytes off its end (a DELIMITER token and what
    /// follows it).
    pub(super) fn take(&mut self, number: usize, cut: usize) -> Statement<'a> {
        let line = self.first_line.unwrap_or(number);
        let sql = match self.owned.take() {
            Some(mut s) => {
                s.truncate(s.len() - cut);
                Cow::Owned(s)
            }
            None => Cow::Borrowed(&self.src[self.start..self.end - cut]),
        };
        self.start = 0;
        self.end = 0;
        self.first_line = None;
        Statement { sql, line }
    }
}

/// Whether sql-migrate sees `line` as ending a statement: its last word before the first
/// word starting with `--` ends with `;`.
pub(super) fn ends_with_semicolon(line: &str) -> bool {
    if line.is_ascii() {
        ends_with_semicolon_ascii(line.as_bytes())
    } else {
        ends_with_semicolon_words(line)
    }
}

/// The rule as stated, over Unicode whitespace (Go's `strings.Fields`).
pub(super) fn ends_with_semicolon_words(line: &str) -> bool {
    let mut last = "";
    for word in line.split_whitespace() {
        if word.starts_with("--") {
            break;
        }
        last = word;
    }
    last.ends_with(';')
}

/// The same rule over ASCII bytes without splitting: cut at the first `--` that starts a
/// word, then look at the last non-space byte. Go's ASCII whitespace includes `\x0b`.
pub(super) fn ends_with_semicolon_ascii(b: &[u8]) -> bool {
    let space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    // Most lines hold no `-` at all: `contains` on bytes is a memchr.
    let end = if b.contains(&b'-') {
        (0..b.len() - 1)
            .find(|&i| b[i] == b'-' && b[i + 1] == b'-' && (i == 0 || space(b[i - 1])))
            .unwrap_or(b.len())
    } else {
        b.len()
    };
    b[..end].iter().rev().find(|&&c| !space(c)) == Some(&b';')
}
