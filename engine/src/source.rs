//! Where migrations come from: a zip artifact (memory-mapped) or a plain directory.
//!
//! Opening does the I/O; [`Source::files`] is then a pure walk over bytes in memory.

use std::borrow::Cow;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::artifact::{self, Archive, Limits, SqlFolders, ZipError};
use crate::mapped::Mapped;

/// A source of migration files.
pub enum Source {
    /// A zip artifact, mapped read-only.
    Zip {
        /// The artifact's path, for messages.
        path: PathBuf,
        /// The mapped bytes.
        map: Mapped,
    },
    /// A directory of `.sql` files, read into memory when opened.
    Dir {
        /// The directory's path.
        path: PathBuf,
        /// `(file name, display path, contents)` of each `.sql` file directly inside.
        files: Vec<(String, String, Vec<u8>)>,
    },
}

/// One migration file from a source.
#[derive(Debug, Clone)]
pub struct SourceFile<'a> {
    /// The file's base name: the migration id.
    pub name: &'a str,
    /// Where it came from, for messages: the path inside the archive, or on disk.
    pub origin: &'a str,
    /// The file's bytes.
    pub data: Cow<'a, [u8]>,
}

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The path could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// The zip artifact was refused.
    #[error("{path}: {source}")]
    Zip {
        /// The artifact's path.
        path: String,
        /// Why it was refused.
        source: ZipError,
    },
    /// A file in the directory is larger than the limit.
    #[error("{path}: file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The file.
        path: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A file name in the directory is not valid UTF-8.
    #[error("{dir}: a file name is not valid UTF-8: {name:?}")]
    BadName {
        /// The directory.
        dir: String,
        /// The name, lossily decoded.
        name: String,
    },
    /// The directory holds more `.sql` files than the limit.
    #[error("{path}: more than {limit} migration files")]
    TooMany {
        /// The directory.
        path: String,
        /// The limit.
        limit: usize,
    },
}

impl Source {
    /// Opens `path`: a directory is read now (its `.sql` files, directly inside, like
    /// sql-migrate's file source); anything else is mapped as a zip artifact.
    pub fn open(path: &Path, limits: &Limits) -> Result<Source, SourceError> {
        let io_err = |source| SourceError::Io {
            path: path.display().to_string(),
            source,
        };
        let meta = fs::metadata(path).map_err(io_err)?;
        if meta.is_dir() {
            return read_dir(path, limits);
        }
        let map = Mapped::open(path).map_err(io_err)?;
        Ok(Source::Zip {
            path: path.to_path_buf(),
            map,
        })
    }

    /// A short description for messages: the path of the artifact or directory.
    pub fn display(&self) -> String {
        match self {
            Source::Zip { path, .. } | Source::Dir { path, .. } => path.display().to_string(),
        }
    }

    /// The migration files: for a zip artifact, the `.sql` files directly in the
    /// migrations folder `dir` (see [`artifact::Archive::select`]); for a directory, its
    /// `.sql` files (`dir` does not apply: the directory is the migrations folder).
    pub fn files(&self, dir: &str, limits: &Limits) -> Result<Vec<SourceFile<'_>>, SourceError> {
        match self {
            Source::Zip { path, map } => artifact::read_migrations(map, dir, limits)
                .map(|files| {
                    files
                        .into_iter()
                        .map(|f| SourceFile {
                            name: f.name,
                            origin: f.path,
                            data: f.data,
                        })
                        .collect()
                })
                .map_err(|source| SourceError::Zip {
                    path: path.display().to_string(),
                    source,
                }),
            Source::Dir { files, .. } => Ok(files
                .iter()
                .map(|(name, origin, data)| SourceFile {
                    name,
                    origin,
                    data: Cow::Borrowed(data),
                })
                .collect()),
        }
    }
}

/// A source with no migration where they were looked for: an error unless an empty set
/// was asked for, since a wrong folder otherwise passes as "nothing to do". It says where
/// the `.sql` files are instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct NoMigrations {
    /// The artifact or directory, for messages.
    pub artifact: String,
    /// The folder looked in inside an artifact (`""`: its root); `None` for a directory.
    pub folder: Option<String>,
    /// The `.sql` files found elsewhere: in the artifact's other folders, or in the
    /// directory's subdirectories.
    pub elsewhere: SqlFolders,
}

