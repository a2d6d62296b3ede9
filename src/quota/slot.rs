//! A slot: one shared-data key holding the state of every subject that hashes to it, so that
//! the keys a budget needs exist before the first request (proxy-wasm cannot create a key
//! atomically: a `set` on a missing key succeeds whatever the cas, so two workers creating the
//! same key would both succeed and one write would be lost — cpp-host `SharedData::set`).
//! The slots are created once, in `on_configure`; every later write is a compare-and-swap.

use super::codec::{Reader, Writer};
use std::collections::BTreeMap;

const VERSION: u64 = 1;

/// Subject name → its encoded state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slot {
    pub entries: BTreeMap<String, Vec<u8>>,
}

impl Slot {
    /// The state of `subject` read with `decode`; a fresh one when absent or unreadable.
    pub fn read<T: Default>(&self, subject: &str, decode: impl Fn(&[u8]) -> Option<T>) -> T {
        self.entries
            .get(subject)
            .and_then(|v| decode(v))
            .unwrap_or_default()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(VERSION);
        w.u64(self.entries.len() as u64);
        for (k, v) in &self.entries {
            w.bytes(k.as_bytes());
            w.bytes(v);
        }
        w.0
    }

    /// An empty value is an empty slot; a value this version cannot read is `None`.
    pub fn decode(bytes: &[u8]) -> Option<Slot> {
        let mut slot = Slot::default();
        if bytes.is_empty() {
            return Some(slot);
        }
        let mut r = Reader(bytes);
        if r.u64()? != VERSION {
            return None;
        }
        let n = r.u64()?;
        for _ in 0..n {
            let k = std::str::from_utf8(r.bytes()?).ok()?.to_string();
            let v = r.bytes()?.to_vec();
            slot.entries.insert(k, v);
        }
        r.is_empty().then_some(slot)
    }
}

/// The slot a subject lives in: FNV-1a 64 of its name (stable across VMs and builds), modulo
/// the slot count.
pub fn slot_of(subject: &str, slots: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in subject.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    u32::try_from(h % u64::from(slots.max(1))).unwrap_or(0)
}

/// The shared-data key of slot `i`: namespaced, versioned, and carrying the slot count, so a
/// configuration with another count starts from fresh keys instead of misreading old ones.
pub fn slot_key(namespace: &str, slots: u32, i: u32) -> String {
    format!("tollbooth/v1/{namespace}/{slots}/{i}")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn slots_round_trip_and_refuse_garbage() {
        let mut s = Slot::default();
        s.entries.insert("t:acme".into(), vec![1, 2, 3]);
        s.entries.insert("r:acme:run-1".into(), vec![]);
        let bytes = s.encode();
        assert_eq!(Slot::decode(&bytes), Some(s));
        assert_eq!(Slot::decode(&[]), Some(Slot::default()));
        assert_eq!(Slot::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Slot::decode(&[9, 0]), None, "unknown version");
    }

    #[test]
    fn subjects_spread_over_slots_and_stay_put() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..1000 {
            let s = slot_of(&format!("t:tenant-{i}"), 64);
            assert!(s < 64);
            seen.insert(s);
        }
        assert!(
            seen.len() > 56,
            "1000 tenants use {} of 64 slots",
            seen.len()
        );
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (the published test vector).
        assert_eq!(
            slot_of("a", 1000),
            (0xaf63_dc4c_8601_ec8c_u64 % 1000) as u32
        );
        assert_eq!(slot_key("default", 64, 7), "tollbooth/v1/default/64/7");
    }
}
