//! The S3 fetch against a real S3 protocol server: moto on loopback, started by
//! `scripts/start-moto` (endpoint `LM_TEST_S3_ENDPOINT`, default http://127.0.0.1:5000).
//! Without it these tests fail, saying so: they never skip.
//!
//! Artifacts are written by Info-ZIP's `zip` (a real writer) or, for layouts no writer
//! produces on request (the hostile ones), assembled byte by byte by testkit's `corpus`
//! builder. Temp-space tests mount
//! a small tmpfs (they run as root, like CI).

use std::fs;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use engine::artifact::{Archive, Limits, ZipError};
use engine::fetch::{self, FetchError, FetchOptions, Fetched, Mode, ObjectRef};
use engine::source::Source;
use testkit::corpus;

const DIR: &str = "migrations";

fn endpoint() -> String {
    std::env::var("LM_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5000".into())
}

/// A client for moto, built directly (tests cannot set process environment safely).
fn client() -> Client {
    let ep = endpoint();
    let hostport = ep.trim_start_matches("http://").trim_end_matches('/');
    let reachable = hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    assert!(
        reachable,
        "no S3 server at {ep}: start moto with scripts/start-moto (or set LM_TEST_S3_ENDPOINT)"
    );
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .endpoint_url(ep)
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    Client::from_conf(config)
}

/// Uploads `path` to `bucket/key` unless that very file (size and mtime) is already there.
async fn put(client: &Client, bucket: &str, key: &str, path: &Path) -> ObjectRef {
    // Already created (by an earlier run against the same server) is fine.
    let _ = client.create_bucket().bucket(bucket).send().await;
    let meta = fs::metadata(path).unwrap();
    let stamp = format!(
        "{}-{:?}",
        meta.len(),
        meta.modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
    );
    let head = client.head_object().bucket(bucket).key(key).send().await;
    let there = head
        .ok()
        .and_then(|h| h.metadata()?.get("lm-stamp").cloned());
    if there.as_deref() != Some(stamp.as_str()) {
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .metadata("lm-stamp", &stamp)
            .body(ByteStream::from_path(path).await.unwrap())
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload of {} failed: {e:?}", path.display()));
    }
    object(bucket, key)
}

fn object(bucket: &str, key: &str) -> ObjectRef {
    ObjectRef {
        bucket: bucket.into(),
        key: key.into(),
    }
}

fn work_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("s3_fetch")
        .join(name);
    fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) {
    let st = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(st.success(), "{cmd:?} failed: {st}");
}

/// Copies the repository's migrations into `to`.
fn copy_repo_migrations(to: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    for e in fs::read_dir(&repo).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The repository's migrations, with files before and after them.
fn small_artifact() -> &'static PathBuf {
    static ART: OnceLock<PathBuf> = OnceLock::new();
    ART.get_or_init(|| {
        let d = work_dir("small");
        let src = d.join("src");
        let _ = fs::remove_dir_all(&src);
        fs::create_dir_all(src.join("docs")).unwrap();
        fs::create_dir_all(src.join(DIR)).unwrap();
        fs::create_dir_all(src.join("zz")).unwrap();
        copy_repo_migrations(&src.join(DIR));
        fs::write(src.join("docs/readme.txt"), "not a migration\n".repeat(100)).unwrap();
        fs::write(src.join("zz/notes.sql"), "-- +migrate Up\nSELECT 1;\n").unwrap();
        let out = d.join("small.zip");
        let _ = fs::remove_file(&out);
        run(Command::new("zip")
            .current_dir(&src)
            .args(["-q", "-r", "-X"])
            .arg(&out)
            .args(["docs", DIR, "zz"]));
        out
    })
}