/// Folders named one by one in a [`NoMigrations`] message; the rest are summed.
const NAMED_FOLDERS: usize = 3;

impl NoMigrations {
    fn describe(&self) -> String {
        let mut out = match &self.folder {
            Some(f) if f.is_empty() => format!("{}: no migrations at its root", self.artifact),
            Some(f) => format!("{}: no migrations under {f}/", self.artifact),
            None => format!("{}: no .sql files in this directory", self.artifact),
        };
        let e = &self.elsewhere;
        if e.is_empty() {
            out.push_str(match self.folder {
                Some(_) => ", and no .sql file anywhere in it",
                None => " nor in its subdirectories",
            });
            return out;
        }
        let mut parts = Vec::new();
        for (i, (folder, n)) in e.folders.iter().take(NAMED_FOLDERS).enumerate() {
            let what = if i > 0 {
                n.to_string()
            } else if *n == 1 {
                "1 .sql file".to_string()
            } else {
                format!("{n} .sql files")
            };
            parts.push(if folder.is_empty() {
                format!("{what} at the root")
            } else {
                format!("{what} under {folder}/")
            });
        }
        let rest: usize = e.folders.iter().skip(NAMED_FOLDERS).map(|(_, n)| n).sum();
        if rest + e.other > 0 {
            parts.push(format!("{} elsewhere", rest + e.other));
        }
        out.push_str(": ");
        out.push_str(&parts.join(", "));
        out
    }

    /// The folder holding the most `.sql` files: what `--dir` (or, for a directory, a
    /// subdirectory as `--source`) should probably name.
    pub fn likely_folder(&self) -> Option<&str> {
        self.elsewhere.folders.first().map(|(f, _)| f.as_str())
    }
}

impl Source {
    /// What to say when `files(dir)` found nothing: where the `.sql` files are instead.
    /// The census runs only on this error path; a census that fails counts nothing.
    pub fn no_migrations(&self, dir: &str) -> NoMigrations {
        match self {
            Source::Zip { path, map } => NoMigrations {
                artifact: path.display().to_string(),
                folder: Some(dir.trim_end_matches('/').to_owned()),
                elsewhere: Archive::new(map)
                    .and_then(|a| a.sql_folders())
                    .unwrap_or_default(),
            },
            Source::Dir { path, .. } => NoMigrations {
                artifact: path.display().to_string(),
                folder: None,
                elsewhere: subdirectory_sql(path),
            },
        }
    }
}

/// `.sql` files one level down from `path`, by subdirectory.
fn subdirectory_sql(path: &Path) -> SqlFolders {
    let mut found = Vec::new();
    for sub in fs::read_dir(path).into_iter().flatten().flatten() {
        if !sub.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Some(sub_name) = sub.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        for file in fs::read_dir(sub.path()).into_iter().flatten().flatten() {
            if let Some(name) = file.file_name().to_str() {
                found.push(format!("{sub_name}/{name}"));
            }
        }
    }
    SqlFolders::count(found.iter().map(|p| p.as_bytes()))
}

/// Why a migrations folder (`--dir`, `MIGRATIONS_DIR`, the event's and the pipeline's
/// `dir`) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FolderError {
    /// A leading `/` or a drive letter.
    #[error(
        "folder {given:?} is an absolute path; it names a folder inside the artifact ('' for its root)"
    )]
    Absolute {
        /// What was given.
        given: String,
    },
    /// A `..` segment, which would leave the artifact.
    #[error("folder {given:?} has a '..' segment; it names a folder inside the artifact")]
    Parent {
        /// What was given.
        given: String,
    },
    /// An empty or `.` segment, a backslash or a control character.
    #[error("folder {given:?} has {what}")]
    Malformed {
        /// What was given.
        given: String,
        /// What is wrong.
        what: &'static str,
    },
}

