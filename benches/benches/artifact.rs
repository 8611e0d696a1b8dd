//! Reading the migrations out of the large artifact: our zero-copy reader against the
//! `zip` crate and rawzip, stage by stage, plus parser throughput.
//!
//! `cargo bench -p lambda-migrate-benches` uses the 300 MB artifact (written once into
//! `target/bench-artifacts/`); with `-- --test` (smoke mode) a small one of the same
//! shape, so CI stays quick.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::Limits;
use engine::artifact::Archive;
use engine::mapped::Mapped;
use engine::migration::{checksum, parse::parse};
use lambda_migrate_benches::{LARGE, SMALL, Spec, ensure, migrations};
use zip::ZipArchive;

fn spec() -> &'static Spec {
    if std::env::args().any(|a| a == "--test") {
        &SMALL
    } else {
        &LARGE
    }
}

fn artifact() -> PathBuf {
    ensure(spec()).expect("cannot write the benchmark artifact")
}

/// Our reader, as `verify` runs it: map, locate, select, read and hash every migration.
fn ours(path: &Path, limits: &Limits) -> usize {
    let map = Mapped::open(path).unwrap();
    let archive = Archive::new(&map).unwrap();
    let entries = archive.select("migrations", limits).unwrap();
    let mut n = 0;
    for entry in &entries {
        let file = archive.read(entry, limits).unwrap();
        black_box(checksum(&file.data));
        n += 1;
    }
    n
}

/// The `zip` crate over the same mapped bytes: parse the central directory, then
/// `by_name` + `read_to_end` + hash for every migration.
fn zip_crate(path: &Path, names: &[String]) -> usize {
    let map = Mapped::open(path).unwrap();
    zip_crate_over(Cursor::new(&map[..]), names)
}

/// The `zip` crate as it is usually used: over a buffered `File`.
fn zip_crate_file(path: &Path, names: &[String]) -> usize {
    zip_crate_over(BufReader::new(File::open(path).unwrap()), names)
}

fn zip_crate_over(reader: impl Read + Seek, names: &[String]) -> usize {
    let mut zip = ZipArchive::new(reader).unwrap();
    let mut buf = Vec::new();
    for name in names {
        buf.clear();
        zip.by_name(name).unwrap().read_to_end(&mut buf).unwrap();
        black_box(checksum(&buf));
    }
    names.len()
}

/// rawzip's central-directory walk over the same bytes, selecting `migrations/*.sql` as
/// ours does (a `.sql` name directly in the folder): what it yields per entry is the
/// central record, and the wayfinder is what a later read needs.
fn rawzip_select(bytes: &[u8]) -> Vec<rawzip::ZipArchiveEntryWayfinder> {
    let archive = rawzip::ZipArchive::from_slice(bytes).unwrap();
    let mut entries = archive.entries();
    let mut out = Vec::new();
    while let Some(e) = entries.next_entry().unwrap() {
        let path = e.file_path();
        let n = path.as_bytes();
        if let Some(rest) = n.strip_prefix(b"migrations/")
            && rest.ends_with(b".sql")
            && !rest.contains(&b'/')
        {
            out.push(e.wayfinder());
        }
    }
    out
}

/// rawzip's read of the selected entries: local header, inflate (flate2, one inflater
/// reused, as ours), size and CRC-32 verified by rawzip's verifying reader.
fn rawzip_read(
    bytes: &[u8],
    found: &[rawzip::ZipArchiveEntryWayfinder],
    mut each: impl FnMut(&[u8]),
) -> usize {
    let archive = rawzip::ZipArchive::from_slice(bytes).unwrap();
    let mut buf = Vec::new();
    let mut inflater = flate2::Decompress::new(false);
    for &w in found {
        let entry = archive.get_entry(w).unwrap();
        buf.clear();
        buf.reserve(w.uncompressed_size_hint() as usize);
        inflater.reset(false);
        inflater
            .decompress_vec(entry.data(), &mut buf, flate2::FlushDecompress::Finish)
            .unwrap();
        // The verifying reader checks size and CRC-32 of what it is given.
        let mut verify = entry.verifying_reader(&buf[..]);
        std::io::copy(&mut verify, &mut std::io::sink()).unwrap();
        each(&buf);
    }
    found.len()
}

/// rawzip as `ours` runs: map, locate, walk and select, read and hash every migration.
fn rawzip_all(path: &Path) -> usize {
    let map = Mapped::open(path).unwrap();
    let found = rawzip_select(&map);
    rawzip_read(&map, &found, |data| {
        black_box(checksum(data));
    })
}

