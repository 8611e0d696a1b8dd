//! Text that must fit the AWS APIs' limits (counted in characters, not bytes).

/// `s` cut to at most `max` characters; a cut string ends in `…` so readers know.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// `head` followed by as many `items` as fit in `max` characters, joined by `, `; when
/// some do not fit, ends with ` and N more`. Never longer than `max`.
pub fn list_within(head: &str, items: &[String], max: usize) -> String {
    let mut out = head.to_owned();
    for (i, item) in items.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let rest = items.len() - i - 1;
        // Room for this item plus, if others follow, the longest possible tail.
        let tail = if rest == 0 {
            0
        } else {
            format!(" and {} more", rest + 1).chars().count()
        };
        let needed = sep.chars().count() + item.chars().count();
        if out.chars().count() + needed + tail > max {
            out.push_str(&format!(" and {} more", items.len() - i));
            return truncate(&out, max);
        }
        out.push_str(sep);
        out.push_str(item);
    }
    truncate(&out, max)
}

/// `s` with control characters (newlines included) replaced by spaces: one log line.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo", 4), "hél…");
        assert_eq!(truncate("ééééé", 3).chars().count(), 3);
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn list_within_fits_and_says_how_many_are_left_out() {
        let items: Vec<String> = (0..1000).map(|i| format!("{i:04}-migration.sql")).collect();
        let s = list_within("Applied 1000: ", &items, 2048);
        assert!(s.chars().count() <= 2048, "{}", s.len());
        assert!(s.starts_with("Applied 1000: 0000-migration.sql, 0001"));
        let shown = s.matches("-migration.sql").count();
        assert!(s.ends_with(&format!(" and {} more", 1000 - shown)), "{s}");
        assert_eq!(
            list_within("x: ", &items[..2], 2048),
            "x: 0000-migration.sql, 0001-migration.sql"
        );
    }

    #[test]
    fn list_within_with_huge_items_stays_bounded() {
        let items = vec!["é".repeat(5000), "b".into()];
        let s = list_within("h: ", &items, 100);
        assert!(s.chars().count() <= 100);
        assert_eq!(s, "h:  and 2 more");
    }

    #[test]
    fn one_line_removes_newlines() {
        assert_eq!(one_line("a\nb\r\tc"), "a b  c");
    }
}