/// Checks and normalizes a migrations folder inside an artifact, the same for every
/// front end: leading `./` and trailing `/` are dropped, and `""`, `.` and `./` mean the
/// artifact's root (its `.sql` files directly, with no repository fallback). An absolute
/// path, a `..`, `.` or empty segment, a backslash or a control character is refused: no
/// entry we would read can sit there (see [`crate::artifact`]'s canonical names).
pub fn parse_folder(given: &str) -> Result<String, FolderError> {
    let refuse_with = |what| FolderError::Malformed {
        given: given.to_owned(),
        what,
    };
    let bytes = given.as_bytes();
    if given.starts_with('/')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
    {
        return Err(FolderError::Absolute {
            given: given.to_owned(),
        });
    }
    if given.contains('\\') {
        return Err(refuse_with("a backslash ('/' separates folders)"));
    }
    if given.chars().any(char::is_control) {
        return Err(refuse_with("a control character"));
    }
    let mut f = given;
    while let Some(rest) = f.strip_prefix("./") {
        f = rest;
    }
    let f = f.trim_end_matches('/');
    if f.is_empty() || f == "." {
        return Ok(String::new());
    }
    for segment in f.split('/') {
        match segment {
            ".." => {
                return Err(FolderError::Parent {
                    given: given.to_owned(),
                });
            }
            "." => return Err(refuse_with("a '.' segment")),
            "" => return Err(refuse_with("an empty segment ('//')")),
            _ => {}
        }
    }
    Ok(f.to_owned())
}

