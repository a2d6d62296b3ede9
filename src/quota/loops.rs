//! Prompt-loop sightings for one tenant's run: how often each conversation-tail fingerprint
//! was seen since its window opened.

use super::codec::{Reader, Writer};

const VERSION: u64 = 1;
/// Fingerprints remembered per run; the oldest is forgotten first.
pub const MAX_FINGERPRINTS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    pub fingerprint: u64,
    pub first_s: u64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sightings {
    pub entries: Vec<Sighting>,
}

impl Sightings {
    /// Records `fingerprint` at `now_s` and returns how often it has been seen within the
    /// window that opened with its first sighting (this one included). A window of
    /// `window_s` seconds that has passed starts over.
    pub fn see(&mut self, fingerprint: u64, now_s: u64, window_s: u64) -> u64 {
        self.entries
            .retain(|e| e.first_s.saturating_add(window_s) > now_s);
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.fingerprint == fingerprint)
        {
            e.count = e.count.saturating_add(1);
            return e.count;
        }
        if self.entries.len() >= MAX_FINGERPRINTS {
            if let Some(oldest) = (0..self.entries.len())
                .min_by_key(|&i| self.entries.get(i).map_or(0, |e| e.first_s))
            {
                self.entries.remove(oldest);
            }
        }
        self.entries.push(Sighting {
            fingerprint,
            first_s: now_s,
            count: 1,
        });
        1
    }

    /// Takes back one sighting of `fingerprint` (its request was refused after all); false
    /// when there is none to take back.
    pub fn unsee(&mut self, fingerprint: u64) -> bool {
        let Some(i) = self
            .entries
            .iter()
            .position(|e| e.fingerprint == fingerprint)
        else {
            return false;
        };
        if let Some(e) = self.entries.get_mut(i) {
            e.count = e.count.saturating_sub(1);
            if e.count == 0 {
                self.entries.remove(i);
            }
        }
        true
    }

    /// No window still open at `now_s`.
    pub fn is_idle(&self, now_s: u64, window_s: u64) -> bool {
        self.entries
            .iter()
            .all(|e| e.first_s.saturating_add(window_s) <= now_s)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(VERSION);
        w.u64(self.entries.len() as u64);
        for e in &self.entries {
            w.u64(e.fingerprint);
            w.u64(e.first_s);
            w.u64(e.count);
        }
        w.0
    }

    pub fn decode(bytes: &[u8]) -> Option<Sightings> {
        let mut s = Sightings::default();
        if bytes.is_empty() {
            return Some(s);
        }
        let mut r = Reader(bytes);
        if r.u64()? != VERSION {
            return None;
        }
        let n = r.u64()?;
        for _ in 0..n.min(MAX_FINGERPRINTS as u64) {
            s.entries.push(Sighting {
                fingerprint: r.u64()?,
                first_s: r.u64()?,
                count: r.u64()?,
            });
        }
        r.is_empty().then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn repeats_count_within_the_window_and_start_over_after_it() {
        let mut s = Sightings::default();
        assert_eq!(s.see(7, 1000, 60), 1);
        assert_eq!(s.see(8, 1001, 60), 1);
        assert_eq!(s.see(7, 1030, 60), 2);
        assert_eq!(s.see(7, 1059, 60), 3);
        assert_eq!(
            s.see(7, 1060, 60),
            1,
            "the window opened at 1000 closed at 1060"
        );
        assert!(!s.is_idle(1100, 60));
        assert!(s.is_idle(1120, 60));
        let bytes = s.encode();
        assert_eq!(Sightings::decode(&bytes), Some(s));
        assert_eq!(Sightings::decode(&bytes[..bytes.len() - 1]), None);
    }

    #[test]
    fn the_oldest_fingerprint_is_forgotten_first() {
        let mut s = Sightings::default();
        for fp in 0..MAX_FINGERPRINTS as u64 {
            s.see(fp, 100 + fp, 3600);
        }
        s.see(999, 200, 3600);
        assert_eq!(s.entries.len(), MAX_FINGERPRINTS);
        assert_eq!(s.see(0, 201, 3600), 1, "fingerprint 0 was the oldest");
        assert_eq!(s.see(5, 202, 3600), 2);
    }
}
