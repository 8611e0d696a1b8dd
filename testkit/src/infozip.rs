//! Artifacts zipped by Info-ZIP, as a build step would write them.

use std::process::Command;

use crate::unique;

/// Zips `files` (path inside the archive, contents) with Info-ZIP, as a source
/// artifact; returns the zip's bytes.
pub fn zip_artifact(files: &[(&str, &str)]) -> Vec<u8> {
    // A fresh folder under the system temp dir, removed afterwards (std only: no tempfile).
    let dir = std::env::temp_dir().join(unique("testkit_zip_artifact"));
    std::fs::create_dir_all(&dir).unwrap();
    for (path, body) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let out = dir.join("artifact.zip");
    let status = Command::new("zip")
        .current_dir(&dir)
        .args(["-q", "-r", "-X"])
        .arg(&out)
        .args(files.iter().map(|(p, _)| *p))
        .status()
        .expect("zip (Info-ZIP)");
    assert!(status.success());
    let bytes = std::fs::read(out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}
