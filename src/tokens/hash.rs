//! The hash of a token's bytes, shared by the build script (which lays out the lookup tables,
//! `build.rs` includes this file) and the filter (which probes them). Changing it changes the
//! tables; both sides always agree because both compile this one file.

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// A 64-bit word from up to eight bytes, little-endian, zero-padded.
#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    for (d, s) in w.iter_mut().zip(bytes) {
        *d = *s;
    }
    u64::from_le_bytes(w)
}

/// Hash of `bytes` (multiply-xorshift over 8-byte words, length mixed in).
#[inline]
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h = K1 ^ (bytes.len() as u64).wrapping_mul(K2);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = (h ^ word(c)).wrapping_mul(K1);
        h ^= h >> 29;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = (h ^ word(rest)).wrapping_mul(K2);
    }
    h ^= h >> 32;
    h = h.wrapping_mul(K1);
    h ^ (h >> 29)
}

/// A slot of the hash table (a little-endian `u64`): the token's rank (bits 0–17), the offset
/// of its bytes (bits 18–41), their length (bits 42–49) and a tag from the hash's top 14 bits
/// (bits 50–63), so that a probe rejects most other tokens without reading their bytes.
/// `EMPTY` (all ones) has rank 2^18 − 1, which no encoding reaches.
pub const EMPTY: u64 = u64::MAX;

const TAG_SHIFT: u32 = 50;

#[inline(always)]
pub fn tag(h: u64) -> u64 {
    h >> TAG_SHIFT
}

#[allow(dead_code)] // build.rs lays the slots out
#[inline(always)]
pub fn slot(h: u64, rank: u32, offset: u32, len: u32) -> u64 {
    u64::from(rank) | u64::from(offset) << 18 | u64::from(len) << 42 | tag(h) << TAG_SHIFT
}

#[inline(always)]
pub fn slot_rank(s: u64) -> u32 {
    (s & 0x3_FFFF) as u32
}

#[inline(always)]
pub fn slot_tag(s: u64) -> u64 {
    s >> TAG_SHIFT
}

/// Offset and length of the slot's token bytes.
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
