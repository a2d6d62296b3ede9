//! The heap-driven merge of a long run of bytes: a linked list of parts and a min-heap of
//! candidate merges keyed by (rank, start). The next merge is always a local minimum (its rank
//! below its left neighbour's, not above its right neighbour's: the leftmost lowest rank is
//! one), so only local minima go on the heap, which keeps it small (a run of one repeated byte
//! has one at a time). Whenever a merge changes a pair or its neighbours, those pairs are
//! checked again and pushed if they became local minima; a popped entry whose rank changed or
//! that is no longer a local minimum is skipped (it is pushed again if it becomes one). The
//! buffers are kept between chunks of one piece.

use std::collections::BinaryHeap;

use super::{rank_of, Kept, NONE};
use crate::tokens::vocab::Vocab;

#[derive(Default)]
pub(super) struct Merger {
    /// For a part starting at i: where it ends (exclusive).
    end: Vec<u32>,
    /// For a part starting at i: where the part before it starts (`NONE` for the first).
    prev: Vec<u32>,
    /// For a part starting at i: the rank of it merged with the next part (`NONE`: no merge,
    /// or not the start of a part).
    pair: Vec<u32>,
    /// For a part starting at i: the rank it is on the heap with (`NONE`: not on it), so that
    /// a pair still waiting is not pushed twice.
    queued: Vec<u32>,
    heap: BinaryHeap<u64>,
}

/// Heap key: lower rank first, then lower start; stored inverted in std's max-heap.
#[inline(always)]
fn key(rank: u32, start: usize) -> u64 {
    !((u64::from(rank) << 32) | start as u64)
}

#[inline(always)]
fn get(a: &[u32], i: usize) -> u32 {
    a.get(i).copied().unwrap_or(NONE)
}

#[inline(always)]
fn set(a: &mut [u32], i: usize, x: u32) {
    if let Some(slot) = a.get_mut(i) {
        *slot = x;
    }
}

impl Merger {
    /// Merges `bytes` completely; afterwards [`Merger::end_of`] walks its tokens.
    pub(super) fn merge(&mut self, v: &Vocab, bytes: &[u8]) {
        let n = bytes.len();
        self.end.clear();
        self.end.extend(1..=n as u32);
        self.prev.clear();
        self.prev.extend((0..n as u32).map(|i| i.wrapping_sub(1)));
        self.pair.clear();
        self.pair
            .extend((0..n).map(|i| rank_of(v, bytes, i, i + 2)));
        self.queued.clear();
        self.queued.resize(n, NONE);
        let mut keys = std::mem::take(&mut self.heap).into_vec();
        keys.clear();
        keys.extend(
            (0..n)
                .filter(|&i| self.local_min(i))
                .map(|i| key(get(&self.pair, i), i)),
        );
        self.heap = BinaryHeap::from(keys);
        while let Some(k) = self.heap.pop() {
            let k = !k;
            let (rank, s) = ((k >> 32) as u32, (k & 0xFFFF_FFFF) as usize);
            if get(&self.queued, s) == rank {
                set(&mut self.queued, s, NONE);
            }
            if get(&self.pair, s) == rank && self.local_min(s) {
                self.merge_at(v, bytes, s);
            }
        }
    }

    /// Whether the pair at part `i` can be merged next: it is one, its left neighbour's rank is
    /// higher and its right neighbour's not lower (`NONE` is the highest).
    #[inline(always)]
    fn local_min(&self, i: usize) -> bool {
        let r = get(&self.pair, i);
        if r == NONE {
            return false;
        }
        let left = get(&self.prev, i);
        let left_ok = left == NONE || get(&self.pair, left as usize) > r;
        left_ok && get(&self.pair, get(&self.end, i) as usize) >= r
    }

    /// Pushes the pair at part `i` if it is a local minimum.
    #[inline(always)]
    fn offer(&mut self, i: usize) {
        let r = get(&self.pair, i);
        if get(&self.queued, i) != r && self.local_min(i) {
            self.heap.push(key(r, i));
            set(&mut self.queued, i, r);
        }
    }

    /// Merges the part at `s` with the next one.
    fn merge_at(&mut self, v: &Vocab, bytes: &[u8], s: usize) {
        let n = bytes.len();
        let right = get(&self.end, s) as usize;
        let right_end = get(&self.end, right) as usize;
        set(&mut self.end, s, right_end as u32);
        set(&mut self.pair, right, NONE);
        set(&mut self.prev, right_end, s as u32);
        let r = if right_end < n {
            rank_of(v, bytes, s, get(&self.end, right_end) as usize)
        } else {
            NONE
        };
        set(&mut self.pair, s, r);
        let before = get(&self.prev, s);
        if before != NONE {
            let b = before as usize;
            set(&mut self.pair, b, rank_of(v, bytes, b, right_end));
            let before_that = get(&self.prev, b);
            if before_that != NONE {
                self.offer(before_that as usize);
            }
            self.offer(b);
        }
        self.offer(s);
        if right_end < n {
            self.offer(right_end);
        }
    }

    /// The end of the token that starts at `t` (after [`Merger::merge`]).
    #[inline]
    pub(super) fn end_of(&self, t: usize) -> usize {
        get(&self.end, t) as usize
    }

    /// The tokens of the last merge that end by `limit`.
    pub(super) fn kept(&self, limit: usize) -> Kept {
        let mut k = Kept {
            limit,
            tokens: 0,
            len: 0,
            first_end: 0,
            last: (0, 0),
        };
        let mut t = 0usize;
        loop {
            let e = self.end_of(t);
            if e > limit || e <= t {
                break;
            }
            if k.tokens == 0 {
                k.first_end = e;
            }
            k.tokens += 1;
            k.last = (t, e);
            t = e;
        }
        k.len = t;
        k
    }

    /// Number of tokens of `bytes` merged at once.
    pub(super) fn count_all(&mut self, v: &Vocab, bytes: &[u8]) -> u64 {
        self.merge(v, bytes);
        let (mut t, mut count) = (0usize, 0u64);
        while t < bytes.len() {
            let e = self.end_of(t);
            if e <= t {
                break;
            }
            count += 1;
            t = e;
        }
        count
    }
}
