//! Where an archive's `.sql` files are, by folder: asked only when the migrations folder
//! holds none, so the error can say which folder was meant (issue 19: a zip whose files
//! sit at its root used to pass as "nothing to do").
//!
//! A second walk over the central directory, never on the happy path; it reads names
//! only, so it works on a partially fetched file too.

use std::collections::HashMap;

use super::walk::strip_dot;
use super::{Archive, ZipError, central, name};

/// Folders counted by name at most; `.sql` files in further folders count as `other`
/// (a hostile archive could hold a million folders).
const MAX_FOLDERS: usize = 1_000;

/// `.sql` files by folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqlFolders {
    /// Each folder (`""` for the root, else without a trailing `/`) with its count, most
    /// files first, then by name.
    pub folders: Vec<(String, usize)>,
    /// `.sql` files whose folder is not listed: not canonical UTF-8 (no `--dir` could
    /// name it), or past the cap.
    pub other: usize,
}

impl SqlFolders {
    /// Counts `paths` (`/`-separated, `""` folder for the root), as [`Archive::sql_folders`]
    /// does for entry names.
    pub fn count<'p>(paths: impl IntoIterator<Item = &'p [u8]>) -> SqlFolders {
        let mut by_folder: HashMap<&[u8], usize> = HashMap::new();
        let mut other = 0;
        for path in paths {
            let path = strip_dot(path);
            let (folder, file) = match path.iter().rposition(|&b| b == b'/') {
                Some(i) => (&path[..i], &path[i + 1..]),
                None => (&path[..0], path),
            };
            // `.sql` alone is no migration (sql-migrate needs a name before it).
            if file.len() <= 4 || !file.ends_with(b".sql") {
                continue;
            }
            let nameable = std::str::from_utf8(folder).is_ok()
                && (folder.is_empty() || name::flaw(folder).is_none());
            let room = by_folder.len() < MAX_FOLDERS;
            match by_folder.get_mut(folder) {
                Some(n) if nameable => *n += 1,
                None if nameable && room => {
                    by_folder.insert(folder, 1);
                }
                _ => other += 1,
            }
        }
        let mut folders: Vec<(String, usize)> = by_folder
            .into_iter()
            .map(|(f, n)| (String::from_utf8_lossy(f).into_owned(), n))
            .collect();
        folders.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        SqlFolders { folders, other }
    }

    /// Whether no `.sql` file was found at all.
    pub fn is_empty(&self) -> bool {
        self.folders.is_empty() && self.other == 0
    }
}

impl Archive<'_> {
    /// Every `.sql` file's folder, from the central directory alone.
    pub fn sql_folders(&self) -> Result<SqlFolders, ZipError> {
        let (mut pos, end) = self.bounds()?;
        let mut names = Vec::new();
        while pos < end {
            let rec = central::skim_slow(self.data, pos, end)?;
            pos = rec.next;
            names.push(rec.name);
        }
        Ok(SqlFolders::count(names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(paths: &[&str]) -> SqlFolders {
        SqlFolders::count(paths.iter().map(|p| p.as_bytes()))
    }

    #[test]
    fn folders_are_counted_most_files_first() {
        let f = count(&[
            "1_a.sql",
            "./2_b.sql",
            "db/sql/1.sql",
            "db/sql/2.sql",
            "db/sql/3.sql",
            "db/sql/",
            "README.md",
            "db/.sql",
            "../up/1.sql",
            "a\\b/1.sql",
        ]);
        assert_eq!(
            f.folders,
            [("db/sql".to_string(), 3), (String::new(), 2)],
            "{f:?}"
        );
        assert_eq!(f.other, 2, "names no --dir could give");
        assert!(count(&["x.txt"]).is_empty());
    }

    #[test]
    fn the_folder_count_is_capped() {
        let names: Vec<String> = (0..MAX_FOLDERS + 5)
            .map(|i| format!("d{i}/1.sql"))
            .collect();
        let f = SqlFolders::count(names.iter().map(|n| n.as_bytes()));
        assert_eq!(f.folders.len(), MAX_FOLDERS);
        assert_eq!(f.other, 5);
    }
}