/// About 150 MB: 10,000 small files and 70 MB of sparse blobs, 200 migrations, then as
/// much again. Stored, so the migrations sit about 75 MB into the file. Kept between
/// runs in the target dir.
fn large_artifact() -> &'static PathBuf {
    static ART: OnceLock<PathBuf> = OnceLock::new();
    ART.get_or_init(|| {
        let d = work_dir("large");
        let out = d.join("large.zip");
        if out.exists() {
            return out;
        }
        let src = d.join("src");
        let _ = fs::remove_dir_all(&src);
        for side in ["a", "z"] {
            let dir = src.join(side);
            fs::create_dir_all(&dir).unwrap();
            for i in 0..5_000 {
                fs::write(
                    dir.join(format!("asset-{i:05}.txt")),
                    format!("{side}{i}\n"),
                )
                .unwrap();
            }
            for i in 0..7 {
                // Sparse: zip reads zeros, the disk holds nothing.
                let f = fs::File::create(dir.join(format!("blob-{i}.bin"))).unwrap();
                f.set_len(10 << 20).unwrap();
            }
        }
        let mig = src.join(DIR);
        fs::create_dir_all(&mig).unwrap();
        for i in 0..200 {
            let body = format!(
                "-- +migrate Up\nCREATE TABLE t{i} (id INT PRIMARY KEY, v VARCHAR(64));\n\
                 INSERT INTO t{i} VALUES (1, '{}');\n\n-- +migrate Down\nDROP TABLE t{i};\n",
                "x".repeat(i % 50)
            );
            fs::write(mig.join(format!("{:04}_m{i}.sql", i + 1)), body).unwrap();
        }
        let tmp = d.join("large.zip.tmp");
        let _ = fs::remove_file(&tmp);
        // -0: stored, so the blobs keep their size; -n .sql would do the same for SQL.
        run(Command::new("zip")
            .current_dir(&src)
            .args(["-q", "-r", "-X", "-0"])
            .arg(&tmp)
            .args(["a", DIR, "z"]));
        fs::rename(&tmp, &out).unwrap();
        let _ = fs::remove_dir_all(&src);
        out
    })
}

/// `(name, bytes)` of the migrations a source yields.
fn files(source: &Source) -> Vec<(String, Vec<u8>)> {
    source
        .files(DIR, &Limits::default())
        .unwrap()
        .into_iter()
        .map(|f| (f.name.to_owned(), f.data.into_owned()))
        .collect()
}

fn local_files(path: &Path) -> Vec<(String, Vec<u8>)> {
    files(&Source::open(path, &Limits::default()).unwrap())
}

fn opts(mode: Mode, tmp: &Path) -> FetchOptions {
    FetchOptions {
        mode,
        tmp_dir: tmp.to_path_buf(),
        ..FetchOptions::default()
    }
}

/// The temp dir is empty: the fetched file was unlinked at once.
fn assert_nothing_left(tmp: &Path) {
    let left: Vec<_> = fs::read_dir(tmp).unwrap().collect();
    assert!(left.is_empty(), "files left in the temp dir: {left:?}");
}

fn source(fetched: Fetched, object: &ObjectRef) -> Source {
    fetched.into_source(object)
}

#[tokio::test]
async fn small_artifact_reads_the_same_in_every_mode() {
    let client = client();
    let path = small_artifact();
    let object = put(&client, "lm-small", "pipeline/source.zip", path).await;
    let want = local_files(path);
    assert_eq!(want.len(), 5, "the repository's migrations");
    let len = fs::metadata(path).unwrap().len();
    for mode in [Mode::Full, Mode::Selective, Mode::Auto] {
        let tmp = tempfile::tempdir().unwrap();
        let fetched = fetch::fetch(&client, &object, &opts(mode, tmp.path()))
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_nothing_left(tmp.path());
        assert_eq!(fetched.len, len);
        assert_eq!(fetched.stats.object_size, len);
        let used = if mode == Mode::Selective {
            Mode::Selective
        } else {
            // Auto: the object is far below the 8 MiB threshold.
            Mode::Full
        };
        assert_eq!(fetched.stats.mode, used, "{mode}");
        if used == Mode::Full {
            // Smaller than the tail request: one GET brought everything.
            assert_eq!(fetched.stats.requests, 1);
            assert_eq!(fetched.stats.bytes_fetched, len);
            assert_eq!(&fetched.map[..], &fs::read(path).unwrap()[..]);
        }
        let s = source(fetched, &object);
        assert_eq!(s.display(), "s3://lm-small/pipeline/source.zip");
        assert_eq!(files(&s), want, "{mode}");
    }
}

