//! sql-migrate's apply order: ids that start with digits first, by that number, then by
//! byte-wise id; ids without leading digits after them, by byte-wise id.

use std::cmp::Ordering;

use super::Migration;

/// The version of an id: its leading ASCII digits as an i64, `Ok(None)` when it has none,
/// `Err(())` when the digits do not fit in an i64 (sql-migrate panics there; we refuse).
#[allow(clippy::result_unit_err)]
pub fn version_of(id: &str) -> Result<Option<i64>, ()> {
    let mut version: Option<i64> = None;
    for b in id.bytes().take_while(u8::is_ascii_digit) {
        let v = version.unwrap_or(0);
        version = Some(
            v.checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(b - b'0')))
                .ok_or(())?,
        );
    }
    Ok(version)
}

/// Compares two (id, version) pairs as sql-migrate does.
pub fn compare(a_id: &str, a_version: Option<i64>, b_id: &str, b_version: Option<i64>) -> Ordering {
    match (a_version, b_version) {
        (Some(a), Some(b)) if a != b => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => a_id.as_bytes().cmp(b_id.as_bytes()),
    }
}

/// Sorts migrations into apply order.
pub fn sort(migrations: &mut [Migration<'_>]) {
    migrations.sort_by(|a, b| compare(a.id, a.version, b.id, b.version));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_of("20240101-x.sql"), Ok(Some(20240101)));
        assert_eq!(version_of("001_a.sql"), Ok(Some(1)));
        assert_eq!(version_of("a.sql"), Ok(None));
        assert_eq!(
            version_of("9223372036854775807_max.sql"),
            Ok(Some(i64::MAX))
        );
        assert_eq!(version_of("9223372036854775808_over.sql"), Err(()));
        assert_eq!(version_of("00009223372036854775807"), Ok(Some(i64::MAX)));
        assert_eq!(version_of("92233720368547758070"), Err(()));
        assert_eq!(version_of("0"), Ok(Some(0)));
    }

    #[test]
    fn order_matches_sql_migrate() {
        let mut ids = vec![
            "b.sql", "10_a.sql", "2_z.sql", "a.sql", "02_a.sql", "1.sql", "B.sql",
        ];
        ids.sort_by(|a, b| compare(a, version_of(a).unwrap(), b, version_of(b).unwrap()));
        assert_eq!(
            ids,
            [
                "1.sql", "02_a.sql", "2_z.sql", "10_a.sql", "B.sql", "a.sql", "b.sql"
            ]
        );
    }
}
