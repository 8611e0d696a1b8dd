//! Deflate bombs that cost nothing to build: many entries sharing one hand-written
//! stream of zeros.

use std::sync::OnceLock;

use super::build::{E, Zip, stored};

/// `count` deflated files of `size` zero bytes each, sharing one stream.
pub(super) fn bomb(count: usize, size: usize) -> Vec<u8> {
    let (z, crc) = zeros(size);
    let entries = (0..count)
        .map(|i| E {
            method: 8,
            crc,
            csize: z.len() as u64,
            usize: size as u64,
            payload: z.clone(),
            ..stored(format!("migrations/{i:02}_bomb.sql"), b"")
        })
        .collect();
    Zip::of(entries).build().bytes
}

/// [`zeros_stream`] and the CRC-32 of `size` zero bytes, computed once per size.
fn zeros(size: usize) -> (Vec<u8>, u32) {
    type Cache = std::sync::Mutex<Vec<(usize, Vec<u8>, u32)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some((_, v, crc)) = cache.lock().unwrap().iter().find(|c| c.0 == size) {
        return (v.clone(), *crc);
    }
    let mut h = crc32fast::Hasher::new();
    let block = [0u8; 1 << 16];
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len());
        h.update(&block[..n]);
        left -= n;
    }
    let (v, crc) = (zeros_stream(size), h.finalize());
    cache.lock().unwrap().push((size, v.clone(), crc));
    (v, crc)
}

/// A deflate stream of `size` zero bytes, written directly (one fixed-Huffman block: a
/// literal zero, then length-258 copies at distance 1), so building the bomb costs
/// nothing like compressing it.
pub fn zeros_stream(size: usize) -> Vec<u8> {
    let mut w = Bits::default();
    w.put(1, 1); // final block
    w.put(1, 2); // fixed Huffman
    let mut left = size;
    let literal = |w: &mut Bits| w.code(0x30, 8); // literal 0
    if left > 0 {
        literal(&mut w);
        left -= 1;
    }
    while left >= 258 {
        w.code(0xC5, 8); // length code 285: 258
        w.code(0, 5); // distance code 0: 1
        left -= 258;
    }
    for _ in 0..left {
        literal(&mut w);
    }
    w.code(0, 7); // end of block
    w.finish()
}

#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// `len` bits of `value`, least significant first (deflate's header fields).
    fn put(&mut self, value: u64, len: u32) {
        self.acc |= value << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u64, len: u32) {
        let reversed = (0..len).fold(0, |r, i| r | ((code >> i) & 1) << (len - 1 - i));
        self.put(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}
