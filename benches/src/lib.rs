//! Generators for the large artifacts the benchmarks read.
//!
//! [`ensure`] writes an artifact once into `target/bench-artifacts/` and reuses it
//! afterwards; generation is seeded, so every machine builds the same bytes. The
//! artifact mimics a CodePipeline build output: thousands of unrelated entries
//! (incompressible blobs stored, text deflated) with the `migrations/` folder in the
//! middle of the archive order, so a reader cannot find it by looking only at the ends.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// The shape of a generated artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// File name inside `target/bench-artifacts/`.
    pub file_name: &'static str,
    /// Entries other than the migrations.
    pub other_entries: usize,
    /// Migration files, placed in the middle of the archive order.
    pub migrations: usize,
    /// Size range of a stored blob, in bytes: `[min, max)`.
    pub blob_size: (usize, usize),
    /// Size range of a deflated text file, in bytes: `[min, max)`.
    pub text_size: (usize, usize),
}

/// The benchmark artifact: about 300 MB, 20,000 entries, 200 migrations.
pub const LARGE: Spec = Spec {
    file_name: "art-300m.zip",
    other_entries: 19_800,
    migrations: 200,
    blob_size: (20 * 1024, 40 * 1024),
    text_size: (4 * 1024, 16 * 1024),
};

/// A small artifact of the same shape for smoke runs (`cargo bench -- --test`).
pub const SMALL: Spec = Spec {
    file_name: "art-small.zip",
    other_entries: 1_000,
    migrations: 200,
    blob_size: (2 * 1024, 4 * 1024),
    text_size: (1024, 4 * 1024),
};

/// The folder generated artifacts live in: `$CARGO_TARGET_DIR/bench-artifacts`, by
/// default the workspace's `target/bench-artifacts`.
pub fn artifact_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("bench-artifacts")
}

/// Returns the path of `spec`'s artifact, writing it first if it does not exist.
pub fn ensure(spec: &Spec) -> io::Result<PathBuf> {
    let dir = artifact_dir();
    let path = dir.join(spec.file_name);
    if path.is_file() {
        return Ok(path);
    }
    fs::create_dir_all(&dir)?;
    // Written under a temporary name and renamed, so an interrupted run never leaves a
    // truncated artifact that later runs would reuse.
    let tmp = dir.join(format!("{}.{}.tmp", spec.file_name, std::process::id()));
    write(spec, &tmp)?;
    fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Writes `spec`'s artifact to `path`.
pub fn write(spec: &Spec, path: &Path) -> io::Result<()> {
    let mut rng = Rng::new(0x5EED_2024_0101);
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, File::create(path)?));
    let stamp = DateTime::from_date_and_time(2024, 1, 2, 3, 4, 6).map_err(io::Error::other)?;
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(stamp);
    let deflated = stored.compression_method(CompressionMethod::Deflated);
    let middle = spec.other_entries / 2;
    let mut buf = Vec::new();
    for i in 0..spec.other_entries {
        if i == middle {
            zip.add_directory("migrations/", stored)
                .map_err(io::Error::other)?;
            for (name, data) in migrations(spec.migrations) {
                zip.start_file(format!("migrations/{name}"), deflated)
                    .map_err(io::Error::other)?;
                zip.write_all(&data)?;
            }
        }
        buf.clear();
        if i % 2 == 0 {
            let len = rng.range(spec.blob_size);
            rng.fill(&mut buf, len);
            zip.start_file(format!("assets/{:02}/blob-{i:05}.bin", i % 64), stored)
                .map_err(io::Error::other)?;
        } else {
            let len = rng.range(spec.text_size);
            text(&mut rng, &mut buf, len);
            zip.start_file(
                format!("src/module-{:03}/file-{i:05}.txt", i % 500),
                deflated,
            )
            .map_err(io::Error::other)?;
        }
        zip.write_all(&buf)?;
    }
    zip.finish().map_err(io::Error::other)?.flush()
}

/// The `n` migration files of a generated artifact, `(file name, contents)` in archive
/// order: timestamped ids, each creating and filling one table, with a Down section.
pub fn migrations(n: usize) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng::new(0x4D16_2A7E);
    (0..n)
        .map(|i| {
            // One per hour from 2024-01-01 00:00, like sql-migrate's timestamp ids.
            let name = format!(
                "202401{:02}{:02}0000-create-table-{i:03}.sql",
                1 + i / 24,
                i % 24
            );
            let mut sql = format!(
                "-- +migrate Up\n\
                 -- Creates table_{i} for feature {i}.\n\
                 CREATE TABLE table_{i} (\n    \
                 id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n    \
                 name VARCHAR(255) NOT NULL,\n    \
                 amount DECIMAL(12, 2) NOT NULL DEFAULT 0,\n    \
                 created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n    \
                 KEY idx_table_{i}_name (name)\n\
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n\n"
            );
            let rows = 3 + rng.below(12);
            sql.push_str(&format!("INSERT INTO table_{i} (name, amount) VALUES\n"));
            for r in 0..rows {
                let sep = if r + 1 == rows { ";" } else { "," };
                sql.push_str(&format!(
                    "    ('row {r}; of table {i}', {}.{:02}){sep}\n",
                    rng.below(100_000),
                    rng.below(100)
                ));
            }
            sql.push_str(&format!("\n-- +migrate Down\nDROP TABLE table_{i};\n"));
            (name, sql.into_bytes())
        })
        .collect()
}

/// Compressible text: lines of words from a small vocabulary.
fn text(rng: &mut Rng, out: &mut Vec<u8>, len: usize) {
    const WORDS: &[&str] = &[
        "const", "let", "return", "function", "import", "export", "value", "handler", "config",
        "request", "response", "error", "await", "async", "string", "number",
    ];
    while out.len() < len {
        for _ in 0..8 {
            out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
            out.push(b' ');
        }
        out.push(b'\n');
    }
    out.truncate(len);
}

/// xorshift64*: deterministic and fast; quality is irrelevant here.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, (min, max): (usize, usize)) -> usize {
        min + self.below(max - min)
    }

    fn fill(&mut self, out: &mut Vec<u8>, len: usize) {
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
    }
}