#[tokio::test]
async fn large_artifact_selective_fetches_directory_and_migrations_only() {
    let client = client();
    let path = large_artifact();
    let object = put(&client, "lm-large", "art/large.zip", path).await;
    let data = fs::read(path).unwrap();

    // The bound: central directory + the selected entries (local header, data,
    // descriptor) + 128 KiB.
    let archive = Archive::new(&data).unwrap();
    let cd_size = archive.directory().size;
    let entries = archive.select(DIR, &Limits::default()).unwrap();
    assert_eq!(entries.len(), 200);
    let entry_bytes: u64 = entries
        .iter()
        .map(|e| {
            let at = e.record.local_offset as usize;
            let n = u16::from_le_bytes([data[at + 26], data[at + 27]]) as u64;
            let x = u16::from_le_bytes([data[at + 28], data[at + 29]]) as u64;
            let descriptor = if e.record.has_descriptor() { 24 } else { 0 };
            30 + n + x + e.record.compressed_size + descriptor
        })
        .sum();
    let bound = cd_size + entry_bytes + 128 * 1024;

    let tmp = tempfile::tempdir().unwrap();
    let fetched = fetch::fetch(&client, &object, &opts(Mode::Auto, tmp.path()))
        .await
        .unwrap();
    assert_nothing_left(tmp.path());
    let stats = fetched.stats.clone();
    eprintln!(
        "selective fetch: {stats:?}; bound {bound} (directory {cd_size}, entries {entry_bytes})"
    );
    assert_eq!(stats.mode, Mode::Selective, "Auto above the threshold");
    assert_eq!(stats.object_size, data.len() as u64);
    assert!(
        stats.bytes_fetched <= bound,
        "fetched {} bytes, bound {bound} (central directory {cd_size}, entries {entry_bytes})",
        stats.bytes_fetched
    );
    assert!(
        cd_size > fetch::TAIL_LEN,
        "the directory must not fit in the tail for this test"
    );
    assert!(stats.requests <= 3, "{} requests", stats.requests);
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["mode"], "selective");
    assert_eq!(json["requests"], stats.requests);

    let s = source(fetched, &object);
    assert_eq!(
        files(&s),
        files(&Source::open(path, &Limits::default()).unwrap())
    );
}

