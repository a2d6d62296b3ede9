//! Whole texts against tiktoken-rs: random segments with long runs across the chunk cuts, edge
//! sizes, the longest tokens, random code points.

use super::{check, reference, vocab};
use crate::test_rng::TestRng as Rng;
use crate::tokens::Encoding;

/// One random segment of text: long runs (up to `long` bytes, across several 8 KiB chunk cuts)
/// of letters, one repeated character, two alternating ones, digits, punctuation, multibyte
/// characters, white space, words, base64, a periodic unit, or the pre-tokenizer's tricky
/// characters.
fn segment(rng: &mut Rng, long: usize) -> String {
    const REPEATED: &[&str] = &[
        "a", " ", "[", "é", "日", "😀", "\n", "0", "\0", "\u{FFFD}", "-", "=", "\t", "'", "ſ",
        "\u{301}", "\u{3000}", "\r\n", "Z",
    ];
    const TRICKY: &[char] = &[
        ' ',
        '\t',
        '\n',
        '\r',
        '\u{a0}',
        '\u{3000}',
        '\u{2028}',
        '\u{85}',
        'a',
        'Z',
        'é',
        'É',
        '\u{301}',
        'ǅ',
        'ʰ',
        '日',
        '٣',
        '½',
        '1',
        '\'',
        '’',
        's',
        'S',
        'ſ',
        'l',
        'L',
        'd',
        'v',
        'e',
        'r',
        'm',
        't',
        'T',
        '/',
        '.',
        '!',
        '"',
        '{',
        '😀',
        '\u{200d}',
        '\u{e000}',
        '\u{10ffff}',
        '\u{212a}',
        'ß',
        '\0',
        '\u{FFFD}',
        '\u{1f}',
    ];
    let len = if rng.below(10) < 3 {
        rng.range(200, long)
    } else {
        rng.range(1, 40)
    };
    let from = |rng: &mut Rng, chars: &[char]| -> String {
        let mut s = String::new();
        while s.len() < len {
            s.push(rng.pick(chars));
        }
        s
    };
    let repeat = |unit: &str| unit.repeat(len / unit.len().max(1) + 1);
    match rng.below(11) {
        0 => from(rng, &('a'..='z').collect::<Vec<_>>()),
        1 => repeat(rng.pick(REPEATED)),
        2 => {
            let (a, b) = (rng.pick(REPEATED), rng.pick(REPEATED));
            repeat(&format!("{a}{b}"))
        }
        3 => from(rng, &('0'..='9').collect::<Vec<_>>()),
        4 => from(
            rng,
            &"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
                .chars()
                .collect::<Vec<_>>(),
        ),
        5 => from(rng, &"éü日本語😀👍🏽ЖΩ\u{301}ا".chars().collect::<Vec<_>>()),
        6 => from(
            rng,
            &" \t\n\r\u{a0}\u{3000}\u{2028}\u{85}"
                .chars()
                .collect::<Vec<_>>(),
        ),
        7 => {
            let words = [
                "the ", "cat's ", "they've ", "Hello", ", ", "world", ". ", "\n", "I'M ", "naïve ",
                "don't", "  ", "x",
            ];
            let mut s = String::new();
            while s.len() < len {
                s.push_str(rng.pick(&words));
            }
            s
        }
        8 => from(
            rng,
            &"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                .chars()
                .collect::<Vec<_>>(),
        ),
        9 => {
            let unit: String = (0..rng.range(1, 20))
                .map(|_| rng.pick(&['a', 'b', 'c', 'é', 'x', 'Q', '.', '[']))
                .collect();
            repeat(&unit)
        }
        _ => from(rng, TRICKY),
    }
}

/// Whole texts of random segments, ours against tiktoken-rs.
#[test]
fn whole_text_fuzz_equals_tiktoken() {
    let mut rng = Rng::new(0x5EED_0003);
    for round in 0..400 {
        let long = if round % 8 == 0 { 20_000 } else { 3_000 };
        let text: String = (0..rng.range(1, 10))
            .map(|_| segment(&mut rng, long))
            .collect();
        for enc in Encoding::ALL {
            check(enc, &text, &format!("fuzz round {round}"));
        }
    }
}

