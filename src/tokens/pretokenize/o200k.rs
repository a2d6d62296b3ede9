//! o200k_base's pre-tokenizer pattern (`tiktoken_rs::O200K_BASE_PAT_STR`), branch by branch,
//! leftmost-first:
//!
//! ```text
//! 1. [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! 2. [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! 3. \p{N}{1,3}
//! 4.  ?[^\s\p{L}\p{N}]+[\r\n/]*
//! 5. \s*[\r\n]+
//! 6. \s+(?!\S)
//! 7. \s+
//! ```
//!
//! Below, "upper" is the first letter class (Lu Lt Lm Lo M), "lower" the second (Ll Lm Lo M),
//! "both" a character in both (Lm Lo M), "prefix" `[^\r\n\p{L}\p{N}]`.

use super::classes::{at, byte_run, digits, is, is_long_s, run, spaces, Class};

/// Byte offset where the piece that starts at `pos` ends (`pos` < `b.len()`).
#[inline]
pub(super) fn piece_end(b: &[u8], pos: usize) -> usize {
    let Some((c0, n0)) = at(b, pos) else {
        return pos;
    };
    match c0 {
        // No prefix: branch 1, else branch 2 (the upper run is not empty).
        Class::Upper | Class::Lower | Class::Letter => {
            contraction(b, letters(b, pos).unwrap_or_else(|upper_end| upper_end))
        }
        Class::Number => digits(b, pos),
        Class::Newline => whitespace(b, pos),
        Class::Mark | Class::Space | Class::Other => {
            let next = pos + n0;
            // Branch 1 with the prefix, then without it (only a mark can start a letter run).
            let with_prefix = letters(b, next);
            if let Ok(end) = with_prefix {
                return contraction(b, end);
            }
            if c0 == Class::Mark {
                if let Ok(end) = letters(b, pos) {
                    return contraction(b, end);
                }
            }
            // Branch 2 with the prefix (without it, only a mark could start, which branch 1
            // took).
            if let Err(upper_end) = with_prefix {
                if upper_end > next {
                    return contraction(b, upper_end);
                }
            }
            // Branch 4: an ASCII space, then punctuation; or punctuation.
            if b.get(pos) == Some(&b' ') && at(b, next).is_some_and(|(c, _)| c.is_punct()) {
                return punctuation(b, next);
            }
            if c0.is_punct() {
                return punctuation(b, pos);
            }
            whitespace(b, pos)
        }
    }
}

/// Branch 1 without its prefix, `upper* lower+` from `i`: `Ok(end)`, or `Err(end of the upper
/// run)` when it does not match. Backtracking made explicit: the upper run is taken whole
/// when a lower-only letter (Ll) follows it (then the lower run goes on); otherwise the match
/// ends after the run's last "both" character, whose lower-class reading ends the match.
#[inline(always)]
fn letters(b: &[u8], mut i: usize) -> Result<usize, usize> {
    let mut after_both = None;
    loop {
        match at(b, i) {
            Some((Class::Upper, n)) => i += n,
            Some((Class::Letter | Class::Mark, n)) => {
                i += n;
                after_both = Some(i);
            }
            Some((Class::Lower, _)) => {
                return Ok(run(b, i, |c| {
                    matches!(c, Class::Lower | Class::Letter | Class::Mark)
                }))
            }
            _ => return after_both.ok_or(i),
        }
    }
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` at `i`.
#[inline(always)]
fn contraction(b: &[u8], i: usize) -> usize {
    if b.get(i) != Some(&b'\'') {
        return i;
    }
    let c1 = b.get(i + 1);
    let c2 = b.get(i + 2);
    if is(c1, b's') || is(c1, b't') || is(c1, b'm') || is(c1, b'd') {
        i + 2
    } else if is_long_s(b, i + 1)
        || ((is(c1, b'r') || is(c1, b'v')) && is(c2, b'e'))
        || (is(c1, b'l') && is(c2, b'l'))
    {
        i + 3
    } else {
        i
    }
}

/// `[^\s\p{L}\p{N}]+[\r\n/]*` from `i` (punctuation).
#[inline]
fn punctuation(b: &[u8], i: usize) -> usize {
    let end = run(b, i, Class::is_punct);
    byte_run(b, end, |x| matches!(x, b'\r' | b'\n' | b'/'))
}

/// Branches 5 to 7 at white space.
#[inline]
fn whitespace(b: &[u8], pos: usize) -> usize {
    let run = spaces(b, pos);
    if let Some(end) = run.after_newline {
        // `\s*[\r\n]+`: the longest `\s*` that a newline follows.
        end
    } else if run.end == b.len() || run.last == pos {
        // `\s+(?!\S)` at the end of the text, or a single character (`\s+`).
        run.end
    } else {
        // `\s+(?!\S)` gives back the last character, which the next piece starts with.
        run.last
    }
}
