//! Where event blocks end in raw SSE bytes, for a filter that forwards or drops whole events.
//!
//! A block is everything up to and including the blank line that ends it (§9.2.6: lines end in
//! CRLF, LF or CR; an empty line dispatches the event). Cutting a stream at block ends never
//! cuts an event, so each block can be forwarded or removed on its own.

/// The length of the first complete block at the start of `bytes`: the position just past the
/// blank line that ends it, or `None` when no blank line has arrived yet.
///
/// A CR that ends the blank line may be followed by an LF in the next chunk (a CRLF split in
/// two); that LF then starts the next block as an empty line, which dispatches nothing, so the
/// stream means the same either way.
pub fn block_end(bytes: &[u8]) -> Option<usize> {
    BlockScan::new().find(bytes)
}

/// A search for the end of a block that goes on over bytes arriving in pieces, so that each
/// byte is looked at once however the block is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockScan {
    /// The current line has no characters yet (true at the start of a block).
    line_empty: bool,
    /// The last byte was a CR that ended a line.
    after_cr: bool,
}

impl Default for BlockScan {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockScan {
    /// A search at the start of a block.
    pub fn new() -> Self {
        Self {
            line_empty: true,
            after_cr: false,
        }
    }

    /// Scans the next bytes of the block. Returns where in `bytes` the block ends, as
    /// [`block_end`] does (the search then starts over, for the next block), or `None`, and
    /// the search goes on with the next bytes.
    pub fn find(&mut self, bytes: &[u8]) -> Option<usize> {
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\n' if self.after_cr => {
                    // The LF of a CRLF whose CR already ended the line.
                    self.after_cr = false;
                }
                b'\n' | b'\r' => {
                    if self.line_empty {
                        *self = Self::new();
                        let end = if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                            i + 2
                        } else {
                            i + 1
                        };
                        return Some(end);
                    }
                    self.line_empty = true;
                    self.after_cr = b == b'\r';
                }
                _ => {
                    self.line_empty = false;
                    self.after_cr = false;
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn finds_blank_lines_with_every_line_ending() {
        assert_eq!(block_end(b"data: a\n\ndata: b\n\n"), Some(9));
        assert_eq!(block_end(b"data: a\r\n\r\ndata: b"), Some(11));
        assert_eq!(block_end(b"data: a\r\rdata: b"), Some(9));
        assert_eq!(block_end(b"data: a\n\r\n"), Some(10));
        assert_eq!(block_end(b"\n"), Some(1));
        assert_eq!(block_end(b": comment\n\n"), Some(11));
        assert_eq!(block_end(b"data: a\ndata: b\n"), None);
        assert_eq!(block_end(b"data: a\r\n"), None);
        assert_eq!(block_end(b""), None);
    }

    /// A search resumed over two pieces finds what one search over the whole finds.
    #[test]
    fn a_resumed_scan_finds_the_same_end_at_every_split() {
        for text in [
            &b"data: a\r\n\r\ndata: b"[..],
            b"data: a\n\n",
            b"data: a\r\rx",
            b"data: a\ndata: b\n",
            b"\r\n",
            b": c\r\n\r",
        ] {
            let whole = block_end(text);
            for cut in 0..=text.len() {
                let (a, b) = text.split_at(cut);
                let mut scan = BlockScan::new();
                let found = match scan.find(a) {
                    Some(n) => Some(n),
                    None => scan.find(b).map(|n| cut + n),
                };
                // A CR blank line at the end of the first piece ends the block there, its LF
                // (if any) being left for the next block.
                let expected = match whole {
                    Some(n) if n == cut + 1 && a.ends_with(b"\r") => Some(cut),
                    other => other,
                };
                assert!(found == whole || found == expected, "{text:?} at {cut}");
            }
        }
    }

    /// Cutting a stream into blocks and parsing each alone gives the events of the whole.
    #[test]
    fn blocks_parse_like_the_whole_stream() {
        let stream: &[u8] =
            b": hi\n\ndata: 1\r\n\r\nevent: e\ndata: 2\rdata: 3\r\r\ndata: 4\n\n\ndata: 5\n\n";
        let parse = |pieces: &[&[u8]]| {
            let mut p = SseParser::new();
            let mut out = Vec::new();
            for piece in pieces {
                p.push(piece, &mut |e| {
                    out.push((e.event.to_vec(), e.data.to_vec()))
                })
                .unwrap();
            }
            out
        };
        let whole = parse(&[stream]);
        assert_eq!(whole.len(), 4);
        let mut blocks = Vec::new();
        let mut rest = stream;
        while let Some(end) = block_end(rest) {
            blocks.push(&rest[..end]);
            rest = &rest[end..];
        }
        assert!(rest.is_empty());
        assert_eq!(blocks.concat(), stream);
        assert_eq!(parse(&blocks), whole);
    }
}
