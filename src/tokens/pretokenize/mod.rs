//! tiktoken's pre-tokenizer, by hand: the split of text into the pieces that o200k_base's and
//! cl100k_base's regexes (as tiktoken-rs 0.12.1 runs them with fancy-regex) cut it into, before
//! BPE. Exactly the same pieces (the tests compare with fancy-regex), in linear time on any
//! input, with no allocation; ASCII is classified with a table lookup per byte.

mod cl100k;
mod classes;
mod o200k;
mod table;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_diff;
#[cfg(test)]
mod tests_tools;

use super::Encoding;

/// Pieces of `text` as tiktoken's pre-tokenizer regex for `enc` splits it, in order; the
/// pieces concatenate to `text`.
pub(crate) fn pieces(enc: Encoding, text: &str) -> Pieces<'_> {
    Pieces { enc, text, pos: 0 }
}

/// The iterator [`pieces`] returns.
#[derive(Debug, Clone)]
pub(crate) struct Pieces<'a> {
    enc: Encoding,
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let b = self.text.as_bytes();
        if self.pos >= b.len() {
            return None;
        }
        let end = match self.enc {
            Encoding::O200kBase => o200k::piece_end(b, self.pos),
            Encoding::Cl100kBase => cl100k::piece_end(b, self.pos),
        };
        // Every piece is at least one character and ends on a character boundary; should that
        // ever not hold, the rest of the text is one piece rather than a panic or a loop.
        let piece = match self.text.get(self.pos..end) {
            Some(piece) if end > self.pos => piece,
            _ => self.text.get(self.pos..)?,
        };
        self.pos += piece.len();
        Some(piece)
    }
}
