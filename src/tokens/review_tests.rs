//! Adversarial review of the token counter (issue 5): whole-text differential fuzz against
//! tiktoken-rs, the chunked merge with tiny chunks against a plain byte-pair merge written here
//! (tiktoken's algorithm, quadratic, independent of `bpe.rs`), the compatibility argument of
//! `bpe::count_long` checked on random cuts, and size edge cases around the short/long and
//! chunk limits. Native only: tiktoken-rs is the reference.
#![cfg(not(target_arch = "wasm32"))]

use super::vocab::{Vocab, CL100K, O200K};
use super::{bpe, Encoding, Tokenizer};
use crate::test_rng::TestRng;

mod texts;

fn vocab(enc: Encoding) -> &'static Vocab {
    match enc {
        Encoding::O200kBase => &O200K,
        Encoding::Cl100kBase => &CL100K,
    }
}

fn reference(enc: Encoding) -> &'static tiktoken_rs::CoreBPE {
    use std::sync::OnceLock;
    static O: OnceLock<tiktoken_rs::CoreBPE> = OnceLock::new();
    static C: OnceLock<tiktoken_rs::CoreBPE> = OnceLock::new();
    match enc {
        Encoding::O200kBase => O.get_or_init(|| tiktoken_rs::o200k_base().unwrap()),
        Encoding::Cl100kBase => C.get_or_init(|| tiktoken_rs::cl100k_base().unwrap()),
    }
}

fn tok() -> &'static Tokenizer {
    super::tests::tokenizer()
}

/// Ours against tiktoken-rs on the whole text.
fn check(enc: Encoding, text: &str, what: &str) {
    let want = reference(enc).encode_ordinary(text).len() as u64;
    let got = tok().count(enc, text);
    if got != want {
        let shown: String = text.chars().take(120).collect();
        panic!(
            "{enc} {what}: ours {got}, tiktoken-rs {want}, {} bytes: {shown:?}…",
            text.len()
        );
    }
}

/// tiktoken's `_byte_pair_merge`, written out plainly: merge the leftmost lowest-ranked
/// adjacent pair until none is a token. Returns the tokens' end offsets.
fn plain_merge(v: &Vocab, piece: &[u8]) -> Vec<usize> {
    let rank = |a: usize, b: usize| v.rank(&piece[a..b]).unwrap_or(u32::MAX);
    // bounds[i]..bounds[i + 1] is part i.
    let mut bounds: Vec<usize> = (0..=piece.len()).collect();
    let mut ranks: Vec<u32> = (0..piece.len().saturating_sub(1))
        .map(|i| rank(i, i + 2))
        .collect();
    loop {
        let mut best = (u32::MAX, usize::MAX);
        for (i, &r) in ranks.iter().enumerate() {
            if r < best.0 {
                best = (r, i);
            }
        }
        if best.0 == u32::MAX {
            break;
        }
        let i = best.1;
        bounds.remove(i + 1);
        ranks.remove(i);
        // Now part i spans bounds[i]..bounds[i + 1]; refresh the pairs (i-1, i) and (i, i+1).
        if i < ranks.len() {
            ranks[i] = rank(bounds[i], bounds[i + 2]);
        }
        if i > 0 {
            ranks[i - 1] = rank(bounds[i - 1], bounds[i + 1]);
        }
    }
    bounds[1..].to_vec()
}

fn compatible(v: &Vocab, x: &[u8], y: &[u8]) -> bool {
    let both = [x, y].concat();
    plain_merge(v, &both) == vec![x.len(), both.len()]
}

/// The count `bpe` gives for a piece that is not a token (and one for a token).
fn bpe_count(v: &Vocab, piece: &[u8]) -> u64 {
    if v.rank(piece).is_some() {
        1
    } else {
        bpe::count(v, piece)
    }
}

/// Random bytes of a piece-like shape (not necessarily UTF-8: the merge works on bytes).
fn random_piece(rng: &mut TestRng, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the", "ing", "tion", "un", "re", "able", "ment", "ly", "er", "st", "qu", "x", "anti",
        "dis", "es", "ab", "ba", "aa",
    ];
    let alphabets: [&[u8]; 9] = [
        b"ab",
        b"abc ",
        b"a",
        b"01",
        b"=-",
        b"aeioust",
        b"[]{}\",:",
        "é日😀a".as_bytes(),
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/",
    ];
    let mut out = Vec::with_capacity(len);
    match rng.below(alphabets.len() + 3) {
        k if k < alphabets.len() => {
            let a = alphabets[k];
            while out.len() < len {
                out.push(rng.pick(a));
            }
        }
        k if k == alphabets.len() => {
            while out.len() < len {
                out.extend_from_slice(rng.pick(WORDS).as_bytes());
            }
            out.truncate(len);
        }
        k if k == alphabets.len() + 1 => {
            // A short random period repeated (memo and periodic shapes), period 1..=13.
            let unit: Vec<u8> = (0..rng.range(1, 13))
                .map(|_| rng.pick(b"abcab a.["))
                .collect();
            while out.len() < len {
                out.extend_from_slice(&unit);
            }
            out.truncate(len);
        }
        _ => {
            while out.len() < len {
                out.push(rng.next() as u8);
            }
        }
    }
    out
}

