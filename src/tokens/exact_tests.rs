//! The counting tables and the merge against tiktoken-rs (the reference), piece by piece: the
//! text is split with tiktoken's own pattern (fancy-regex, as tiktoken-rs does), each piece
//! counted by a whole-piece lookup, else by merging, and the total compared with
//! `encode_ordinary(text).len()`.

use super::vocab::{Vocab, CL100K, O200K};
use super::{bpe, Encoding};

/// The pattern strings of tiktoken-rs 0.12.1 (`tiktoken_ext/openai_public.rs`).
const CL100K_PAT: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

fn vocab(enc: Encoding) -> &'static Vocab {
    match enc {
        Encoding::O200kBase => &O200K,
        Encoding::Cl100kBase => &CL100K,
    }
}

fn reference(enc: Encoding) -> tiktoken_rs::CoreBPE {
    match enc {
        Encoding::O200kBase => tiktoken_rs::o200k_base().unwrap(),
        Encoding::Cl100kBase => tiktoken_rs::cl100k_base().unwrap(),
    }
}

fn pattern(enc: Encoding) -> fancy_regex::Regex {
    match enc {
        Encoding::O200kBase => fancy_regex::Regex::new(tiktoken_rs::O200K_BASE_PAT_STR).unwrap(),
        Encoding::Cl100kBase => fancy_regex::Regex::new(CL100K_PAT).unwrap(),
    }
}

fn count_piece(v: &Vocab, piece: &[u8]) -> u64 {
    if v.rank(piece).is_some() {
        1
    } else {
        bpe::count(v, piece)
    }
}

/// Per piece: ours and the reference's count of that piece alone.
fn compare(enc: Encoding, text: &str) {
    let (v, re, bpe_ref) = (vocab(enc), pattern(enc), reference(enc));
    for m in re.find_iter(text) {
        let piece = m.unwrap().as_str();
        let want = bpe_ref.encode_ordinary(piece).len() as u64;
        let got = count_piece(v, piece.as_bytes());
        assert_eq!(got, want, "{enc}: piece {:?}", piece);
    }
}

#[test]
fn every_token_is_found_at_its_rank() {
    for enc in Encoding::ALL {
        let (v, r) = (vocab(enc), reference(enc));
        for rank in 0..v.tokens() {
            let bytes = v.token(rank);
            assert_eq!(bytes, r.decode_bytes(&[rank]).unwrap().as_slice());
            assert_eq!(v.rank(bytes), Some(rank), "{enc} rank {rank}");
        }
        assert_eq!(v.rank(b""), None);
        assert_eq!(v.rank(b"not one token at all, surely"), None);
    }
}

#[test]
fn known_counts() {
    // OpenAI Cookbook, "How to count tokens with tiktoken": "tiktoken is great!" is 6 tokens
    // in cl100k_base, "antidisestablishmentarianism" 6 in cl100k_base.
    let v = vocab(Encoding::Cl100kBase);
    let re = pattern(Encoding::Cl100kBase);
    let total = |t: &str| -> u64 {
        re.find_iter(t)
            .map(|m| count_piece(v, m.unwrap().as_str().as_bytes()))
            .sum()
    };
    assert_eq!(total("tiktoken is great!"), 6);
    assert_eq!(total("antidisestablishmentarianism"), 6);
}

#[test]
fn pieces_of_prose_code_and_scripts() {
    let text = concat!(
        "The quick brown fox jumps over the lazy dog. It's 12345 o'clock; they've gone!\n\n",
        "fn main() { let x: Vec<u8> = vec![1, 2, 3]; println!(\"{x:?}\"); }\r\n",
        "Über naïve café — 日本語のテキストです。 Привет, мир! مرحبا بالعالم 😀👍🏽 ",
        "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis ",
        "aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQgZW5jb2RlZCB0ZXh0IHdpdGggc29tZSBsZW5ndGg= ",
        "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]] {\"a\":{\"b\":{\"c\":[1,2,{\"d\":null}]}}}       x"
    );
    for enc in Encoding::ALL {
        compare(enc, text);
    }
}

/// Long pieces take the heap path (more than 128 bytes).
#[test]
fn long_pieces() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut letters = String::new();
    for _ in 0..3_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        letters.push(char::from(b'a' + (state % 26) as u8));
    }
    let texts = [
        "a".repeat(5_000),
        letters,
        "[".repeat(2_000),
        "ab".repeat(1_500),
        "Abc".repeat(700),
        "é".repeat(900),
        "日本".repeat(400),
    ];
    for enc in Encoding::ALL {
        for t in &texts {
            compare(enc, t);
        }
    }
}