fn read_dir(path: &Path, limits: &Limits) -> Result<Source, SourceError> {
    let io_err = |p: &Path, source| SourceError::Io {
        path: p.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    // One read buffer for every file: most migrations are small, and reading into a
    // fresh Vec costs a probe read or a stat per file.
    let mut buf = vec![0u8; 64 * 1024];
    for entry in fs::read_dir(path).map_err(|e| io_err(path, e))? {
        let entry = entry.map_err(|e| io_err(path, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(SourceError::BadName {
                dir: path.display().to_string(),
                name: name.to_string_lossy().into_owned(),
            });
        };
        if !name.ends_with(".sql") {
            continue;
        }
        let file_path = entry.path();
        // The entry's type comes with the listing; only symlinks need a stat. Symlinks
        // are followed, as sql-migrate's file source does; directories are skipped.
        let kind = entry.file_type().map_err(|e| io_err(&file_path, e))?;
        let is_file = if kind.is_symlink() {
            fs::metadata(&file_path)
                .map_err(|e| io_err(&file_path, e))?
                .is_file()
        } else {
            kind.is_file()
        };
        if !is_file {
            continue;
        }
        if files.len() >= limits.max_files {
            return Err(SourceError::TooMany {
                path: path.display().to_string(),
                limit: limits.max_files,
            });
        }
        let data = fs::File::open(&file_path)
            .and_then(|f| read_bounded(f, limits.max_file_size, &mut buf))
            .map_err(|e| io_err(&file_path, e))?
            .ok_or_else(|| SourceError::TooLarge {
                path: file_path.display().to_string(),
                limit: limits.max_file_size,
            })?;
        files.push((name.to_owned(), file_path.display().to_string(), data));
    }
    Ok(Source::Dir {
        path: path.to_path_buf(),
        files,
    })
}

/// Reads `file` to its end through `buf`; `None` when it holds more than `limit` bytes
/// (checked while reading: the file may grow after it was listed).
fn read_bounded(mut file: fs::File, limit: u64, buf: &mut [u8]) -> io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    loop {
        let n = match file.read(buf) {
            Ok(0) => return Ok(Some(data)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if (data.len() + n) as u64 > limit {
            return Ok(None);
        }
        data.extend_from_slice(&buf[..n]);
    }
}

/// Where the migrations come from, parsed once at the edge that names it (the CLI's
/// `--source`, the migrator event's `BucketName`/`ObjectKey`/`inline_zip`, the trigger's
/// job) and opened in one place: locally by [`SourceSpec::open_local`], from S3 and inline
/// by the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A local directory of `.sql` files: it is the migrations folder.
    Dir(PathBuf),
    /// A local zip artifact; the migrations are in its folder (`--dir`).
    Zip(PathBuf),
    /// An S3 object holding a zip artifact.
    S3 {
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
    },
    /// A zip sent inside the migrator's event, base64-encoded as the event carries it.
    Inline(String),
}

/// Why a source could not be named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceSpecError {
    /// An `s3://` URL without a bucket.
    #[error("{input:?}: the bucket name is empty")]
    EmptyBucket {
        /// What was given.
        input: String,
    },
    /// An `s3://` URL without a key.
    #[error("{input:?}: the object key is empty")]
    EmptyKey {
        /// What was given.
        input: String,
    },
    /// An event gave both an inline zip and an S3 object, or neither, or empty names.
    #[error("{0}")]
    Event(&'static str),
}

impl SourceSpec {
    /// Parses what `--source` gives: `s3://bucket/key`, else a local path (a directory,
    /// else a zip artifact; a missing path fails when opened, naming it).
    pub fn parse(s: &str) -> Result<SourceSpec, SourceSpecError> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(SourceSpecError::EmptyBucket { input: s.into() });
            }
            if key.is_empty() {
                return Err(SourceSpecError::EmptyKey { input: s.into() });
            }
            return Ok(SourceSpec::S3 {
                bucket: bucket.into(),
                key: key.into(),
            });
        }
        Ok(SourceSpec::local(Path::new(s)))
    }

    /// A local path: a directory, else a zip artifact.
    pub fn local(path: &Path) -> SourceSpec {
        if path.is_dir() {
            SourceSpec::Dir(path.to_path_buf())
        } else {
            SourceSpec::Zip(path.to_path_buf())
        }
    }

    /// The migrator event's fields: an inline zip, or a bucket and a key.
    pub fn from_event(
        bucket: Option<&str>,
        key: Option<&str>,
        inline_zip: Option<&str>,
    ) -> Result<SourceSpec, SourceSpecError> {
        match (inline_zip, bucket, key) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(SourceSpecError::Event(
                "give either inline_zip or BucketName and ObjectKey",
            )),
            (Some(zip), None, None) => Ok(SourceSpec::Inline(zip.to_owned())),
            (None, Some(bucket), Some(key)) => {
                if bucket.is_empty() || key.is_empty() {
                    return Err(SourceSpecError::Event(
                        "BucketName and ObjectKey must not be empty",
                    ));
                }
                Ok(SourceSpec::S3 {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })
            }
            _ => Err(SourceSpecError::Event(
                "BucketName and ObjectKey (or inline_zip) are required",
            )),
        }
    }

    /// Opens a local source (`None` for S3 and inline ones, which the runtime opens).
    pub fn open_local(&self, limits: &Limits) -> Option<Result<Source, SourceError>> {
        match self {
            SourceSpec::Dir(p) | SourceSpec::Zip(p) => Some(Source::open(p, limits)),
            SourceSpec::S3 { .. } | SourceSpec::Inline(_) => None,
        }
    }
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Dir(p) | SourceSpec::Zip(p) => write!(f, "{}", p.display()),
            SourceSpec::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            SourceSpec::Inline(_) => f.write_str("inline artifact"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Source) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> = s
            .files(crate::settings::DEFAULT_FOLDER, &Limits::default())
            .unwrap()
            .iter()
            .map(|f| (f.name.to_string(), f.data.len()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn directory_takes_sql_files_and_followed_symlinks_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        fs::write(p.join("1_a.sql"), "-- +migrate Up\n").unwrap();
        fs::write(p.join("notes.txt"), "x").unwrap();
        fs::create_dir(p.join("2_dir.sql")).unwrap();
        // Larger than the read buffer: read in several pieces.
        fs::write(p.join("3_big.sql"), vec![b'x'; 200_000]).unwrap();
        std::os::unix::fs::symlink(p.join("1_a.sql"), p.join("4_link.sql")).unwrap();
        std::os::unix::fs::symlink(p.join("2_dir.sql"), p.join("5_dirlink.sql")).unwrap();
        let s = Source::open(p, &Limits::default()).unwrap();
        assert_eq!(
            names(&s),
            [
                ("1_a.sql".to_string(), 15),
                ("3_big.sql".to_string(), 200_000),
                ("4_link.sql".to_string(), 15)
            ]
        );
    }

    #[test]
    fn directory_file_over_the_limit_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("1_a.sql"), vec![b'x'; 100_001]).unwrap();
        let limits = Limits {
            max_file_size: 100_000,
            ..Limits::default()
        };
        match Source::open(dir.path(), &limits) {
            Err(e @ SourceError::TooLarge { .. }) => {
                assert!(e.to_string().contains("1_a.sql"), "{e}")
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("accepted a file over the limit"),
        }
        fs::write(dir.path().join("1_a.sql"), vec![b'x'; 100_000]).unwrap();
        assert!(Source::open(dir.path(), &limits).is_ok());
    }

    #[test]
    fn a_source_is_parsed_once() {
        let s3 = SourceSpec::parse("s3://b/k/a.zip").unwrap();
        assert_eq!(
            s3,
            SourceSpec::S3 {
                bucket: "b".into(),
                key: "k/a.zip".into()
            }
        );
        assert_eq!(s3.to_string(), "s3://b/k/a.zip");
        for bad in ["s3://", "s3://b", "s3://b/", "s3:///k"] {
            assert!(SourceSpec::parse(bad).is_err(), "{bad}");
        }
        let dir = std::env::temp_dir();
        assert_eq!(
            SourceSpec::parse(dir.to_str().unwrap()).unwrap(),
            SourceSpec::Dir(dir.clone())
        );
        assert!(matches!(
            SourceSpec::parse("no/such/a.zip").unwrap(),
            SourceSpec::Zip(_)
        ));
        let e = |b, k, i| SourceSpec::from_event(b, k, i);
        assert!(matches!(
            e(None, None, Some("eg==")),
            Ok(SourceSpec::Inline(_))
        ));
        assert!(matches!(
            e(Some("b"), Some("k"), None),
            Ok(SourceSpec::S3 { .. })
        ));
        assert!(e(Some("b"), None, Some("eg==")).is_err());
        assert!(e(Some(""), Some("k"), None).is_err());
        assert!(e(Some("b"), None, None).is_err());
        assert!(
            SourceSpec::parse("s3://b/k")
                .unwrap()
                .open_local(&Limits::default())
                .is_none()
        );
    }

    #[test]
    fn folders_are_checked_and_normalized() {
        for (given, folder) in [
            ("migrations", "migrations"),
            ("./db/sql/", "db/sql"),
            ("././db", "db"),
            ("", ""),
            (".", ""),
            ("./", ""),
        ] {
            assert_eq!(parse_folder(given).as_deref(), Ok(folder), "{given:?}");
        }
        for bad in [
            "/",
            "/migrations",
            "C:/m",
            "..",
            "../m",
            "db/../m",
            "db//m",
            "db/./m",
            "db\\m",
            "db\nm",
        ] {
            let e = parse_folder(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        assert!(matches!(
            parse_folder("/"),
            Err(FolderError::Absolute { .. })
        ));
        assert!(matches!(
            parse_folder("a/.."),
            Err(FolderError::Parent { .. })
        ));
    }

    #[test]
    fn an_empty_folder_says_where_the_sql_files_are() {
        let none = |folders: &[(&str, usize)], other| NoMigrations {
            artifact: "art.zip".into(),
            folder: Some("migrations".into()),
            elsewhere: SqlFolders {
                folders: folders.iter().map(|(f, n)| (f.to_string(), *n)).collect(),
                other,
            },
        };
        assert_eq!(
            none(&[("", 2)], 0).to_string(),
            "art.zip: no migrations under migrations/: 2 .sql files at the root"
        );
        let e = none(&[("db/sql", 59), ("", 1), ("a", 1), ("b", 1)], 2);
        assert_eq!(
            e.to_string(),
            "art.zip: no migrations under migrations/: 59 .sql files under db/sql/, 1 at the root, 1 under a/, 3 elsewhere"
        );
        assert_eq!(e.likely_folder(), Some("db/sql"));
        assert_eq!(
            none(&[], 0).to_string(),
            "art.zip: no migrations under migrations/, and no .sql file anywhere in it"
        );
    }

    #[test]
    fn a_zip_census_counts_the_sql_files_outside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("a.zip");
        fs::write(
            &zip,
            zip_of(&[("1_a.sql", "x"), ("2_b.sql", "y"), ("db/3.sql", "z")]),
        )
        .unwrap();
        let s = Source::open(&zip, &Limits::default()).unwrap();
        assert!(
            s.files("migrations", &Limits::default())
                .unwrap()
                .is_empty()
        );
        let e = s.no_migrations("migrations");
        assert_eq!(
            e.elsewhere.folders,
            [(String::new(), 2), ("db".to_string(), 1)]
        );
        // A directory's census looks one level down.
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/1_a.sql"), "x").unwrap();
        let d = Source::open(dir.path(), &Limits::default()).unwrap();
        let e = d.no_migrations("migrations");
        assert_eq!(e.elsewhere.folders, [("sub".to_string(), 1)]);
        assert!(e.to_string().contains("1 .sql file under sub/"), "{e}");
    }

    /// A zip of `files`, written by the zip crate.
    fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }
}
