//! A local source sent inside a migrator event: the selected migration files as a small
//! zip, base64-encoded. The migrator reads it with the same hostile-input reader as any
//! artifact, so an inline source gets no trust that an S3 one would not.

use std::io::Write;

use engine::SourceFile;
use engine::source::Source;
use flate2::Compression;
use flate2::write::DeflateEncoder;

/// The folder the files are placed under, and the `dir` the event names.
pub const DIR: &str = engine::settings::DEFAULT_FOLDER;

/// A zip holding each file as `migrations/NAME`, deflated. Only the fields every reader
/// needs are written: no extra fields, no data descriptors, names flagged UTF-8.
pub fn zip(files: &[SourceFile<'_>]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for f in files {
        let name = format!("{DIR}/{}", f.name);
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&f.data)?;
        let packed = enc.finish()?;
        let crc = crc32fast::hash(&f.data);
        let (csize, usize_) = (u32_of(packed.len())?, u32_of(f.data.len())?);
        let offset = u32_of(out.len())?;
        // Version 2.0, UTF-8 names (bit 11), deflate, no time stamp.
        let common = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(&20u16.to_le_bytes());
            buf.extend_from_slice(&0x0800u16.to_le_bytes());
            buf.extend_from_slice(&8u16.to_le_bytes());
            buf.extend_from_slice(&[0; 4]);
            buf.extend_from_slice(&crc.to_le_bytes());
            buf.extend_from_slice(&csize.to_le_bytes());
            buf.extend_from_slice(&usize_.to_le_bytes());
            buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes());
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&packed);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        common(&mut central);
        // Comment length, disk, internal and external attributes, local header offset.
        central.extend_from_slice(&[0; 2 + 2 + 2 + 4]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(files.len()).map_err(|_| too_large())?;
    let (cd_offset, cd_size) = (u32_of(out.len())?, u32_of(central.len())?);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

fn too_large() -> std::io::Error {
    std::io::Error::other("too many or too large migration files to send inline")
}

fn u32_of(n: usize) -> std::io::Result<u32> {
    u32::try_from(n).map_err(|_| too_large())
}

/// The bytes of an inline zip, as a mapped source (an unlinked temp file, so the reader
/// works on it exactly as on a downloaded artifact).
pub fn open(base64: &str) -> Result<Source, String> {
    let bytes = aws_smithy_types::base64::decode(base64)
        .map_err(|e| format!("inline_zip is not base64: {e}"))?;
    let mut file = tempfile::tempfile().map_err(|e| format!("inline_zip: temp file: {e}"))?;
    file.write_all(&bytes)
        .map_err(|e| format!("inline_zip: temp file: {e}"))?;
    let map =
        engine::mapped::Mapped::from_file(&file).map_err(|e| format!("inline_zip: map: {e}"))?;
    Ok(Source::Zip {
        path: "inline artifact".into(),
        map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn the_reader_reads_back_what_was_written() {
        let files = [
            SourceFile {
                name: "1_a.sql",
                origin: "x/1_a.sql",
                data: Cow::Borrowed(b"-- +migrate Up\nCREATE TABLE a (id int);\n"),
            },
            SourceFile {
                name: "2_b.sql",
                origin: "x/2_b.sql",
                data: Cow::Owned(b"-- +migrate Up\n".repeat(500)),
            },
        ];
        let zipped = zip(&files).unwrap();
        let source = open(&aws_smithy_types::base64::encode(&zipped)).unwrap();
        let read = source.files(DIR, &engine::Limits::default()).unwrap();
        assert_eq!(read.len(), 2);
        for (a, b) in read.iter().zip(&files) {
            assert_eq!((a.name, a.data.as_ref()), (b.name, b.data.as_ref()));
        }
        assert!(open("not base64!").is_err_and(|e| e.contains("base64")));
    }
}
