//! Inflating a raw deflate stream into exactly its declared size, with nothing left
//! over: a stream that ends early, runs long or leaves input unread is refused.

use flate2::{Decompress, FlushDecompress, Status};

use super::ZipError;
use super::error::lossy;

/// Inflates a raw deflate stream into exactly `size` bytes: shorter and longer streams
/// are refused.
///
/// The buffer has spare room ([`OUT_SLACK`]) so a stream that is too long shows as more
/// than `size` bytes of output, and a correct one ends in a single call (with no room to spare, zlib keeps
/// the end-of-block code for a second call and first copies its 32 KiB window). The
/// inflater is reused per thread: its state is a few KiB that would otherwise be
/// allocated and zeroed for every entry.
pub(super) fn inflate(input: &[u8], size: usize, name: &[u8]) -> Result<Vec<u8>, ZipError> {
    thread_local! {
        static INFLATER: std::cell::RefCell<Option<Decompress>> = const { std::cell::RefCell::new(None) };
    }
    INFLATER.with(|cell| {
        // Re-entrancy cannot happen here; fall back to a fresh inflater if it ever does.
        let mut fresh = None;
        let mut guard = cell.try_borrow_mut().ok();
        let d = match guard.as_deref_mut() {
            Some(slot) => slot.get_or_insert_with(|| Decompress::new(false)),
            None => fresh.insert(Decompress::new(false)),
        };
        d.reset(false);
        inflate_with(d, input, size, name)
    })
}

/// Spare output room: more than one byte so the decoder's fast path (which wants 258
/// bytes of room) runs to the end of small files; it also bounds what a too-long stream
/// can write before it is refused.
const OUT_SLACK: usize = 320;

fn inflate_with(
    d: &mut Decompress,
    input: &[u8],
    size: usize,
    name: &[u8],
) -> Result<Vec<u8>, ZipError> {
    let mut out = Vec::with_capacity(size.saturating_add(OUT_SLACK));
    loop {
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let rest = input.get(in_before as usize..).unwrap_or(&[]);
        let status = d
            .decompress_vec(rest, &mut out, FlushDecompress::Finish)
            .map_err(|e| ZipError::Inflate {
                name: lossy(name),
                reason: e.to_string(),
            })?;
        if out.len() > size {
            return Err(ZipError::InflatedLonger {
                name: lossy(name),
                declared: size as u64,
            });
        }
        if status == Status::StreamEnd {
            // The stream must fill the declared compressed size: readers that find an
            // entry's end by its stream (streaming readers) would otherwise read the rest
            // as a next entry.
            let extra = (input.len() as u64).saturating_sub(d.total_in());
            if extra != 0 {
                return Err(ZipError::TrailingData {
                    name: lossy(name),
                    extra,
                });
            }
            break;
        }
        if d.total_in() == in_before && d.total_out() == out_before {
            return Err(ZipError::Inflate {
                name: lossy(name),
                reason: "deflate stream is cut short".into(),
            });
        }
    }
    if out.len() != size {
        return Err(ZipError::InflatedShorter {
            name: lossy(name),
            declared: size as u64,
            actual: out.len() as u64,
        });
    }
    // Hand the slack back (in place): a run holds every file at once, and 10,000 small
    // files with 320 spare bytes each would spread over three times the pages.
    out.shrink_to_fit();
    Ok(out)
}