/// Sizes around the short/long limit (32, 128), the chunk (8192) and chunk + margin, of one
/// repeated character, two alternating ones, a period of 3 (which does not divide the chunk)
/// and random letters; and NUL, U+FFFD, lone combining marks.
#[test]
fn edge_sizes_equal_tiktoken() {
    let sizes = [
        1usize, 2, 3, 31, 32, 33, 127, 128, 129, 255, 256, 257, 8191, 8192, 8193, 8704, 8705,
        16383, 16384, 16385, 24577,
    ];
    let mut rng = Rng::new(0x5EED_0004);
    let letters: String = (0..24_577)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect();
    for n in sizes {
        let texts = [
            "a".repeat(n),
            "ab".repeat(n).split_at(n).0.to_string(),
            "abc".repeat(n).split_at(n).0.to_string(),
            letters[..n].to_string(),
            " ".repeat(n),
            "[".repeat(n),
            "\0".repeat(n),
            "\u{FFFD}".repeat(n.div_ceil(3)),
            "é".repeat(n.div_ceil(2)),
            "\u{301}".repeat(n.div_ceil(2)),
        ];
        for enc in Encoding::ALL {
            for t in &texts {
                check(enc, t, &format!("size {n}"));
            }
        }
    }
    for enc in Encoding::ALL {
        check(enc, "", "empty");
        check(enc, "\0", "NUL");
        check(enc, "a\0b\0\0 \0x", "NULs");
        check(enc, "\u{FFFD}\u{FFFD}x\u{FFFD} \u{FFFD}", "U+FFFD");
    }
}

/// The longest tokens (up to max_len bytes, found with tiktoken-rs): alone, repeated across
/// chunk cuts, glued together, and altered at the last byte (a piece of max_len bytes that is
/// no token).
#[test]
fn longest_tokens_equal_tiktoken() {
    for enc in Encoding::ALL {
        let r = reference(enc);
        let mut long: Vec<(usize, String)> = (0..200_000u32)
            .filter_map(|rank| r.decode_bytes(&[rank]).ok())
            .filter(|b| b.len() >= 64)
            .filter_map(|b| String::from_utf8(b).ok())
            .map(|s| (s.len(), s))
            .collect();
        long.sort();
        long.reverse();
        assert!(!long.is_empty());
        let v = vocab(enc);
        for (len, t) in long.iter().take(12) {
            assert!(*len <= v.max_len());
            check(enc, t, "longest token");
            check(enc, &t.repeat(70), "longest token repeated");
            check(enc, &format!("{t}{t}x{t}"), "longest tokens glued");
            let mut altered = t.clone();
            altered.pop();
            altered.push(if t.ends_with('x') { 'y' } else { 'x' });
            check(enc, &altered, "longest token altered");
            let mut one_more = t.clone();
            one_more.push_str(&t[t.len() - 1..]);
            check(enc, &one_more, "longest token and one more");
        }
    }
}

/// Random code points of the whole Unicode range (unassigned, private use, surrogates' lossy
/// replacement, controls) and random bytes made text with `from_utf8_lossy`.
#[test]
fn random_code_points_and_lossy_bytes_equal_tiktoken() {
    let mut rng = Rng::new(0x5EED_0006);
    for round in 0..1_500 {
        let len = rng.range(1, 300);
        let text: String = if round % 2 == 0 {
            (0..len)
                .filter_map(|_| {
                    // Mostly the planes in use, sometimes anything.
                    let c = match rng.below(4) {
                        0 => rng.below(0x80),
                        1 => rng.below(0x3000),
                        2 => rng.below(0x2_0000),
                        _ => rng.below(0x11_0000),
                    };
                    char::from_u32(c as u32)
                })
                .collect()
        } else {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        for enc in Encoding::ALL {
            check(enc, &text, &format!("code points round {round}"));
        }
    }
}
