//! Tokenizer candidates for issue 5, as a wasm32-wasip1 reactor driven by `tok-runner`.
//! One module per candidate (cargo feature `tiktoken`, `bpe` or `tables`); exports:
//! - `bench_load(mask) -> u32`: loads the encodings in `mask` (1 = o200k_base,
//!   2 = cl100k_base); 0 on success.
//! - `bench_alloc(len) -> ptr`: a buffer the runner fills with a corpus file.
//! - `bench_count(enc, ptr, len) -> i64`: token count of the UTF-8 text (enc 1 or 2), -1 if the
//!   encoding is not loaded, -2 if the text is not UTF-8.
//! - `bench_memory_bytes() -> u64`: linear memory size (`memory_size(0) * 65536`).
//!
//! Candidate `tiktoken` counts exactly as `src/tokens.rs` does (encode_ordinary over pieces of
//! at most 16 KiB cut where tiktoken's pre-tokenizer splits anyway); candidate `bpe` uses
//! bpe-openai's `Tokenizer::count` on the whole text; candidate `tables` is the filter's own
//! counter today (`tollbooth::tokens::Tokenizer`, one per loaded encoding).

use std::cell::RefCell;

#[cfg(feature = "tiktoken")]
type Bpe = tiktoken_rs::CoreBPE;
#[cfg(feature = "bpe")]
type Bpe = &'static bpe_openai::Tokenizer;
#[cfg(feature = "tables")]
type Bpe = (tollbooth::tokens::Tokenizer, tollbooth::tokens::Encoding);

thread_local! {
    static LOADED: RefCell<[Option<Bpe>; 2]> = const { RefCell::new([None, None]) };
}

#[cfg(feature = "tiktoken")]
fn build(enc: u32) -> Option<Bpe> {
    match enc {
        1 => tiktoken_rs::o200k_base().ok(),
        2 => tiktoken_rs::cl100k_base().ok(),
        _ => None,
    }
}

#[cfg(feature = "bpe")]
fn build(enc: u32) -> Option<Bpe> {
    match enc {
        1 => Some(bpe_openai::o200k_base()),
        2 => Some(bpe_openai::cl100k_base()),
        _ => None,
    }
}

#[cfg(feature = "tables")]
fn build(enc: u32) -> Option<Bpe> {
    use tollbooth::tokens::{Encoding, Tokenizer};
    let enc = match enc {
        1 => Encoding::O200kBase,
        2 => Encoding::Cl100kBase,
        _ => return None,
    };
    Some((Tokenizer::load(&[enc]).ok()?, enc))
}

#[cfg(feature = "tables")]
fn count(bpe: &Bpe, text: &str) -> u64 {
    bpe.0.count(bpe.1, text)
}

#[cfg(feature = "tiktoken")]
fn count(bpe: &Bpe, text: &str) -> u64 {
    segments(text, MAX_SEGMENT)
        .map(|seg| bpe.encode_ordinary(seg).len() as u64)
        .sum()
}

#[cfg(feature = "bpe")]
fn count(bpe: &Bpe, text: &str) -> u64 {
    bpe.count(text) as u64
}

#[no_mangle]
pub extern "C" fn bench_load(mask: u32) -> u32 {
    LOADED.with(|l| {
        let mut l = l.borrow_mut();
        for (i, enc) in [1u32, 2].into_iter().enumerate() {
            if mask & enc != 0 {
                match build(enc) {
                    Some(b) => {
                        if let Some(slot) = l.get_mut(i) {
                            *slot = Some(b);
                        }
                    }
                    None => return 1,
                }
            }
        }
        0
    })
}

#[no_mangle]
pub extern "C" fn bench_alloc(len: u32) -> *mut u8 {
    let v: Vec<u8> = vec![0; len as usize];
    Box::leak(v.into_boxed_slice()).as_mut_ptr()
}

/// # Safety
/// `ptr..ptr+len` must be a buffer from `bench_alloc`.
#[no_mangle]
pub unsafe extern "C" fn bench_count(enc: u32, ptr: *const u8, len: u32) -> i64 {
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return -2;
    };
    LOADED.with(|l| {
        let l = l.borrow();
        let Some(Some(bpe)) = l.get(enc.wrapping_sub(1) as usize) else {
            return -1;
        };
        count(bpe, std::hint::black_box(text)) as i64
    })
}

#[no_mangle]
pub extern "C" fn bench_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

// ---- copied from src/tokens.rs (the filter's own splitting), so candidate `tiktoken` is the
// filter's counting exactly.

#[cfg(feature = "tiktoken")]
const MAX_SEGMENT: usize = 16 * 1024;

#[cfg(feature = "tiktoken")]
fn segments(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() <= max {
            return Some(std::mem::take(&mut rest));
        }
        let bytes = rest.as_bytes();
        let safe = |i: usize| {
            bytes.get(i) == Some(&b' ')
                && i.checked_sub(1)
                    .and_then(|j| bytes.get(j))
                    .is_some_and(u8::is_ascii_alphanumeric)
                && bytes.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace())
        };
        let cut = (max / 2..=max)
            .rev()
            .find(|&i| safe(i))
            .or_else(|| (1..=max).rev().find(|&i| rest.is_char_boundary(i)))
            .unwrap_or(rest.len());
        let (head, tail) = rest.split_at(cut);
        rest = tail;
        Some(head)
    })
}