fn bench(c: &mut Criterion) {
    let path = artifact();
    let limits = Limits::default();
    let files = migrations(spec().migrations);
    let names: Vec<String> = files
        .iter()
        .map(|(name, _)| format!("migrations/{name}"))
        .collect();

    // Both readers must agree with the generator before anything is timed.
    assert_eq!(ours(&path, &limits), files.len());
    assert_eq!(zip_crate(&path, &names), files.len());
    assert_eq!(zip_crate_file(&path, &names), files.len());
    assert_eq!(rawzip_all(&path), files.len());

    let mut group = c.benchmark_group("artifact");
    group.bench_function("ours: map+select+read+sha256 x200", |b| {
        b.iter(|| ours(&path, &limits))
    });
    group.bench_function("zip crate: open+by_name+read+sha256 x200", |b| {
        b.iter(|| zip_crate(&path, &names))
    });
    group.bench_function("zip crate over File: open+by_name+read+sha256 x200", |b| {
        b.iter(|| zip_crate_file(&path, &names))
    });
    group.bench_function("rawzip: map+walk+select+read+sha256 x200", |b| {
        b.iter(|| rawzip_all(&path))
    });
    group.finish();

    // Where our reader's time goes, over one map kept open.
    let map = Mapped::open(&path).unwrap();
    let archive = Archive::new(&map).unwrap();
    let entries = archive.select("migrations", &limits).unwrap();
    let contents: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| archive.read(e, &limits).unwrap().data.into_owned())
        .collect();
    let mut group = c.benchmark_group("stages");
    group.bench_function("map+unmap", |b| {
        b.iter(|| Mapped::open(&path).unwrap().len())
    });
    group.bench_function("locate+select", |b| {
        b.iter(|| {
            let archive = Archive::new(&map).unwrap();
            archive.select("migrations", &limits).unwrap().len()
        })
    });
    // The central directory alone (no local header read), as rawzip's walk below.
    group.bench_function("locate+walk", |b| {
        b.iter(|| {
            let archive = Archive::new(&map).unwrap();
            archive.candidates("migrations", &limits).unwrap().len()
        })
    });
    group.bench_function("rawzip: locate+walk+select", |b| {
        b.iter(|| rawzip_select(&map).len())
    });
    group.bench_function("read x200", |b| {
        b.iter(|| {
            for entry in &entries {
                black_box(archive.read(entry, &limits).unwrap());
            }
        })
    });
    let found = rawzip_select(&map);
    assert_eq!(found.len(), entries.len());
    group.bench_function("rawzip: read x200", |b| {
        b.iter(|| {
            rawzip_read(&map, &found, |data| {
                black_box(data);
            })
        })
    });
    // The floor under `read x200`: the same 200 raw deflate streams through flate2's
    // zlib-rs alone (one inflater, reset per stream) and through libdeflate, the fastest
    // deflate decoder there is; neither checks a CRC.
    let raw = rawzip::ZipArchive::from_slice(&map[..]).unwrap();
    let streams: Vec<(&[u8], usize)> = found
        .iter()
        .map(|&w| {
            let len = usize::try_from(w.uncompressed_size_hint()).unwrap();
            (raw.get_entry(w).unwrap().data(), len)
        })
        .collect();
    let mut out = vec![0u8; streams.iter().map(|s| s.1).max().unwrap_or(0) + 320];
    group.bench_function("flate2 (zlib-rs) inflate only x200", |b| {
        let mut inflater = flate2::Decompress::new(false);
        b.iter(|| {
            for &(raw, len) in &streams {
                inflater.reset(false);
                inflater
                    .decompress(raw, &mut out[..len + 320], flate2::FlushDecompress::Finish)
                    .unwrap();
                assert_eq!(inflater.total_out() as usize, len);
            }
        })
    });
    group.bench_function("libdeflate inflate only x200", |b| {
        let mut inflater = libdeflater::Decompressor::new();
        b.iter(|| {
            for &(raw, len) in &streams {
                assert_eq!(
                    inflater.deflate_decompress(raw, &mut out[..len]).unwrap(),
                    len
                );
            }
        })
    });
    group.bench_function("sha256 x200", |b| {
        b.iter(|| {
            for data in &contents {
                black_box(checksum(data));
            }
        })
    });
    group.finish();

    // The reader's share of a no-op `up` over 10,000 applied (scripts/bench-apply's
    // files): every file is read and checksummed, none parsed.
    let small = small_artifact(10_000);
    let map = Mapped::open(&small).unwrap();
    group_small(c, &map, &limits);

    let total: usize = files.iter().map(|(_, data)| data.len()).sum();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("parse x200", |b| {
        b.iter(|| {
            for (name, data) in &files {
                black_box(parse(name, name, data).unwrap());
            }
        })
    });
    group.finish();
}

/// 10,000 small migrations (CREATE TABLE + INSERT, as scripts/bench-apply writes them),
/// deflated, written once next to the large artifact.
fn small_artifact(n: usize) -> PathBuf {
    let path = lambda_migrate_benches::artifact_dir().join(format!("small-{n}.zip"));
    if path.is_file() {
        return path;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let mut zip = zip::ZipWriter::new(File::create(&tmp).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 1..=n {
        zip.start_file(format!("migrations/{i:05}_t{i}.sql"), opts)
            .unwrap();
        let sql = format!(
            "-- +migrate Up\nCREATE TABLE t{i} (id int primary key, v varchar(20));\n\
             INSERT INTO t{i} VALUES (1, 'x');\n\n-- +migrate Down\nDROP TABLE t{i};\n"
        );
        std::io::Write::write_all(&mut zip, sql.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    path
}

fn group_small(c: &mut Criterion, map: &[u8], limits: &Limits) {
    let mut group = c.benchmark_group("noop");
    group.bench_function("select+read+sha256 x10000 small", |b| {
        b.iter(|| {
            let archive = Archive::new(map).unwrap();
            let entries = archive.select("migrations", limits).unwrap();
            for entry in &entries {
                black_box(checksum(&archive.read(entry, limits).unwrap().data));
            }
            entries.len()
        })
    });
    // The files' side of a no-op `up`: everything before the database is asked.
    group.bench_function("select+read+scan x10000 small", |b| {
        b.iter(|| {
            let archive = Archive::new(map).unwrap();
            let entries = archive.select("migrations", limits).unwrap();
            let files: Vec<_> = entries
                .iter()
                .map(|e| archive.read(e, limits).unwrap())
                .collect();
            let scanned =
                engine::migration::scan(files.iter().map(|f| (f.name, f.path, f.data.as_ref())))
                    .unwrap();
            black_box(scanned.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
