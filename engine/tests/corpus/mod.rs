//! A stand-in for the hostile-artifact corpus (the reader's helper owns the real one, with
//! the same `hostile()` and `Case`): a few archives assembled byte by byte, each with
//! whether the reader refuses it.

/// One artifact and the reader's verdict on it.
pub struct Case {
    /// A short name, for messages and object keys.
    pub name: &'static str,
    /// The artifact's bytes.
    pub bytes: Vec<u8>,
    /// Whether the reader refuses it.
    pub refused: bool,
}

/// The corpus.
pub fn hostile() -> Vec<Case> {
    let benign = stored_zip(
        &[("migrations/1_a.sql", b"-- +migrate Up\nSELECT 1;\n")],
        0,
        b"",
    );
    // A second archive whose offsets are absolute (as `zip -A` leaves them) hidden in
    // the comment: two valid end records.
    let evil =
        |base: usize| stored_zip(&[("migrations/1_a.sql", b"DROP DATABASE x;\n")], base, b"");
    let outer_len = benign.len();
    let ambiguous = stored_zip(
        &[("migrations/1_a.sql", b"-- +migrate Up\nSELECT 1;\n")],
        0,
        &evil(outer_len),
    );
    // The same archive with relative offsets: its end record names no directory, so only
    // the outer one counts.
    let relative = stored_zip(
        &[("migrations/1_a.sql", b"-- +migrate Up\nSELECT 1;\n")],
        0,
        &evil(0),
    );
    // Two end records back to back, both naming the same directory.
    let mut doubled = benign.clone();
    let eocd = doubled[doubled.len() - 22..].to_vec();
    let at = doubled.len() - 2;
    doubled[at..].copy_from_slice(&22u16.to_le_bytes());
    doubled.extend_from_slice(&eocd);
    vec![
        Case {
            name: "benign",
            bytes: benign,
            refused: false,
        },
        Case {
            name: "zip-in-comment",
            bytes: ambiguous,
            refused: true,
        },
        Case {
            name: "relative-zip-in-comment",
            bytes: relative,
            refused: false,
        },
        Case {
            name: "two-end-records",
            bytes: doubled,
            refused: true,
        },
    ]
}

/// A stored zip of `files` whose offsets start at `base`, with an end-record `comment`.
fn stored_zip(files: &[(&str, &[u8])], base: usize, comment: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = (base + out.len()) as u32;
        let mut fixed = vec![20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0];
        fixed.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
        fixed.extend_from_slice(&(data.len() as u32).to_le_bytes());
        fixed.extend_from_slice(&(data.len() as u32).to_le_bytes());
        fixed.extend_from_slice(&(name.len() as u16).to_le_bytes());
        fixed.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&fixed);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[20, 3]);
        central.extend_from_slice(&fixed);
        central.extend_from_slice(&[0; 6]);
        central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = (base + out.len()) as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let n = (files.len() as u16).to_le_bytes();
    out.extend_from_slice(&n);
    out.extend_from_slice(&n);
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&(comment.len() as u16).to_le_bytes());
    out.extend_from_slice(comment);
    out
}