#[tokio::test]
async fn full_mode_refuses_beyond_tmp_capacity_and_selective_still_works() {
    let client = client();
    let path = large_artifact();
    let object = put(&client, "lm-large-cap", "large.zip", path).await;
    let len = fs::metadata(path).unwrap().len();
    let tmp = tempfile::tempdir().unwrap();
    let capacity = 16 << 20;
    let full = FetchOptions {
        tmp_capacity: capacity,
        ..opts(Mode::Full, tmp.path())
    };
    match fetch::fetch(&client, &object, &full).await {
        Err(FetchError::TooLargeForTmp {
            object: o,
            size,
            capacity: c,
        }) => {
            assert_eq!(
                (o.as_str(), size, c),
                ("s3://lm-large-cap/large.zip", len, capacity)
            );
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a {len}-byte object was fetched in full with {capacity} bytes of /tmp"),
    }
    assert_nothing_left(tmp.path());
    let message = FetchError::TooLargeForTmp {
        object: "s3://b/k".into(),
        size: len,
        capacity,
    }
    .to_string();
    assert!(message.contains(&len.to_string()) && message.contains(&capacity.to_string()));

    let selective = FetchOptions {
        mode: Mode::Selective,
        ..full
    };
    let fetched = fetch::fetch(&client, &object, &selective).await.unwrap();
    assert!(fetched.stats.bytes_fetched < capacity);
    let s = source(fetched, &object);
    assert_eq!(files(&s).len(), 200);
}

#[tokio::test]
async fn full_mode_in_parallel_parts_is_byte_identical() {
    let client = client();
    let path = large_artifact();
    let object = put(&client, "lm-large-full", "large.zip", path).await;
    let data = fs::read(path).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let o = FetchOptions {
        part_size: 16 << 20,
        parallelism: 3,
        ..opts(Mode::Full, tmp.path())
    };
    let fetched = fetch::fetch(&client, &object, &o).await.unwrap();
    assert_nothing_left(tmp.path());
    assert_eq!(fetched.stats.mode, Mode::Full);
    assert_eq!(fetched.stats.bytes_fetched, data.len() as u64);
    // The tail, then the rest in 16 MiB parts.
    let rest = data.len() as u64 - fetch::TAIL_LEN;
    assert_eq!(fetched.stats.requests, 1 + rest.div_ceil(16 << 20));
    assert!(fetched.map[..] == data[..], "the fetched bytes differ");
}

#[tokio::test]
async fn missing_object_or_bucket_is_not_found() {
    let client = client();
    let path = small_artifact();
    put(&client, "lm-exists", "there.zip", path).await;
    let tmp = tempfile::tempdir().unwrap();
    for (bucket, key) in [
        ("lm-exists", "not-there.zip"),
        ("lm-no-such-bucket", "x.zip"),
    ] {
        let object = object(bucket, key);
        let url = format!("s3://{bucket}/{key}");
        match fetch::fetch(&client, &object, &opts(Mode::Auto, tmp.path())).await {
            Err(FetchError::NotFound { object: o, .. }) => assert_eq!(o, url),
            Err(e) => panic!("{url}: wrong error: {e}"),
            Ok(_) => panic!("{url}: fetched"),
        }
    }
}

#[tokio::test]
async fn empty_object_is_refused() {
    let client = client();
    let _ = client.create_bucket().bucket("lm-empty").send().await;
    client
        .put_object()
        .bucket("lm-empty")
        .key("empty.zip")
        .body(ByteStream::from_static(b""))
        .send()
        .await
        .unwrap();
    let object = object("lm-empty", "empty.zip");
    let tmp = tempfile::tempdir().unwrap();
    let fetched = fetch::fetch(&client, &object, &opts(Mode::Full, tmp.path()))
        .await
        .unwrap();
    assert_eq!((fetched.len, fetched.stats.bytes_fetched), (0, 0));
    let s = source(fetched, &object);
    assert!(s.files(DIR, &Limits::default()).is_err());
    // Selective mode reads the end records itself, so it is the fetch that refuses.
    match fetch::fetch(&client, &object, &opts(Mode::Selective, tmp.path())).await {
        Err(FetchError::Zip { object: o, .. }) => assert_eq!(o, "s3://lm-empty/empty.zip"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("an empty object passed the selective fetch"),
    }
}

/// Stored entries whose local headers carry a 300-byte extra field the central directory
/// does not: the estimate from the central directory falls short, and the fetch must get
/// the rest (one more request) instead of handing the reader a cut entry.
#[tokio::test]
async fn local_headers_longer_than_estimated_are_completed() {
    let names: Vec<String> = (1..=3).map(|i| format!("{DIR}/{i}_m.sql")).collect();
    let bodies: Vec<Vec<u8>> = (1..=3)
        .map(|i| format!("-- +migrate Up\nCREATE TABLE x{i} (id INT);\n").into_bytes())
        .collect();
    let mut entries: Vec<Part> = names
        .iter()
        .zip(&bodies)
        .map(|(n, b)| Part {
            local_pad: 300,
            ..Part::stored(n.clone(), b)
        })
        .collect();
    // A filler after the migrations keeps them out of the tail request.
    entries.push(Part::stored("z/filler.bin", &[7u8; 200_000]));
    let zip = assemble(&entries, 0, b"");
    let path = work_dir("longlocal").join("longlocal.zip");
    fs::File::create(&path).unwrap().write_all(&zip).unwrap();
    let want = local_files(&path);
    assert_eq!(want.len(), 3);

    let client = client();
    let object = put(&client, "lm-longlocal", "a.zip", &path).await;
    let tmp = tempfile::tempdir().unwrap();
    let fetched = fetch::fetch(&client, &object, &opts(Mode::Selective, tmp.path()))
        .await
        .unwrap();
    // Tail (holding the directory), the estimated entries, the rest of them.
    assert_eq!(fetched.stats.requests, 3);
    assert_eq!(files(&source(fetched, &object)), want);
}

// ------------------------------------------------------------ hostile artifacts

/// What reading an artifact decided: the migrations, or the reader's refusal.
type Decision = Result<Vec<(String, Vec<u8>)>, engine::artifact::ZipError>;

fn decide_local(bytes: &[u8]) -> Decision {
    engine::artifact::read_migrations(bytes, DIR, &Limits::default()).map(|files| {
        files
            .into_iter()
            .map(|f| (f.name.to_owned(), f.data.into_owned()))
            .collect()
    })
}

/// Fetches `object` in `mode` and reads it; a refusal by the fetch's own reading of the
/// end records counts as the reader's. Returns the decision and the bytes fetched.
async fn decide_fetched(client: &Client, object: &ObjectRef, mode: Mode) -> (Decision, u64) {
    let tmp = tempfile::tempdir().unwrap();
    match fetch::fetch(client, object, &opts(mode, tmp.path())).await {
        Err(FetchError::Zip { source, .. }) => (Err(source), 0),
        Err(e) => panic!("{object} ({mode}): {e}"),
        Ok(fetched) => {
            let n = fetched.stats.bytes_fetched;
            let s = source(fetched, object);
            let d = s.files(DIR, &Limits::default()).map_err(|e| match e {
                engine::source::SourceError::Zip { source, .. } => source,
                e => panic!("{object} ({mode}): {e}"),
            });
            let d = d.map(|files| {
                files
                    .into_iter()
                    .map(|f| (f.name.to_owned(), f.data.into_owned()))
                    .collect()
            });
            (d, n)
        }
    }
}

fn same(a: &Decision, b: &Decision) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => std::mem::discriminant(a) == std::mem::discriminant(b),
        _ => false,
    }
}

