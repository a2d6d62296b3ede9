//! Compact binary values for shared data: LEB128 varints, length-prefixed bytes.

#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u64(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
}

pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn u64(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            v |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u64()?).ok()?;
        let b = self.0.get(..len)?;
        self.0 = self.0.get(len..)?;
        Some(b)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut w = Writer::default();
            w.u64(v);
            let mut r = Reader(&w.0);
            assert_eq!(r.u64(), Some(v));
            assert!(r.is_empty());
        }
        // LEB128's documented example: 624485 is e5 8e 26.
        let mut w = Writer::default();
        w.u64(624_485);
        assert_eq!(w.0, [0xe5, 0x8e, 0x26]);
    }

    #[test]
    fn truncated_or_overlong_input_is_refused() {
        assert_eq!(Reader(&[0x80]).u64(), None);
        assert_eq!(Reader(&[0xff; 11]).u64(), None);
        let mut w = Writer::default();
        w.bytes(b"abc");
        assert_eq!(Reader(&w.0[..3]).bytes(), None);
        assert_eq!(Reader(&w.0).bytes(), Some(&b"abc"[..]));
    }
}
