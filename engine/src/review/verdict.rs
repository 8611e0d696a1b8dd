//! Verdicts: a statement's from what the server said and the table's size, a
//! migration's from its statements and its lint findings.

use super::{Algorithm, MigrationVerdict, ReviewEntry, Verdict};
use crate::lint::{Finding, Severity};

/// Above this many row versions the INSTANT budget is nearly spent (MySQL caps a table
/// at 64 since 8.0.29; the next INSTANT change then rebuilds it).
const ROW_VERSIONS_NEAR_CAP: u64 = 60;

/// Sets `entry`'s verdict and adds the reasons for it, given the seconds one run may
/// take (`None`: no deadline). Reasons already in the entry (refusals, what was not
/// probed) are kept in front.
pub fn judge(entry: &mut ReviewEntry, deadline_secs: Option<f64>) {
    let mut verdict = Verdict::Safe;
    let mut raise = |v: Verdict| verdict = verdict.max(v);
    let mut reasons = Vec::new();
    match entry.algorithm {
        Algorithm::NotProbed => raise(Verdict::Review),
        Algorithm::Instant => {
            if let Some(v) = entry.row_versions.filter(|v| *v >= ROW_VERSIONS_NEAR_CAP) {
                raise(Verdict::Review);
                reasons.push(format!(
                    "the table has {v} row versions of 64: once they are spent the server \
                     rebuilds it instead (OPTIMIZE TABLE resets the count, and copies it)"
                ));
            }
        }
        Algorithm::Inplace | Algorithm::Copy => {
            let copies = entry.algorithm == Algorithm::Copy;
            let rebuilds = copies || entry.rebuilds.unwrap_or(true);
            let blocks_writes = entry.lock != "NONE";
            if copies {
                raise(Verdict::Review);
                reasons.push(format!(
                    "copies the whole table ({} rows, {}){}",
                    entry.rows,
                    bytes(entry.data_bytes + entry.index_bytes),
                    if blocks_writes { " and blocks writes until it ends" } else { "" }
                ));
            } else if blocks_writes {
                raise(Verdict::Review);
                reasons.push(format!(
                    "in place, but with LOCK={}: writes wait until it ends",
                    entry.lock
                ));
            } else if rebuilds {
                raise(Verdict::Review);
                reasons.push(format!(
                    "rebuilds the table in place ({} rows, {}); writes go on",
                    entry.rows,
                    bytes(entry.data_bytes + entry.index_bytes)
                ));
            }
            if let Some(d) = deadline_secs
                && entry.estimate_secs > d
            {
                raise(Verdict::Danger);
                reasons.push(format!(
                    "estimated {:.0} s, longer than one run's {:.0} s: the run would be \
                     stopped part-way; apply it with an online schema change tool \
                     (gh-ost, pt-online-schema-change) and record it with `skip`",
                    entry.estimate_secs, d
                ));
            } else if entry.estimate_secs >= 1.0 {
                reasons.push(format!("estimated {:.0} s", entry.estimate_secs));
            }
        }
    }
    if !entry.blockers.is_empty() {
        raise(Verdict::Review);
        let ids: Vec<String> = entry
            .blockers
            .iter()
            .map(|b| format!("{} ({}@{}, {} s)", b.connection, b.user, b.host, b.age_secs))
            .collect();
        reasons.push(format!(
            "sessions hold locks on the table now: {}; the ALTER waits for them, and every \
             new query on the table queues behind it",
            ids.join(", ")
        ));
    }
    if entry
        .reasons
        .iter()
        .any(|r| r.starts_with("the server refuses it"))
    {
        raise(Verdict::Danger);
    }
    entry.verdict = verdict;
    entry.reasons.extend(reasons);
}

/// A migration's verdict: the worst of its entries and its unsuppressed lint findings
/// (an error is danger, a warning needs review).
pub fn judge_migration(
    migration: &str,
    entries: &[ReviewEntry],
    findings: &[Finding],
) -> MigrationVerdict {
    let mut reasons: Vec<(Verdict, String)> = Vec::new();
    for e in entries.iter().filter(|e| e.migration == migration) {
        for r in &e.reasons {
            reasons.push((e.verdict, format!("statement {} ({}): {r}", e.statement, e.table)));
        }
    }
    for f in findings
        .iter()
        .filter(|f| f.migration == migration && !f.suppressed)
    {
        let v = match f.severity {
            Severity::Error => Verdict::Danger,
            Severity::Warning => Verdict::Review,
            Severity::Notice => Verdict::Safe,
        };
        reasons.push((v, format!("statement {}: {} ({})", f.statement, f.message, f.rule)));
    }
    reasons.sort_by(|a, b| b.0.cmp(&a.0));
    let verdict = entries
        .iter()
        .filter(|e| e.migration == migration)
        .map(|e| e.verdict)
        .chain(reasons.iter().map(|r| r.0))
        .max()
        .unwrap_or(Verdict::Safe);
    MigrationVerdict {
        migration: migration.to_owned(),
        verdict,
        reasons: reasons.into_iter().map(|(_, r)| r).collect(),
    }
}

/// A byte count for people: `12.3 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