/// Writes `bytes` to `path` unless it already holds them (so `put` need not upload again).
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        fs::write(path, bytes).unwrap();
    }
}

/// A stored or deflated entry for [`assemble`]; `junk` bytes follow its data and count
/// in its compressed size; a deflated entry's stream starts with `empty_blocks` empty
/// stored blocks (valid deflate that produces nothing); the local header alone carries
/// a `local_pad`-byte extra field.
struct Part {
    name: String,
    data: Vec<u8>,
    deflate: bool,
    junk: usize,
    empty_blocks: usize,
    local_pad: usize,
}

impl Part {
    fn stored(name: impl Into<String>, data: &[u8]) -> Part {
        Part {
            name: name.into(),
            data: data.to_vec(),
            deflate: false,
            junk: 0,
            empty_blocks: 0,
            local_pad: 0,
        }
    }

    /// The entry as the corpus builder writes it.
    fn entry(&self) -> corpus::E {
        let mut payload = if self.deflate {
            let empty = [0u8, 0, 0, 0xFF, 0xFF].repeat(self.empty_blocks);
            let mut e = flate2::write::DeflateEncoder::new(empty, flate2::Compression::default());
            e.write_all(&self.data).unwrap();
            e.finish().unwrap()
        } else {
            self.data.clone()
        };
        payload.resize(payload.len() + self.junk, 0xA5);
        let mut local_extra = Vec::new();
        if self.local_pad > 0 {
            // An unregistered extra block: id, length, padding.
            corpus::put16(&mut local_extra, 0x6c6d);
            corpus::put16(&mut local_extra, self.local_pad as u16);
            local_extra.resize(4 + self.local_pad, 0);
        }
        corpus::E {
            method: if self.deflate { 8 } else { 0 },
            csize: payload.len() as u64,
            payload,
            local_extra,
            ..corpus::stored(&self.name, &self.data)
        }
    }
}

/// A zip of `parts` whose offsets start at `base`, with an end-record `comment`.
fn assemble(parts: &[Part], base: usize, comment: &[u8]) -> Vec<u8> {
    corpus::Zip {
        entries: parts.iter().map(Part::entry).collect(),
        comment: comment.to_vec(),
        base: base as u64,
        ..corpus::Zip::default()
    }
    .build()
    .bytes
}

