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
    // Whether the current line has no characters yet (true at the start of a block).
    let mut line_empty = true;
    let mut after_cr = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' if after_cr => {
                // The LF of a CRLF whose CR already ended the line.
                after_cr = false;
            }
            b'\n' | b'\r' => {
                if line_empty {
                    let end = if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                        i + 2
                    } else {
                        i + 1
                    };
                    return Some(end);
                }
                line_empty = true;
                after_cr = b == b'\r';
            }
            _ => {
                line_empty = false;
                after_cr = false;
            }
        }
    }
    None
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
