//! The parsers every setting goes through, whichever layer gives it: sizes (`4MiB`,
//! `512KiB`, `4194304`), durations (`10s`, `2m`, `1500ms`, `1m30s`), counts, booleans.
//!
//! A bare number is read in the setting's *bare unit* ([`Bare`]): the unit its name has
//! always implied (`MAX_FILE_SIZE_MB=4` is 4 MiB, `--max-file-size 4194304` is bytes,
//! `LOCK_TIMEOUT_SECS=60` is seconds), so every old value keeps its meaning while a value
//! with a unit means the same on every path.

use std::time::Duration;

/// What a bare number (no unit) means for one setting on one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    /// Bytes.
    Bytes,
    /// Mebibytes (the `_MB` variables have always meant 2^20 bytes).
    MiB,
    /// Seconds (fractions allowed: `2.5`).
    Secs,
    /// Milliseconds.
    Millis,
    /// No unit: a count, a word or a path.
    None,
}

impl Bare {
    /// How the unit is written after a number.
    pub fn suffix(self) -> &'static str {
        match self {
            Bare::Bytes => "bytes",
            Bare::MiB => "MiB",
            Bare::Secs => "s",
            Bare::Millis => "ms",
            Bare::None => "",
        }
    }
}

/// Parses a size: a whole number of `bare` units, or a number with a unit (`B`, `KiB`,
/// `MiB`, `GiB`, and `KB`/`MB`/`GB`/`K`/`M`/`G` read as the same powers of two, as the
/// `_MB` variables always were). `None` when it is not one, or overflows.
pub fn parse_size(s: &str, bare: Bare) -> Option<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let scale: u64 = match s[digits..].trim() {
        "" => match bare {
            Bare::MiB => 1 << 20,
            _ => 1,
        },
        "B" | "b" => 1,
        "K" | "k" | "KB" | "kB" | "KiB" => 1 << 10,
        "M" | "MB" | "MiB" => 1 << 20,
        "G" | "GB" | "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// Parses a duration: a non-negative number of `bare` units (`60`, `2.5`), or Go's form
/// (`10s`, `1500ms`, `2m`, `1m30s`, `1h`). `None` when it is not one.
pub fn parse_duration(s: &str, bare: Bare) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let n: f64 = s.parse().ok()?;
        let secs = match bare {
            Bare::Millis => n / 1000.0,
            _ => n,
        };
        return Duration::try_from_secs_f64(secs).ok();
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(Duration::try_from_secs_f64(n * scale).ok()?)?;
    }
    Some(total)
}

/// Parses a whole, non-negative count.
pub fn parse_count(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

/// Parses a boolean as the Lambdas always took it: `true`/`1`/`yes` or
/// `false`/`0`/`no`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// A command-line flag's duration: a bare number is seconds (clap's value parser).
pub fn duration_flag(s: &str) -> Result<Duration, String> {
    parse_duration(s, Bare::Secs).ok_or_else(|| format!("not a duration: {s:?} (e.g. 60, 30s, 2m)"))
}

/// A command-line flag's size: a bare number is bytes (clap's value parser).
pub fn size_flag(s: &str) -> Result<u64, String> {
    parse_size(s, Bare::Bytes)
        .ok_or_else(|| format!("not a size: {s:?} (e.g. 4MiB, 512KiB, or bytes)"))
}

/// Writes a duration the way the parsers read it back: `60s`, `1500ms`, `15m`.
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let secs = ms / 1000;
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if secs >= 600 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Writes a size the way the parsers read it back: `4MiB`, `512KiB`, `100B`.
pub fn show_size(n: u64) -> String {
    for (unit, scale) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= scale && n.is_multiple_of(scale) {
            return format!("{}{unit}", n / scale);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_a_unit_or_the_bare_one() {
        assert_eq!(parse_size("4MiB", Bare::Bytes), Some(4 << 20));
        assert_eq!(parse_size("4 MiB", Bare::Bytes), Some(4 << 20));
        assert_eq!(parse_size("512KiB", Bare::MiB), Some(512 << 10));
        assert_eq!(parse_size("4194304", Bare::Bytes), Some(4 << 20));
        assert_eq!(parse_size("4", Bare::MiB), Some(4 << 20));
        assert_eq!(parse_size("4MB", Bare::Bytes), Some(4 << 20));
        assert_eq!(parse_size("1G", Bare::Bytes), Some(1 << 30));
        for bad in [
            "",
            "MiB",
            "-1",
            "4.5MiB",
            "4 parsecs",
            "99999999999999999999",
        ] {
            assert_eq!(parse_size(bad, Bare::MiB), None, "{bad}");
        }
        assert_eq!(parse_size("99999999999999GiB", Bare::Bytes), None);
    }

    #[test]
    fn durations_take_a_unit_or_the_bare_one() {
        let s = Duration::from_secs;
        assert_eq!(parse_duration("10", Bare::Secs), Some(s(10)));
        assert_eq!(
            parse_duration("2.5", Bare::Secs),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            parse_duration("1500", Bare::Millis),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_duration("1m30s", Bare::Secs), Some(s(90)));
        assert_eq!(parse_duration("2m", Bare::Millis), Some(s(120)));
        assert_eq!(
            parse_duration("250ms", Bare::Secs),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_duration("1.5s", Bare::Secs),
            Some(Duration::from_millis(1500))
        );
        for bad in ["", "5x", "s", "-1", "soon", "a minute", "1..2"] {
            assert_eq!(parse_duration(bad, Bare::Secs), None, "{bad}");
        }
    }

    #[test]
    fn what_is_shown_reads_back() {
        for d in [60_000u64, 1500, 15_000, 900_000, 3_600_000, 0] {
            let d = Duration::from_millis(d);
            assert_eq!(parse_duration(&show_duration(d), Bare::None), Some(d));
        }
        for n in [4u64 << 20, 512 << 10, 100, 1 << 30] {
            assert_eq!(parse_size(&show_size(n), Bare::None), Some(n));
        }
        assert_eq!(show_size(4 << 20), "4MiB");
        assert_eq!(show_duration(Duration::from_secs(60)), "60s");
    }

    #[test]
    fn counts_and_booleans() {
        assert_eq!(parse_count(" 3 "), Some(3));
        assert_eq!(parse_count("-1"), None);
        assert_eq!(parse_bool("yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
