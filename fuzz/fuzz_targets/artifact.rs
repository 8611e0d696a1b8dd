//! Arbitrary bytes through the zip reader: open, select, read every selected entry.
//! Any panic, hang or runaway allocation is a bug; errors are the expected outcome.
#![no_main]

use engine::Limits;
use engine::artifact::Archive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits so a hostile size field cannot make a run allocate much; the
    // reader must enforce them itself.
    let limits = Limits {
        max_file_size: 1 << 20,
        max_total_size: 4 << 20,
        max_files: 1000,
    };
    let Ok(archive) = Archive::new(data) else {
        return;
    };
    let Ok(entries) = archive.select("migrations", &limits) else {
        return;
    };
    assert!(entries.len() <= limits.max_files);
    for entry in &entries {
        assert!(
            !entry.name.contains('/'),
            "selected name {:?} has a slash",
            entry.name
        );
        assert!(entry.path.ends_with(entry.name));
        if let Ok(file) = archive.read(entry, &limits) {
            assert_eq!(file.name, entry.name);
            assert!(file.data.len() as u64 <= limits.max_file_size);
        }
    }
});
