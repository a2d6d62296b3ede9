//! A min-heap of `u64` keys with four children per node: half the levels of a binary heap, and
//! a node's children share a cache line, which is what the merge of long pieces spends its time
//! on (`heap.rs`).

#[derive(Default)]
pub(super) struct QuadHeap {
    keys: Vec<u64>,
}

impl QuadHeap {
    /// Replaces the contents with `keys`, ordered in place (bottom-up, linear time).
    pub(super) fn rebuild(&mut self, keys: impl Iterator<Item = u64>) {
        self.keys.clear();
        self.keys.extend(keys);
        let n = self.keys.len();
        for i in (0..n.div_ceil(4)).rev() {
            if let Some(&k) = self.keys.get(i) {
                self.sift_down(i, k);
            }
        }
    }

    pub(super) fn push(&mut self, k: u64) {
        let mut i = self.keys.len();
        self.keys.push(k);
        while i > 0 {
            let p = (i - 1) / 4;
            let Some(&pk) = self.keys.get(p) else { break };
            if pk <= k {
                break;
            }
            if let Some(slot) = self.keys.get_mut(i) {
                *slot = pk;
            }
            i = p;
        }
        if let Some(slot) = self.keys.get_mut(i) {
            *slot = k;
        }
    }

    /// The smallest key, removed.
    pub(super) fn pop(&mut self) -> Option<u64> {
        let last = self.keys.pop()?;
        let Some(&top) = self.keys.first() else {
            return Some(last);
        };
        self.sift_down(0, last);
        Some(top)
    }

    /// Puts `k` at `i` and moves it down to its place.
    fn sift_down(&mut self, mut i: usize, k: u64) {
        let n = self.keys.len();
        loop {
            let c = 4 * i + 1;
            let Some(children) = self.keys.get(c..n.min(c + 4)) else {
                break;
            };
            let Some((j, &m)) = children.iter().enumerate().min_by_key(|&(_, &x)| x) else {
                break;
            };
            if m >= k {
                break;
            }
            if let Some(slot) = self.keys.get_mut(i) {
                *slot = m;
            }
            i = c + j;
        }
        if let Some(slot) = self.keys.get_mut(i) {
            *slot = k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::QuadHeap;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn pops_in_order() {
        let mut state = 88172645463325252u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % 1000
        };
        let mut h = QuadHeap::default();
        let mut all: Vec<u64> = (0..500).map(|_| next()).collect();
        h.rebuild(all.iter().copied());
        for _ in 0..300 {
            let k = next();
            h.push(k);
            all.push(k);
        }
        all.sort_unstable();
        let popped: Vec<u64> = std::iter::from_fn(|| h.pop()).collect();
        assert_eq!(popped, all);
    }
}