const UP: &[u8] = b"-- +migrate Up\nCREATE TABLE t (id INT);\n";

/// An archive hidden in the comment of another whose central directory lies before the
/// selective mode's first request: both end records are valid, so the reader refuses
/// it as ambiguous, and the fetch must fetch the outer directory to see that.
fn hidden_beyond_tail() -> Vec<u8> {
    let mut parts = vec![Part::stored(format!("{DIR}/1_a.sql"), UP)];
    // 400 more entries make the outer directory about 20 KB.
    parts.extend((0..400).map(|i| Part::stored(format!("assets/file-{i:04}.txt"), b"x")));
    let outer_len = assemble(&parts, 0, b"").len();
    // The comment: padding, then the evil archive at its absolute offset, ending at EOF.
    let pad = 64_000;
    let evil = vec![Part::stored(
        format!("{DIR}/1_a.sql"),
        b"DROP DATABASE prod;\n",
    )];
    let mut comment = vec![b' '; pad];
    comment.extend(assemble(&evil, outer_len + pad, b""));
    let bytes = assemble(&parts, 0, &comment);
    let cd_offset = u32::from_le_bytes(bytes[outer_len - 6..outer_len - 2].try_into().unwrap());
    assert!(
        (bytes.len() as u64 - u64::from(cd_offset)) > fetch::TAIL_LEN + 10_000,
        "the outer directory must start before the tail"
    );
    bytes
}

/// A deflated migration declaring 8 MB of compressed data: a 60-byte stream, then junk.
fn overdeclared() -> Vec<u8> {
    let mut m = Part::stored(format!("{DIR}/1_a.sql"), UP);
    m.deflate = true;
    m.junk = 8 << 20;
    assemble(&[m, Part::stored("z/after.txt", b"after")], 0, b"")
}

/// The reader's own account of what its end-record decision reads: a copy holding only
/// the tail and what `eocd::wanted` asks for (asked until it asks nothing new) locates
/// the same directory, or refuses the same way, as the whole file. No S3 involved.
#[test]
fn wanted_ranges_make_a_sparse_copy_locate_as_the_whole() {
    let mut cases: Vec<(String, Vec<u8>)> = corpus::hostile()
        .into_iter()
        .map(|c| (c.name.to_owned(), c.bytes))
        .collect();
    cases.push(("hidden-beyond-tail".into(), hidden_beyond_tail()));
    for (name, bytes) in &cases {
        let tail = bytes.len().saturating_sub(fetch::TAIL_LEN as usize);
        let mut sparse = vec![0u8; bytes.len()];
        sparse[tail..].copy_from_slice(&bytes[tail..]);
        for _ in 0..3 {
            for r in engine::artifact::eocd::wanted(&sparse) {
                let r = r.start as usize..r.end as usize;
                sparse[r.clone()].copy_from_slice(&bytes[r]);
            }
        }
        let whole = Archive::new(bytes).map(|a| a.directory().offset);
        let part = Archive::new(&sparse).map(|a| a.directory().offset);
        let same = match (&whole, &part) {
            (Ok(a), Ok(b)) => a == b,
            (Err(a), Err(b)) => std::mem::discriminant(a) == std::mem::discriminant(b),
            _ => false,
        };
        assert!(same, "{name}: whole {whole:?}, sparse {part:?}");
    }
}

