//! Arbitrary bytes through the migration parser. The first byte picks how many of the
//! following bytes form the id, so id checks are fuzzed too; the rest is the file.
//! Parsing must never panic, and an accepted file must satisfy cheap invariants.
#![no_main]

use engine::migration::{checksum, parse::parse, version_of};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 32).min(rest.len());
    let id = if n == 0 {
        String::from("1_fuzz.sql")
    } else {
        String::from_utf8_lossy(&rest[..n]).into_owned()
    };
    let file = &rest[n..];
    let Ok(m) = parse(&id, "fuzz.sql", file) else {
        return;
    };
    assert_eq!(m.id, id);
    assert_eq!(m.version, version_of(&id).ok().flatten());
    assert_eq!(m.sha256, checksum(file));
    let lines = file.split(|&b| b == b'\n').count();
    for section in [&m.up, &m.down] {
        let mut previous = 0;
        for statement in &section.statements {
            // Statements are line-based: each starts on a later line than the last.
            assert!(
                statement.line > previous && statement.line <= lines,
                "statement line {} (previous {previous}) outside 1..={lines}",
                statement.line
            );
            previous = statement.line;
        }
    }
});
