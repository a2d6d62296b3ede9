//! The compact binary form of [`Counters`]: a version, the fourteen scalars as LEB128
//! varints, then the pending reservations.

use super::{Counters, Pending, VERSION};
use crate::quota::codec::{Reader, Writer};

impl Counters {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(VERSION);
        for v in self.scalars() {
            w.u64(v);
        }
        w.u64(self.pending.len() as u64);
        for p in &self.pending {
            w.u64(p.expires_s);
            w.u64(p.tokens);
            w.u64(p.nano_usd);
        }
        w.0
    }

    /// An empty value (a swept key) is a fresh state; a value this version cannot read is
    /// `None`.
    pub fn decode(bytes: &[u8]) -> Option<Counters> {
        if bytes.is_empty() {
            return Some(Counters::default());
        }
        let mut r = Reader(bytes);
        if r.u64()? != VERSION {
            return None;
        }
        let mut s = [0u64; 14];
        for v in &mut s {
            *v = r.u64()?;
        }
        let [touched_s, minute_ms, requests, tokens, input, output, day, tokens_day, usd_day, month, usd_month, requests_total, tokens_total, usd_total] =
            s;
        let n = r.u64()?;
        let mut pending = Vec::new();
        for _ in 0..n.min(4096) {
            pending.push(Pending {
                expires_s: r.u64()?,
                tokens: r.u64()?,
                nano_usd: r.u64()?,
            });
        }
        r.is_empty().then_some(Counters {
            touched_s,
            minute_ms,
            requests,
            tokens,
            input,
            output,
            day,
            tokens_day,
            usd_day,
            month,
            usd_month,
            requests_total,
            tokens_total,
            usd_total,
            pending,
        })
    }

    fn scalars(&self) -> [u64; 14] {
        [
            self.touched_s,
            self.minute_ms,
            self.requests,
            self.tokens,
            self.input,
            self.output,
            self.day,
            self.tokens_day,
            self.usd_day,
            self.month,
            self.usd_month,
            self.requests_total,
            self.tokens_total,
            self.usd_total,
        ]
    }
}