/// Every hostile artifact, uploaded: selective and full mode decide exactly as reading
/// the bytes locally (the same files, or a refusal of the same kind).
#[tokio::test]
async fn hostile_corpus_decides_the_same_in_every_mode() {
    let client = client();
    let mut cases: Vec<(String, Vec<u8>, Option<bool>)> = corpus::hostile()
        .into_iter()
        .map(|c| (c.name.to_owned(), c.bytes, Some(c.refused)))
        .collect();
    cases.push((
        "hidden-beyond-tail".into(),
        hidden_beyond_tail(),
        Some(true),
    ));
    cases.push(("overdeclared-entry".into(), overdeclared(), None));
    let dir = work_dir("corpus");
    for (name, bytes, refused) in &cases {
        let local = decide_local(bytes);
        if let Some(refused) = refused {
            assert_eq!(
                local.is_err(),
                *refused,
                "{name}: the local reader's verdict"
            );
        }
        let path = dir.join(format!("{name}.zip"));
        write_if_changed(&path, bytes);
        let object = put(&client, "lm-corpus", &format!("{name}.zip"), &path).await;
        for mode in [Mode::Selective, Mode::Full] {
            let (got, _) = decide_fetched(&client, &object, mode).await;
            assert!(
                same(&got, &local),
                "{name} ({mode}): fetched {:?}, local {:?}",
                got.as_ref()
                    .map(|f| f.iter().map(|x| &x.0).collect::<Vec<_>>()),
                local
                    .as_ref()
                    .map(|f| f.iter().map(|x| &x.0).collect::<Vec<_>>()),
            );
        }
    }
}

/// An entry declaring far more compressed bytes than its size needs pulls only what a
/// deflate stream of that size can need, not its declared 8 MB.
#[tokio::test]
async fn overdeclared_entry_pulls_only_what_its_size_needs() {
    let client = client();
    let bytes = overdeclared();
    let path = work_dir("corpus").join("overdeclared-cap.zip");
    write_if_changed(&path, &bytes);
    let object = put(&client, "lm-corpus", "overdeclared-cap.zip", &path).await;
    let (got, fetched) = decide_fetched(&client, &object, Mode::Selective).await;
    assert!(same(&got, &decide_local(&bytes)));
    assert!(
        fetched < fetch::TAIL_LEN + 64 * 1024,
        "fetched {fetched} bytes of a {}-byte object",
        bytes.len()
    );
}

/// A valid deflate stream padded far beyond what its size needs (10,000 bytes of empty
/// blocks for 41 bytes): the selective mode fetches only the cap, and refuses the entry
/// by name instead of letting the reader inflate zeros. (Full mode reads it; this is the
/// one place the modes differ, on a stream no writer produces.)
#[tokio::test]
async fn a_padded_stream_is_refused_alike_in_every_mode() {
    let client = client();
    let mut m = Part::stored(format!("{DIR}/1_a.sql"), UP);
    m.deflate = true;
    m.empty_blocks = 2000;
    // A filler after it keeps the migration out of the first request's tail.
    let filler = Part::stored("z/filler.bin", &[7u8; 200_000]);
    let bytes = assemble(&[m, filler], 0, b"");
    // Valid deflate, but declared far longer than its size needs: other readers may stop
    // at the stream's end or not, and a selective fetch would pull the padding.
    let local = decide_local(&bytes);
    assert!(
        matches!(local, Err(ZipError::PaddedStream { .. })),
        "{local:?}"
    );
    let path = work_dir("corpus").join("padded-stream.zip");
    write_if_changed(&path, &bytes);
    let object = put(&client, "lm-corpus", "padded-stream.zip", &path).await;
    for mode in [Mode::Selective, Mode::Full] {
        let (decision, _) = decide_fetched(&client, &object, mode).await;
        assert_eq!(
            format!("{decision:?}"),
            format!("{local:?}"),
            "{mode}: the same refusal as a local read"
        );
    }
}

