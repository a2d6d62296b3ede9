//! Streamed text kept for an output estimate, shared by the stream meters (OpenAI Chat
//! Completions and Responses, Anthropic Messages, Gemini, Bedrock Converse).

use crate::tokens::{Encoding, Tokenizer};
use std::collections::BTreeMap;

/// The default cap on delta text kept for the output estimate: 256 KiB, about 64k tokens.
/// Past it, further deltas are only measured in bytes and their tokens extrapolated.
pub const DEFAULT_MAX_TEXT_BYTES: usize = 256 * 1024;

/// Delta text by key (a choice and part, an output item and part…), joined in arrival order and
/// counted once at the end, up to a cap in bytes. Past the cap, deltas are only measured.
#[derive(Debug)]
pub(crate) struct DeltaTexts<K> {
    max_bytes: usize,
    texts: BTreeMap<K, String>,
    kept_bytes: usize,
    /// Delta bytes that arrived past the cap (only measured).
    dropped_bytes: u64,
}

impl<K: Ord> DeltaTexts<K> {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            texts: BTreeMap::new(),
            kept_bytes: 0,
            dropped_bytes: 0,
        }
    }

    /// Keeps a delta's text, or once the cap is reached, only its length.
    pub(crate) fn keep(&mut self, key: K, s: &str) {
        self.push(key, s, false);
    }

    /// As [`DeltaTexts::keep`] for a piece that arrives whole (a call, a piece of code): it is
    /// kept apart from the key's earlier text by a newline, which does not count against the cap.
    pub(crate) fn keep_apart(&mut self, key: K, s: &str) {
        self.push(key, s, true);
    }

    fn push(&mut self, key: K, s: &str, apart: bool) {
        if s.is_empty() {
            return;
        }
        if self.dropped_bytes == 0 && self.kept_bytes.saturating_add(s.len()) <= self.max_bytes {
            self.kept_bytes += s.len();
            let text = self.texts.entry(key).or_default();
            if apart && !text.is_empty() {
                text.push('\n');
            }
            text.push_str(s);
        } else {
            // Everything after the first delta that does not fit is dropped, so the kept text
            // stays a prefix of the stream.
            self.dropped_bytes = self.dropped_bytes.saturating_add(s.len() as u64);
        }
    }

    /// Whether no text was kept (deltas past the cap may still have been measured).
    pub(crate) fn nothing_kept(&self) -> bool {
        self.texts.is_empty()
    }

    /// Tokens of the deltas: each key's text counted whole, plus the bytes past the cap at the
    /// kept text's tokens-per-byte rate (one token per four bytes if nothing was kept).
    pub(crate) fn tokens(&self, enc: Encoding, tok: &Tokenizer) -> u64 {
        let kept: u64 = self.texts.values().map(|t| tok.count(enc, t)).sum();
        let extra = match u64::try_from(self.kept_bytes) {
            _ if self.dropped_bytes == 0 => 0,
            Ok(bytes) if bytes > 0 => {
                let scaled = u128::from(kept) * u128::from(self.dropped_bytes);
                u64::try_from(scaled.div_ceil(u128::from(bytes))).unwrap_or(u64::MAX)
            }
            _ => self.dropped_bytes.div_ceil(4),
        };
        kept.saturating_add(extra)
    }
}
