//! Go programs the tests run as peers or oracles (Go's archive/zip, sql-migrate), built
//! offline.

use std::path::Path;
use std::process::{Command, Stdio};

/// Builds the Go program `source` into `out` in GOPATH mode, with no network: packages
/// come from Debian's /usr/share/gocode (sql-migrate and its MySQL driver) or the
/// standard library; GOPATH's writable part and the build cache live under `scratch`,
/// so a later build reuses the cache. Panics when `go` is missing or the build fails,
/// naming `.ci/install-deps`.
pub fn go_build(source: &Path, out: &Path, scratch: &Path) {
    let gopath = format!("/usr/share/gocode:{}", scratch.join("gopath").display());
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(out)
        .arg(source)
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .env("GOPATH", gopath)
        .env("GOCACHE", scratch.join("gocache"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("`go` cannot run ({e}): run .ci/install-deps (golang-go)"));
    assert!(
        output.status.success(),
        "go build {} failed (run .ci/install-deps): {}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds the Go program `source` as [`go_build`] does into `scratch/name`, and returns
/// that path. Test binaries may build the same program at once: each builds aside, then
/// renames into place.
pub fn go_build_into(source: &Path, scratch: &Path, name: &str) -> std::path::PathBuf {
    let tmp = scratch.join(format!("{name}.{}", std::process::id()));
    go_build(source, &tmp, scratch);
    let out = scratch.join(name);
    std::fs::rename(&tmp, &out).unwrap_or_else(|e| panic!("renaming {}: {e}", tmp.display()));
    out
}