/// The selective mode stops at its budget before sending the request that would pass
/// it, naming what it needed.
#[tokio::test]
async fn selective_budget_is_enforced() {
    let client = client();
    let path = large_artifact();
    let object = put(&client, "lm-large-budget", "large.zip", path).await;
    let tmp = tempfile::tempdir().unwrap();
    let budget = 200 * 1024;
    let o = FetchOptions {
        selective_budget: budget,
        ..opts(Mode::Selective, tmp.path())
    };
    match fetch::fetch(&client, &object, &o).await {
        Err(e @ FetchError::OverBudget { .. }) => {
            let FetchError::OverBudget {
                needed, budget: b, ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(*b, budget);
            assert!(*needed > budget, "{e}");
            assert!(e.to_string().contains(&budget.to_string()), "{e}");
            assert!(e.is_bad_artifact());
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(f) => panic!(
            "fetched {} bytes within a budget of {budget}",
            f.stats.bytes_fetched
        ),
    }
    assert_nothing_left(tmp.path());
}

// ------------------------------------------------------------ temp disk space

/// A small tmpfs mounted on a fresh directory for one test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::Builder::new()
            .prefix("lm-tmpfs-")
            .tempdir()
            .unwrap();
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path()));
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// An honest 30 MB artifact: the repository's migrations and 30 MB of incompressible data.
fn thirty_mb_artifact() -> &'static PathBuf {
    static ART: OnceLock<PathBuf> = OnceLock::new();
    ART.get_or_init(|| {
        let d = work_dir("thirty");
        let out = d.join("thirty.zip");
        if out.exists() {
            return out;
        }
        let src = d.join("src");
        let _ = fs::remove_dir_all(&src);
        fs::create_dir_all(src.join(DIR)).unwrap();
        copy_repo_migrations(&src.join(DIR));
        // xorshift: incompressible, so the zip stays 30 MB.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..30 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        fs::write(src.join("blob.bin"), noise).unwrap();
        let tmp = d.join("thirty.zip.tmp");
        let _ = fs::remove_file(&tmp);
        run(Command::new("zip")
            .current_dir(&src)
            .args(["-q", "-r", "-X", "-0"])
            .arg(&tmp)
            .args(["blob.bin", DIR]));
        fs::rename(&tmp, &out).unwrap();
        let _ = fs::remove_dir_all(&src);
        out
    })
}

/// Full mode on a temp filesystem too small for the object: a clear error naming the
/// space needed and available, before a byte is written (a write through the map into a
/// full filesystem would be SIGBUS). Selective mode still fits.
#[tokio::test]
async fn full_mode_on_a_small_temp_filesystem_is_a_clear_error() {
    let client = client();
    let path = thirty_mb_artifact();
    let len = fs::metadata(path).unwrap().len();
    assert!(len > 30 << 20);
    let object = put(&client, "lm-thirty", "thirty.zip", path).await;
    let fs8 = Tmpfs::mount("8m");
    match fetch::fetch(&client, &object, &opts(Mode::Full, fs8.path())).await {
        Err(e @ FetchError::NoSpace { .. }) => {
            let FetchError::NoSpace {
                needed, available, ..
            } = &e
            else {
                unreachable!()
            };
            assert!(*needed >= len, "{e}");
            assert!(*available <= 8 << 20, "{e}");
            let msg = e.to_string();
            assert!(msg.contains(&needed.to_string()), "{msg}");
            assert!(msg.contains(&available.to_string()), "{msg}");
            assert!(msg.contains(&fs8.path().display().to_string()), "{msg}");
            assert!(
                !e.is_bad_artifact(),
                "the environment's fault, not the artifact's"
            );
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a {len}-byte object fetched in full into 8 MiB"),
    }
    assert_nothing_left(fs8.path());

    let fetched = fetch::fetch(&client, &object, &opts(Mode::Selective, fs8.path()))
        .await
        .unwrap();
    assert_eq!(files(&source(fetched, &object)), local_files(path));
}

/// Selective mode on a nearly full temp filesystem: the same clear error, not SIGBUS.
#[tokio::test]
async fn selective_mode_on_a_nearly_full_temp_filesystem_is_a_clear_error() {
    let client = client();
    let path = large_artifact();
    let object = put(&client, "lm-large-full-disk", "large.zip", path).await;
    let fs1 = Tmpfs::mount("1m");
    // Leave 32 KiB: less than the first request's tail.
    fs::write(fs1.path().join("filler"), vec![1u8; (1 << 20) - (32 << 10)]).unwrap();
    match fetch::fetch(&client, &object, &opts(Mode::Selective, fs1.path())).await {
        Err(FetchError::NoSpace {
            needed, available, ..
        }) => assert!(needed > available && available <= 32 << 10),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("fetched into 32 KiB"),
    }
    fs::remove_file(fs1.path().join("filler")).unwrap();
    assert_nothing_left(fs1.path());
}
