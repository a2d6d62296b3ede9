//! cl100k_base's pre-tokenizer pattern (the one tiktoken-rs 0.12.1's `cl100k_base()` passes to
//! `CoreBPE::new`), branch by branch, leftmost-first:
//!
//! ```text
//! 1. '(?i:[sdmt]|ll|ve|re)
//! 2. [^\r\n\p{L}\p{N}]?+\p{L}++
//! 3. \p{N}{1,3}+
//! 4.  ?[^\s\p{L}\p{N}]++[\r\n]*+
//! 5. \s++$
//! 6. \s*[\r\n]
//! 7. \s+(?!\S)
//! 8. \s
//! ```
//!
//! Unlike o200k, marks (`\p{M}`) are not letters here, and a contraction is a piece of its own.

use super::classes::{at, byte_run, digits, is, is_long_s, run, spaces, Class};

/// Byte offset where the piece that starts at `pos` ends (`pos` < `b.len()`).
#[inline]
pub(super) fn piece_end(b: &[u8], pos: usize) -> usize {
    let Some((c0, n0)) = at(b, pos) else {
        return pos;
    };
    match c0 {
        Class::Upper | Class::Lower | Class::Letter => run(b, pos, Class::is_letter),
        Class::Number => digits(b, pos),
        Class::Newline => whitespace(b, pos),
        Class::Mark | Class::Space | Class::Other => {
            if b.get(pos) == Some(&b'\'') {
                if let Some(end) = contraction(b, pos) {
                    return end;
                }
            }
            let next = pos + n0;
            let c1 = at(b, next).map(|(c, _)| c);
            // Branch 2: the prefix (possessive, but a prefix is never a letter) and letters.
            if c1.is_some_and(Class::is_letter) {
                return run(b, next, Class::is_letter);
            }
            // Branch 4: an ASCII space, then punctuation; or punctuation.
            if b.get(pos) == Some(&b' ') && c1.is_some_and(Class::is_punct) {
                return punctuation(b, next);
            }
            if c0.is_punct() {
                return punctuation(b, pos);
            }
            whitespace(b, pos)
        }
    }
}

/// `'(?i:[sdmt]|ll|ve|re)` at `i` (an apostrophe).
#[inline]
fn contraction(b: &[u8], i: usize) -> Option<usize> {
    let c1 = b.get(i + 1);
    let c2 = b.get(i + 2);
    if is(c1, b's') || is(c1, b'd') || is(c1, b'm') || is(c1, b't') {
        Some(i + 2)
    } else if is_long_s(b, i + 1)
        || (is(c1, b'l') && is(c2, b'l'))
        || ((is(c1, b'v') || is(c1, b'r')) && is(c2, b'e'))
    {
        Some(i + 3)
    } else {
        None
    }
}

/// `[^\s\p{L}\p{N}]++[\r\n]*+` from `i` (punctuation).
#[inline]
fn punctuation(b: &[u8], i: usize) -> usize {
    let end = run(b, i, Class::is_punct);
    byte_run(b, end, |x| matches!(x, b'\r' | b'\n'))
}

/// Branches 5 to 8 at white space.
#[inline]
fn whitespace(b: &[u8], pos: usize) -> usize {
    let run = spaces(b, pos);
    if run.end == b.len() {
        // `\s++$`.
        run.end
    } else if let Some(end) = run.after_newline {
        // `\s*[\r\n]`: the longest `\s*` that a newline follows.
        end
    } else if run.last == pos {
        // `\s`.
        run.end
    } else {
        // `\s+(?!\S)` gives back the last character, which the next piece starts with.
        run.last
    }
}
