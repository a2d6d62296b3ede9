//! The character classes both pre-tokenizer patterns are built from, and a fast lookup: a
//! 128-entry table for ASCII bytes, a two-level table (`table.rs`, generated) for the rest.
//!
//! The reference is regex-syntax 0.8.11 (the version fancy-regex 0.19.2 uses, through
//! tiktoken-rs 0.12.1), whose Unicode tables are Unicode 16.0.0; `table.rs` was generated from
//! that same engine (see `tests_tools.rs`, `regenerate_table`), so it is Unicode 16.0.0 too. A
//! native test compares every code point with the engine's classes.

use super::table;

/// A character's class, as far as the patterns can tell characters apart.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Class {
    /// Not a letter, mark, number or white space: punctuation, symbols, controls, format
    /// characters (ZWJ), private use, unassigned.
    Other = 0,
    /// `\p{Lu}`, `\p{Lt}`.
    Upper = 1,
    /// `\p{Ll}`.
    Lower = 2,
    /// `\p{Lm}`, `\p{Lo}`: letters o200k counts as both upper and lower case.
    Letter = 3,
    /// `\p{M}`: not `\p{L}`, but in both of o200k's letter classes.
    Mark = 4,
    /// `\p{N}` (Nd, Nl, No).
    Number = 5,
    /// `\s` (Unicode White_Space) other than `\r` and `\n`.
    Space = 6,
    /// `\r`, `\n`.
    Newline = 7,
}

impl Class {
    /// The class with the given discriminant (`Other` for anything unknown).
    pub(crate) const fn from_u8(v: u8) -> Class {
        match v {
            1 => Class::Upper,
            2 => Class::Lower,
            3 => Class::Letter,
            4 => Class::Mark,
            5 => Class::Number,
            6 => Class::Space,
            7 => Class::Newline,
            _ => Class::Other,
        }
    }

    /// `\p{L}`.
    #[inline]
    pub(crate) fn is_letter(self) -> bool {
        matches!(self, Class::Upper | Class::Lower | Class::Letter)
    }

    /// `[^\s\p{L}\p{N}]`: what a punctuation piece is made of.
    #[inline]
    pub(crate) fn is_punct(self) -> bool {
        matches!(self, Class::Other | Class::Mark)
    }
}

// A constant: an index out of bounds would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
const fn ascii_table() -> [Class; 128] {
    let mut t = [Class::Other; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            b'A'..=b'Z' => Class::Upper,
            b'a'..=b'z' => Class::Lower,
            b'0'..=b'9' => Class::Number,
            b'\r' | b'\n' => Class::Newline,
            // \t, \v, \f and the space: White_Space (0x1C..=0x1F are not).
            b'\t' | 0x0B | 0x0C | b' ' => Class::Space,
            _ => Class::Other,
        };
        b += 1;
    }
    t
}

static ASCII: [Class; 128] = ascii_table();

/// The class of the character at byte `i` of `b` (valid UTF-8, `i` on a character boundary)
/// and its length in bytes; `None` at the end.
#[inline(always)]
pub(crate) fn at(b: &[u8], i: usize) -> Option<(Class, usize)> {
    let &b0 = b.get(i)?;
    if b0 < 0x80 {
        let class = ASCII.get(usize::from(b0)).copied().unwrap_or(Class::Other);
        return Some((class, 1));
    }
    Some(decode(b, i, b0))
}

/// A multi-byte character's class and length (out of line: it keeps the ASCII loops small).
#[inline(never)]
fn decode(b: &[u8], i: usize, b0: u8) -> (Class, usize) {
    let cont = |k: usize| b.get(i + k).map_or(0, |&x| u32::from(x & 0x3F));
    let lead = u32::from(b0);
    let (cp, len) = if b0 < 0xE0 {
        (((lead & 0x1F) << 6) | cont(1), 2)
    } else if b0 < 0xF0 {
        (((lead & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            ((lead & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    };
    (lookup(cp), len)
}

/// The class of a non-ASCII code point, from the generated tables.
#[inline]
fn lookup(cp: u32) -> Class {
    if cp >= table::LIMIT {
        return table::HIGH
            .iter()
            .find(|&&(lo, hi, _)| lo <= cp && cp <= hi)
            .map_or(Class::Other, |&(_, _, c)| Class::from_u8(c));
    }
    let block = table::INDEX
        .get((cp >> table::SHIFT) as usize)
        .map_or(0, |&v| usize::from(v));
    let offset = (block << table::SHIFT) | (cp & ((1 << table::SHIFT) - 1)) as usize;
    let byte = table::LEAVES.get(offset >> 1).copied().unwrap_or(0);
    Class::from_u8(if offset & 1 == 0 {
        byte & 0x0F
    } else {
        byte >> 4
    })
}

/// The class of `c` (what the tests compare with the regex engine's classes).
#[cfg(test)]
pub(crate) fn class_of(c: char) -> Class {
    let mut buf = [0; 4];
    let s = c.encode_utf8(&mut buf);
    at(s.as_bytes(), 0).map_or(Class::Other, |(class, _)| class)
}

/// Byte offset after the run of characters from `i` whose class satisfies `f`.
#[inline(always)]
pub(crate) fn run(b: &[u8], mut i: usize, f: impl Fn(Class) -> bool) -> usize {
    while let Some((c, n)) = at(b, i) {
        if !f(c) {
            break;
        }
        i += n;
    }
    i
}

/// Byte offset after the run of bytes from `i` that satisfy `f` (ASCII sets only).
#[inline(always)]
pub(crate) fn byte_run(b: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while b.get(i).is_some_and(|&x| f(x)) {
        i += 1;
    }
    i
}

/// A run of white space (`\s+`) from some position.
pub(crate) struct Spaces {
    /// Byte offset after the run.
    pub(crate) end: usize,
    /// Byte offset of the run's last character.
    pub(crate) last: usize,
    /// Byte offset after the run's last `\r` or `\n`, if it has one.
    pub(crate) after_newline: Option<usize>,
}

/// The white-space run from `i` (empty when `i` is not white space).
#[inline]
pub(crate) fn spaces(b: &[u8], i: usize) -> Spaces {
    let mut run = Spaces {
        end: i,
        last: i,
        after_newline: None,
    };
    while let Some((c, n)) = at(b, run.end) {
        match c {
            Class::Space => {}
            Class::Newline => run.after_newline = Some(run.end + n),
            _ => break,
        }
        run.last = run.end;
        run.end += n;
    }
    run
}

/// `\p{N}{1,3}` from `i` (which is a number).
#[inline]
pub(crate) fn digits(b: &[u8], mut i: usize) -> usize {
    for _ in 0..3 {
        match at(b, i) {
            Some((Class::Number, n)) => i += n,
            _ => break,
        }
    }
    i
}

/// Whether `x` is `s` or `S`, and so on: ASCII case-insensitive comparison with a lower-case
/// ASCII letter.
#[inline(always)]
pub(crate) fn is(x: Option<&u8>, lower: u8) -> bool {
    x.is_some_and(|&x| x | 0x20 == lower)
}

/// Whether the bytes at `i` are `ſ` (U+017F), which `(?i)s` also matches (Unicode simple case
/// folding).
#[inline(always)]
pub(crate) fn is_long_s(b: &[u8], i: usize) -> bool {
    b.get(i) == Some(&0xC5) && b.get(i + 1) == Some(&0xBF)
}
