//! The hash of a token's bytes, shared by the build script (which lays out the lookup tables,
//! `build.rs` includes this file) and the filter (which probes them). Changing it changes the
//! tables; both sides always agree because both compile this one file.

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// The first (up to) eight bytes of `bytes` as a little-endian word, zero-padded. Short
/// inputs are read with overlapping loads rather than byte by byte.
#[inline(always)]
pub fn word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let at = |i: usize| u64::from(bytes.get(i).copied().unwrap_or(0));
    let u32_at = |i: usize| match bytes.get(i..i + 4) {
        Some(&[a, b, c, d]) => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ => 0,
    };
    match n {
        0 => 0,
        1..=3 => at(0) | at(n / 2) << (8 * (n / 2)) | at(n - 1) << (8 * (n - 1)),
        4..=7 => u32_at(0) | u32_at(n - 4) << (8 * (n - 4)),
        _ => match bytes.get(..8) {
            Some(&[a, b, c, d, e, f, g, h]) => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => 0,
        },
    }
}

/// Whether `a` and `b` (of the same length) hold the same bytes, a word at a time.
#[inline(always)]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a, mut b) = (a, b);
    while a.len() > 8 {
        if word(a) != word(b) {
            return false;
        }
        (a, b) = (a.get(8..).unwrap_or(&[]), b.get(8..).unwrap_or(&[]));
    }
    word(a) == word(b)
}

/// Hash of `bytes` (multiply-xorshift over 8-byte words, length mixed in).
#[inline]
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h = K1 ^ (bytes.len() as u64).wrapping_mul(K2);
    let mut rest = bytes;
    while rest.len() > 8 {
        h = (h ^ word(rest)).wrapping_mul(K1);
        h ^= h >> 29;
        rest = rest.get(8..).unwrap_or(&[]);
    }
    h = (h ^ word(rest)).wrapping_mul(K2);
    h ^= h >> 32;
    h = h.wrapping_mul(K1);
    h ^ (h >> 29)
}

/// A slot of the hash table, a little-endian `u64` with the token's rank in bits 0–17, in one
/// of two forms:
/// - a token of at most [`INLINE`] bytes holds them: bit 63 set, length in bits 18–20, the
///   bytes in bits 21–60 (little-endian, zero-padded). A lookup of that many bytes knows the
///   whole slot it wants and compares, without reading anything else;
/// - a longer token: bit 63 clear, the offset of its bytes in bits 18–41, their length in bits
///   42–49, and a tag from the hash's top 13 bits in bits 50–62, so that a probe rejects most
///   other tokens without reading their bytes.
///
/// `EMPTY` (all ones) is neither: its inline length (7) is more than [`INLINE`].
pub const EMPTY: u64 = u64::MAX;

/// Longest token held in its slot.
pub const INLINE: usize = 5;

const RANK_BITS: u64 = 0x3_FFFF;
const INLINE_FLAG: u64 = 1 << 63;
const TAG_SHIFT: u32 = 50;
const TAG_MASK: u64 = 0x1FFF;

/// The slot an inline token `bytes` (1 to [`INLINE`] bytes) has, rank bits left clear.
#[inline(always)]
pub fn inline_key(bytes: &[u8]) -> u64 {
    INLINE_FLAG | word(bytes) << 21 | (bytes.len() as u64) << 18
}

#[inline(always)]
pub fn tag(h: u64) -> u64 {
    (h >> TAG_SHIFT) & TAG_MASK
}

/// The slot of the token `bytes` with rank `rank`, hash `h`, stored at `offset`.
#[allow(dead_code)] // build.rs lays the slots out
#[inline(always)]
pub fn slot(h: u64, rank: u32, offset: u32, bytes: &[u8]) -> u64 {
    if bytes.len() <= INLINE {
        inline_key(bytes) | u64::from(rank)
    } else {
        u64::from(rank) | u64::from(offset) << 18 | (bytes.len() as u64) << 42 | tag(h) << TAG_SHIFT
    }
}

#[inline(always)]
pub fn slot_rank(s: u64) -> u32 {
    (s & RANK_BITS) as u32
}

/// The slot with its rank bits cleared (what [`inline_key`] gives for an inline token).
#[inline(always)]
pub fn slot_key(s: u64) -> u64 {
    s & !RANK_BITS
}

/// The tag of a long token's slot; an inline slot has none (`None`).
#[inline(always)]
pub fn slot_tag(s: u64) -> Option<u64> {
    (s & INLINE_FLAG == 0).then_some((s >> TAG_SHIFT) & TAG_MASK)
}

/// Offset and length of a long token's bytes.
#[inline(always)]
pub fn slot_bytes(s: u64) -> (u32, u32) {
    (((s >> 18) & 0xFF_FFFF) as u32, ((s >> 42) & 0xFF) as u32)
}

/// The filter's bit for hash `h` (bits 18 and up of the hash: independent of the slot index,
/// which takes the low bits, and of the tag).
#[inline(always)]
pub fn filter_bit(h: u64, bits: u32) -> usize {
    ((h >> 18) & ((1u64 << bits) - 1)) as usize
}
