//! Byte-pair merging of one piece that is not a token by itself, counting the tokens it
//! becomes. The merge order is tiktoken's (`_byte_pair_merge` in tiktoken's `src/lib.rs`):
//! repeatedly merge the adjacent pair whose concatenation has the lowest rank, the leftmost
//! one on a tie, until no adjacent pair is a token.
//! - Short pieces: the parts in a small array, a linear scan for the minimum per merge
//!   (quadratic on at most [`SHORT`] bytes, faster than a heap at that size).
//! - Long pieces: a linked list of parts and a min-heap of (rank, start), O(n log n), run on
//!   chunks of [`CHUNK`] bytes so the heap stays in cache; see [`count_long`] for why the
//!   chunks' tokens are exactly the whole piece's.

mod heap;
#[cfg(test)]
mod tests;

use super::vocab::Vocab;
use heap::Merger;

/// Longest piece merged with the quadratic scan; pair checks use it on up to twice the longest
/// token.
const SHORT: usize = 128;
const SHORT_MAX: usize = 256;

/// Chunk of a long piece merged at once, and the margin at its end whose tokens are merged
/// again with the next chunk.
const CHUNK: usize = 4 * 1024;
const MARGIN: usize = 256;

pub(super) const NONE: u32 = u32::MAX;

/// Number of tokens `piece` becomes (`piece` is not empty and not a token).
pub(super) fn count(v: &Vocab, piece: &[u8]) -> u64 {
    let n = piece.len();
    if n <= 3 {
        // Not a token, so two or three bytes: two tokens if either neighbouring pair is one.
        let merges = (0..n.saturating_sub(1)).any(|i| rank_of(v, piece, i, i + 2) != NONE);
        return if merges { n as u64 - 1 } else { n as u64 };
    }
    if n <= 32 {
        short(v, piece, &mut [0u32; 32]) as u64
    } else if n <= SHORT {
        short(v, piece, &mut [0u32; SHORT]) as u64
    } else {
        count_long(v, piece, CHUNK, MARGIN)
    }
}

/// Rank of the bytes `piece[a..b]`, `NONE` when they are not a token.
#[inline(always)]
pub(super) fn rank_of(v: &Vocab, piece: &[u8], a: usize, b: usize) -> u32 {
    if b.wrapping_sub(a) > v.max_len() {
        return NONE;
    }
    piece.get(a..b).and_then(|s| v.rank(s)).unwrap_or(NONE)
}

/// Merges `piece` (at most `N` bytes) and returns the number of parts; `starts` holds where
/// each part begins.
fn short<const N: usize>(v: &Vocab, piece: &[u8], starts: &mut [u32; N]) -> usize {
    let n = piece.len().min(N);
    // ranks[i]: rank of parts i and i+1 merged.
    let mut ranks = [NONE; N];
    for (i, s) in starts.iter_mut().enumerate().take(n) {
        *s = i as u32;
    }
    let mut parts = n;
    for (i, r) in ranks.iter_mut().enumerate().take(n.saturating_sub(1)) {
        *r = rank_of(v, piece, i, i + 2);
    }
    // Where part i starts (the end of the piece past the last part).
    let start = |starts: &[u32; N], parts: usize, i: usize| {
        if i < parts {
            starts.get(i).map_or(n, |&s| s as usize)
        } else {
            n
        }
    };
    loop {
        let live = ranks.get(..parts.saturating_sub(1)).unwrap_or(&[]);
        // The lowest rank, the leftmost on a tie (`min_by_key` keeps the first minimum).
        let Some((i, &best)) = live.iter().enumerate().min_by_key(|&(_, &r)| r) else {
            break;
        };
        if best == NONE {
            break;
        }
        // Merge parts i and i+1: drop start i+1 and the rank of the pair (i+1, i+2).
        if let Some(tail) = starts.get_mut(i + 1..parts) {
            tail.rotate_left(1);
        }
        if let Some(tail) = ranks.get_mut(i + 1..parts) {
            tail.rotate_left(1);
        }
        parts -= 1;
        if let Some(r) = ranks.get_mut(parts.saturating_sub(1)..) {
            r.fill(NONE);
        }
        if i + 1 < parts {
            let r = rank_of(
                v,
                piece,
                start(starts, parts, i),
                start(starts, parts, i + 2),
            );
            if let Some(slot) = ranks.get_mut(i) {
                *slot = r;
            }
        }
        if i > 0 {
            let r = rank_of(
                v,
                piece,
                start(starts, parts, i - 1),
                start(starts, parts, i + 1),
            );
            if let Some(slot) = ranks.get_mut(i - 1) {
                *slot = r;
            }
        }
    }
    parts
}