/// `count_long` with tiny chunks and margins (many cuts, and margins too small for the
/// longest token, and chunks not larger than the margin) against one whole merge and the plain
/// merge.
#[test]
fn count_long_tiny_chunks_equal_plain_merge() {
    let mut rng = TestRng::new(0x5EED_0001);
    let params = [
        (2, 1),
        (3, 0),
        (8, 3),
        (16, 4),
        (33, 8),
        (40, 39),
        (64, 16),
        (100, 100),
        (129, 1),
        (200, 60),
        (257, 128),
        (300, 140),
        (1000, 0),
    ];
    for round in 0..120 {
        let len = if round % 4 == 0 {
            rng.range(129, 1500)
        } else {
            rng.range(1, 400)
        };
        let piece = random_piece(&mut rng, len);
        for enc in Encoding::ALL {
            let v = vocab(enc);
            let want = plain_merge(v, &piece).len() as u64;
            assert_eq!(
                bpe::count_long(v, &piece, usize::MAX, 0),
                want,
                "{enc}: whole merge of {piece:?}"
            );
            if v.rank(&piece).is_none() {
                assert_eq!(bpe::count(v, &piece), want, "{enc}: count of {piece:?}");
            }
            for &(chunk, margin) in &params {
                assert_eq!(
                    bpe::count_long(v, &piece, chunk, margin),
                    want,
                    "{enc}: chunk {chunk} margin {margin} of {piece:?}"
                );
            }
        }
    }
}

/// The claim behind `count_long`: encodings of two halves whose tokens at the cut are
/// compatible concatenate to the encoding of the whole. Cut at random bytes of random pieces;
/// whenever the cut pair is compatible, the halves' tokens must be the whole's.
#[test]
fn compatible_cuts_give_the_whole_merge() {
    let mut rng = TestRng::new(0x5EED_0002);
    let (mut compatible_cuts, mut cuts) = (0, 0);
    for _ in 0..700 {
        let len = rng.range(2, 160);
        let piece = random_piece(&mut rng, len);
        for enc in Encoding::ALL {
            let v = vocab(enc);
            let whole = plain_merge(v, &piece);
            for _ in 0..4 {
                let c = rng.range(1, len - 1);
                let left = plain_merge(v, &piece[..c]);
                let right = plain_merge(v, &piece[c..]);
                let x_start = left.len().checked_sub(2).map_or(0, |i| left[i]);
                let (x, y) = (&piece[x_start..c], &piece[c..c + right[0]]);
                cuts += 1;
                let joined: Vec<usize> = left
                    .iter()
                    .copied()
                    .chain(right.iter().map(|e| e + c))
                    .collect();
                if compatible(v, x, y) {
                    compatible_cuts += 1;
                    assert_eq!(joined, whole, "{enc}: compatible cut {c} of {piece:?}");
                } else {
                    // Neighbours in a finished merge are compatible, so the halves cannot
                    // then be the whole.
                    assert_ne!(joined, whole, "{enc}: incompatible cut {c} of {piece:?}");
                }
            }
        }
    }
    // The test means something only if both outcomes happen often.
    assert!(compatible_cuts > cuts / 10, "{compatible_cuts} of {cuts}");
    assert!(compatible_cuts < cuts, "{compatible_cuts} of {cuts}");
}

/// Every length of a periodic run with small chunks (many cuts, the last chunk sometimes the
/// same bytes as the one before), and lengths around the real chunk cuts, the chunked merge
/// against one whole merge (ours, checked against the plain merge and tiktoken-rs above): the
/// memo of a chunk with the same bytes must not carry over to the last chunk, which keeps all
/// its tokens.
#[test]
fn chunk_memo_at_every_length() {
    let mut rng = TestRng::new(0x5EED_0005);
    let units: [&[u8]; 4] = [b"a", b"abc", "日".as_bytes(), b"abcdefg"];
    for unit in units {
        let run = unit.repeat(3 * 8192 / unit.len() + 2);
        for enc in Encoding::ALL {
            let v = vocab(enc);
            for n in 129..700 {
                let piece = &run[..n];
                assert_eq!(
                    bpe::count_long(v, piece, 200, 60),
                    bpe::count_long(v, piece, usize::MAX, 0),
                    "{enc}: {n} bytes of {unit:?}"
                );
            }
            let mut lengths = vec![8192, 8193, 8704, 16384, 16385, 24576];
            lengths.extend((0..4).map(|_| rng.range(8192, run.len())));
            for n in lengths {
                let piece = &run[..n];
                assert_eq!(
                    bpe::count(v, piece),
                    bpe::count_long(v, piece, usize::MAX, 0),
                    "{enc}: {n} bytes of {unit:?}"
                );
            }
        }
    }
}

/// The compatibility claim, exhaustively on short strings over two-letter alphabets: every
/// string up to 11 bytes, every cut.
#[test]
fn compatible_cuts_exhaustive_small() {
    for alphabet in [b"ab", b" a", b"=-", b"01", b"e "] {
        for len in 2..=11usize {
            for bits in 0..(1u32 << len) {
                let piece: Vec<u8> = (0..len)
                    .map(|i| alphabet[(bits >> i & 1) as usize])
                    .collect();
                let v = &O200K;
                let whole = plain_merge(v, &piece);
                assert_eq!(bpe_count(v, &piece), whole.len() as u64, "{piece:?}");
                for c in 1..len {
                    let left = plain_merge(v, &piece[..c]);
                    let right = plain_merge(v, &piece[c..]);
                    let x_start = left.len().checked_sub(2).map_or(0, |i| left[i]);
                    let joined: Vec<usize> = left
                        .iter()
                        .copied()
                        .chain(right.iter().map(|e| e + c))
                        .collect();
                    let ok = compatible(v, &piece[x_start..c], &piece[c..c + right[0]]);
                    assert_eq!(ok, joined == whole, "cut {c} of {piece:?}");
                }
            }
        }
    }
}
