//! Our reader against the `zip` crate: on every input we accept that the crate opens, it
//! must see the same `.sql` files directly in the migrations folder and read each with
//! the same bytes. Where the crate is more lenient than we are nothing is checked; a
//! disagreement on an archive we accept is a crash.
#![no_main]

use std::io::{Cursor, Read};

use engine::Limits;
use engine::artifact::read_migrations;
use libfuzzer_sys::fuzz_target;
use zip::ZipArchive;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_file_size: 1 << 20,
        max_total_size: 4 << 20,
        ..Limits::default()
    };
    let Ok(ours) = read_migrations(data, "migrations", &limits) else {
        return;
    };
    // The crate refuses whole archives for flaws in entries we never read (a malformed
    // extra field, as Python does too): a refusal is not a different reading.
    let Ok(mut theirs) = ZipArchive::new(Cursor::new(data)) else {
        return;
    };
    // The crate's names, raw, with our folder rule (one leading "./"; the repository
    // fallback when no name starts with the folder and all share one top folder).
    let names: Vec<Vec<u8>> = (0..theirs.len())
        .map(|i| match theirs.name_for_index(i) {
            // From the central directory alone: entries we never read may have broken
            // local headers, which the crate checks only when an entry is opened.
            Some(Ok(name)) => name.as_bytes().to_vec(),
            Some(Err(e)) => panic!("we accept, the zip crate cannot name entry {i}: {e}"),
            None => panic!("we accept, the zip crate has no entry {i}"),
        })
        .collect();
    let strip = |n: &[u8]| n.strip_prefix(b"./").unwrap_or(n).to_vec();
    let stripped: Vec<Vec<u8>> = names
        .iter()
        .map(|n| strip(n))
        .filter(|n| !n.is_empty())
        .collect();
    let mut folder = b"migrations/".to_vec();
    if !stripped.iter().any(|n| n.starts_with(&folder)) {
        let top = |n: &Vec<u8>| n.iter().position(|&b| b == b'/').map(|i| n[..=i].to_vec());
        if let Some(Some(first)) = stripped.first().map(top)
            && stripped.iter().all(|n| top(n).as_ref() == Some(&first))
        {
            folder = [first, folder].concat();
        }
    }
    let mut selected = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(rest) = strip(n).strip_prefix(folder.as_slice())
            && rest.ends_with(b".sql")
            && !rest.contains(&b'/')
        {
            selected.push((i, rest.to_vec()));
        }
    }
    let mut ours_names: Vec<&[u8]> = ours.iter().map(|f| f.name.as_bytes()).collect();
    let mut their_names: Vec<&[u8]> = selected.iter().map(|(_, n)| n.as_slice()).collect();
    ours_names.sort_unstable();
    their_names.sort_unstable();
    assert_eq!(ours_names, their_names, "different migrations");
    for (i, name) in &selected {
        let mut bytes = Vec::new();
        theirs
            .by_index(*i)
            .and_then(|mut f| f.read_to_end(&mut bytes).map_err(Into::into))
            .unwrap_or_else(|e| panic!("the zip crate cannot read {name:?}: {e}"));
        let mine = ours
            .iter()
            .find(|f| f.name.as_bytes() == name.as_slice())
            .unwrap();
        assert!(*mine.data == *bytes, "different bytes for {name:?}");
    }
});