/// Whether the tokens `x` and `y`, side by side, stay two tokens: the byte-pair merge of
/// `x ++ y` gives back exactly `x` and `y`.
fn compatible(v: &Vocab, x: &[u8], y: &[u8]) -> bool {
    let n = x.len() + y.len();
    let mut both = [0u8; SHORT_MAX];
    let Some(joined) = both.get_mut(..n) else {
        return false;
    };
    let (a, b) = joined.split_at_mut(x.len());
    a.copy_from_slice(x);
    b.copy_from_slice(y);
    let mut starts = [0u32; SHORT_MAX];
    short(v, joined, &mut starts) == 2 && starts.get(1) == Some(&(x.len() as u32))
}

/// A long piece, merged chunk by chunk. Each chunk `[s, s + chunk)` is merged as if the piece
/// ended there; its tokens are kept up to the last one that ends before the final `margin`
/// bytes, and the next chunk starts where the kept tokens end. The kept tokens of each chunk are
/// a prefix of a byte-pair encoding, so every two neighbours among them are compatible (merging
/// the two alone gives them back); the pair across each cut is checked with [`compatible`].
/// A sequence of tokens whose every neighbouring pair is compatible is the byte-pair encoding
/// of its text (the first merge that crossed a cut in the whole piece would also happen when
/// merging the two tokens at that cut alone, as the GitHub `bpe` crate's README argues), so the
/// total is exact. Should a cut's pair not be compatible, the whole piece is merged at once.
pub(super) fn count_long(v: &Vocab, piece: &[u8], chunk: usize, margin: usize) -> u64 {
    let n = piece.len();
    let mut m = Merger::default();
    let (mut s, mut total) = (0usize, 0u64);
    // The last kept token, and the last chunk merged with what it gave: a chunk with the same
    // bytes gives the same (runs of one character, repeated patterns), so it is not merged
    // again.
    let mut last: Option<(usize, usize)> = None;
    let mut seen: Option<(&[u8], Kept)> = None;
    let mut checked: Option<(&[u8], &[u8])> = None;
    while s < n {
        let e = s.saturating_add(chunk).min(n);
        let Some(part) = piece.get(s..e) else {
            break;
        };
        let limit = if e == n {
            part.len()
        } else {
            part.len().saturating_sub(margin)
        };
        let kept = match seen {
            Some((bytes, kept)) if bytes == part && kept.limit == limit => kept,
            _ => {
                m.merge(v, part);
                let kept = m.kept(limit);
                seen = Some((part, kept));
                kept
            }
        };
        if kept.tokens == 0 {
            // No token ended before the margin (cannot happen with chunk > margin + longest
            // token); merge everything at once rather than loop.
            return m.count_all(v, piece);
        }
        if let Some((a, b)) = last {
            let (Some(x), Some(y)) = (piece.get(a..b), part.get(..kept.first_end)) else {
                return m.count_all(v, piece);
            };
            // Repeated text cuts between the same two tokens again: checked once.
            let known = matches!(checked, Some((cx, cy)) if cx == x && cy == y);
            if !known && !compatible(v, x, y) {
                return m.count_all(v, piece);
            }
            checked = Some((x, y));
        }
        last = Some((s + kept.last.0, s + kept.last.1));
        total += kept.tokens;
        s += kept.len;
    }
    total
}

/// What a merged chunk keeps: its tokens that end by `limit`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kept {
    pub(super) limit: usize,
    pub(super) tokens: u64,
    /// Bytes kept (where the next chunk starts).
    pub(super) len: usize,
    pub(super) first_end: usize,
    pub(super) last: (usize, usize),
}
