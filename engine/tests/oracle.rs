//! Differential property test: random archives written by the `zip` crate must select
//! and read the same migrations (names and bytes, in archive order) with our reader as
//! the `zip` crate reads for the same selection rule.

use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};

use engine::artifact::{Limits, read_migrations};
use proptest::prelude::*;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// One generated entry: where it goes, its id, contents, and how it is stored.
#[derive(Debug, Clone)]
struct Gen {
    kind: u8,
    id: String,
    data: Vec<u8>,
    deflate: bool,
}

impl Gen {
    /// The path inside the archive (before any repository prefix).
    fn path(&self) -> String {
        let id = &self.id;
        match self.kind {
            0..=3 => format!("migrations/{id}.sql"),
            4 => format!("migrations/sub/{id}.sql"),
            5 => format!("migrations/{id}.SQL"),
            6 => format!("migrations/{id}.txt"),
            7 => format!("{id}.sql"),
            8 => format!("migrations_old/{id}.sql"),
            _ => format!("other/{id}.bin"),
        }
    }
}

fn contents() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Random bytes: deflate stores them, more or less.
        prop::collection::vec(any::<u8>(), 0..600),
        // Repetitive SQL-like text: deflate shrinks it.
        (1usize..200, "[a-zA-Z ;()\n]{1,30}").prop_map(|(n, s)| s.repeat(n).into_bytes()),
    ]
}

fn entry() -> impl Strategy<Value = Gen> {
    (0u8..10, "[a-z0-9_]{1,8}", contents(), any::<bool>()).prop_map(|(kind, id, data, deflate)| {
        Gen {
            kind,
            id,
            data,
            deflate,
        }
    })
}

fn comment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        2 => prop::collection::vec(any::<u8>(), 1..300),
        1 => (60_000usize..=65_535, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ]
}

/// Writes the archive with the `zip` crate: seekable or streaming (data descriptors),
/// optionally with ZIP64 extras, optionally under a repository folder.
fn write(entries: &[Gen], prefix: &str, comment: &[u8], stream: bool, zip64: bool) -> Vec<u8> {
    fn add<W: Write + std::io::Seek>(
        w: &mut ZipWriter<W>,
        entries: &[Gen],
        prefix: &str,
        comment: &[u8],
        zip64: bool,
    ) {
        for e in entries {
            let method = if e.deflate {
                CompressionMethod::Deflated
            } else {
                CompressionMethod::Stored
            };
            let options = SimpleFileOptions::default()
                .last_modified_time(DateTime::DEFAULT)
                .compression_method(method)
                .large_file(zip64);
            w.start_file(format!("{prefix}{}", e.path()), options)
                .unwrap();
            w.write_all(&e.data).unwrap();
        }
        w.set_raw_comment(comment.into()).unwrap();
    }
    if stream {
        let mut out = Vec::new();
        let mut w = ZipWriter::new_stream(&mut out);
        add(&mut w, entries, prefix, comment, zip64);
        w.finish().unwrap();
        out
    } else {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        add(&mut w, entries, prefix, comment, zip64);
        w.finish().unwrap().into_inner()
    }
}

/// The selection rule applied to what the `zip` crate reads.
fn expected(bytes: &[u8], folder: &str) -> Vec<(String, Vec<u8>)> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let Some(rest) = name.strip_prefix(folder) else {
            continue;
        };
        if rest.contains('/') || !rest.ends_with(".sql") {
            continue;
        }
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.push((rest.to_owned(), data));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn same_selection_as_zip_crate(
        raw in prop::collection::vec(entry(), 0..24),
        comment in comment(),
        repo in any::<bool>(),
        stream in any::<bool>(),
        zip64 in any::<bool>(),
    ) {
        // The zip crate refuses duplicate names when writing.
        let mut seen = BTreeSet::new();
        let entries: Vec<Gen> = raw.into_iter().filter(|e| seen.insert(e.path())).collect();
        let prefix = if repo { "repo-1a2b3c/" } else { "" };
        let bytes = write(&entries, prefix, &comment, stream, zip64);

        let ours: Vec<(String, Vec<u8>)> = read_migrations(&bytes, "migrations", &Limits::default())
            .unwrap_or_else(|e| panic!("our reader refused a zip-crate archive: {e}"))
            .into_iter()
            .map(|f| (f.name.to_owned(), f.data.into_owned()))
            .collect();
        let theirs = expected(&bytes, &format!("{prefix}migrations/"));
        prop_assert_eq!(&ours, &theirs);
        // Kinds 0..=3 are exactly the selectable ones.
        let want = entries.iter().filter(|e| e.kind <= 3).count();
        prop_assert_eq!(ours.len(), want);
    }
}
