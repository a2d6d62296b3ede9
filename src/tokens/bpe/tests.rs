//! The chunked merge against the whole-piece merge, with chunks small enough that long
//! pieces cross many cuts (the reference comparisons with tiktoken-rs are in
//! `tokens/exact_tests.rs`).

use super::heap::Merger;
use super::*;
use crate::tokens::vocab::{CL100K, O200K};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn letters(n: usize, seed: u64, alphabet: &[u8]) -> Vec<u8> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            alphabet[(state % alphabet.len() as u64) as usize]
        })
        .collect()
}

#[test]
fn chunks_agree_with_one_merge() {
    let texts: Vec<Vec<u8>> = vec![
        b"a".repeat(3_000),
        letters(3_000, 7, b"abcdefghijklmnopqrstuvwxyz"),
        letters(3_000, 9, b"abAB01+/"),
        b"[".repeat(2_000),
        "é".repeat(700).into_bytes(),
        b"ab".repeat(1_200),
    ];
    for v in [&O200K, &CL100K] {
        for t in &texts {
            let whole = Merger::default().count_all(v, t);
            for (chunk, margin) in [(300, 140), (600, 200), (1_000, 300), (CHUNK, MARGIN)] {
                assert_eq!(count_long(v, t, chunk, margin), whole, "chunk {chunk}");
            }
        }
    }
}

#[test]
fn short_and_heap_agree() {
    for v in [&O200K, &CL100K] {
        for seed in 1..40u64 {
            let t = letters(
                1 + (seed as usize * 7) % SHORT,
                seed,
                b"abcdeXYZ '[]{}\"aaaa",
            );
            let mut starts = [0u32; SHORT_MAX];
            let a = short(v, &t, &mut starts) as u64;
            assert_eq!(a, Merger::default().count_all(v, &t), "{:?}", t);
        }
    }
}

#[test]
fn compatible_pairs() {
    let v = &O200K;
    // " the" and " cat" are separate tokens side by side; "a" and "a" merge into "aa".
    assert!(compatible(v, b" the", b" cat"));
    assert!(!compatible(v, b"a", b"a"));
}

#[test]
fn three_bytes_and_less_agree_with_the_scan() {
    // Every two- and three-byte string over a small alphabet that is not a token.
    let alphabet = b"aZ0 '[\xc3\xa9";
    for v in [&O200K, &CL100K] {
        for &a in alphabet {
            for &b in alphabet {
                for t in [vec![a, b], vec![a, b, b'x'], vec![a, b'e', b]] {
                    if v.rank(&t).is_some() {
                        continue;
                    }
                    let mut starts = [0u32; 32];
                    assert_eq!(count(v, &t), short(v, &t, &mut starts) as u64, "{t:?}");
                }
            }
        }
    }
}
