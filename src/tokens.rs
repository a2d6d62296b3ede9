//! Token counting with tiktoken-rs. The encoding is chosen by model family (OpenAI's
//! `tiktoken/model.py` mapping): o200k_base for gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and the o-series;
//! cl100k_base for gpt-4, gpt-3.5-turbo (and -instruct), davinci-002, babbage-002 and the embedding
//! models; a configured default otherwise.

pub(crate) mod pretokenize;

use std::fmt;
use std::str::FromStr;
use tiktoken_rs::CoreBPE;

/// A BPE encoding the filter can count with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    O200kBase,
    Cl100kBase,
}

impl Encoding {
    pub const ALL: [Encoding; 2] = [Encoding::O200kBase, Encoding::Cl100kBase];

    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Encoding::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| format!("unknown encoding `{s}` (known: o200k_base, cl100k_base)"))
    }
}

/// Model-name prefixes and their encodings, most specific first. From OpenAI's tiktoken
/// `model.py` (MODEL_PREFIX_TO_ENCODING / MODEL_TO_ENCODING); Azure spells gpt-3.5 `gpt-35`.
const FAMILIES: &[(&str, Encoding)] = &[
    ("gpt-4o", Encoding::O200kBase),
    ("chatgpt-4o", Encoding::O200kBase),
    ("gpt-4.1", Encoding::O200kBase),
    ("gpt-4.5", Encoding::O200kBase),
    ("gpt-5", Encoding::O200kBase),
    ("gpt-oss", Encoding::O200kBase),
    ("o1", Encoding::O200kBase),
    ("o3", Encoding::O200kBase),
    ("o4", Encoding::O200kBase),
    ("gpt-4", Encoding::Cl100kBase),
    ("gpt-3.5", Encoding::Cl100kBase),
    ("gpt-35", Encoding::Cl100kBase),
    ("text-embedding-3", Encoding::Cl100kBase),
    ("text-embedding-ada-002", Encoding::Cl100kBase),
    // The legacy Completions base models.
    ("davinci-002", Encoding::Cl100kBase),
    ("babbage-002", Encoding::Cl100kBase),
];

/// The encoding for `model`: the longest matching configured override, else the model family,
/// else `default`.
pub fn encoding_for_model(
    model: &str,
    overrides: &[(String, Encoding)],
    default: Encoding,
) -> Encoding {
    let by_override = overrides
        .iter()
        .filter(|(prefix, _)| model.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, enc)| *enc);
    by_override
        .or_else(|| {
            FAMILIES
                .iter()
                .find(|(p, _)| model.starts_with(p))
                .map(|(_, e)| *e)
        })
        .unwrap_or(default)
}

/// Loaded encodings. Building one costs a few hundred milliseconds inside wasm, so it happens
/// once per VM, when the configuration is applied, never on a request.
pub struct Tokenizer {
    o200k: Option<CoreBPE>,
    cl100k: Option<CoreBPE>,
}

impl Tokenizer {
    /// Loads the given encodings.
    pub fn load(encodings: &[Encoding]) -> Result<Self, String> {
        let build = |enc: Encoding| -> Result<Option<CoreBPE>, String> {
            if !encodings.contains(&enc) {
                return Ok(None);
            }
            let bpe = match enc {
                Encoding::O200kBase => tiktoken_rs::o200k_base(),
                Encoding::Cl100kBase => tiktoken_rs::cl100k_base(),
            };
            bpe.map(Some).map_err(|e| format!("loading {enc}: {e}"))
        };
        Ok(Self {
            o200k: build(Encoding::O200kBase)?,
            cl100k: build(Encoding::Cl100kBase)?,
        })
    }

    pub fn has(&self, enc: Encoding) -> bool {
        self.bpe(enc).is_some()
    }

    fn bpe(&self, enc: Encoding) -> Option<&CoreBPE> {
        match enc {
            Encoding::O200kBase => self.o200k.as_ref(),
            Encoding::Cl100kBase => self.cl100k.as_ref(),
        }
    }

    /// Number of tokens in `text`, special-token text counted as ordinary text (as the API does
    /// for user content). An encoding that was not loaded counts with any loaded one, else
    /// falls back to one token per four bytes.
    pub fn count(&self, enc: Encoding, text: &str) -> u64 {
        if text.is_empty() {
            return 0;
        }
        let bpe = self
            .bpe(enc)
            .or(self.o200k.as_ref())
            .or(self.cl100k.as_ref());
        match bpe {
            Some(bpe) => segments(text, MAX_SEGMENT)
                .map(|seg| bpe.encode_ordinary(seg).len() as u64)
                .sum(),
            None => (text.len() as u64).div_ceil(4),
        }
    }
}

/// Longest piece of text handed to the BPE at once. tiktoken-rs unwraps fancy-regex errors,
/// and fancy-regex gives up (an error, hence a panic that kills the VM) after a million
/// backtracking steps, which a long enough whitespace run reaches (`\s+(?!\S)`).
const MAX_SEGMENT: usize = 16 * 1024;

/// Splits `text` into pieces of at most `max` bytes. A piece ends, where possible, before a
/// space that follows a letter or digit and precedes a non-space: tiktoken's pre-tokenizer
/// splits there anyway, so counting the pieces separately gives the same total. Only text
/// with no such boundary in the second half of a window (pathological runs) is cut elsewhere,
/// at a character boundary.
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

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokenizer")
            .field("o200k", &self.o200k.is_some())
            .field("cl100k", &self.cl100k.is_some())
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Both encodings, loaded once per test process.
    pub(crate) fn tokenizer() -> &'static Tokenizer {
        static TOK: OnceLock<Tokenizer> = OnceLock::new();
        TOK.get_or_init(|| Tokenizer::load(&Encoding::ALL).unwrap())
    }

    #[test]
    fn families() {
        let d = Encoding::O200kBase;
        assert_eq!(
            encoding_for_model("gpt-4o-2024-08-06", &[], d),
            Encoding::O200kBase
        );
        assert_eq!(
            encoding_for_model("gpt-4", &[], Encoding::Cl100kBase),
            Encoding::Cl100kBase
        );
        assert_eq!(
            encoding_for_model("gpt-4-0613", &[], d),
            Encoding::Cl100kBase
        );
        assert_eq!(
            encoding_for_model("gpt-3.5-turbo", &[], d),
            Encoding::Cl100kBase
        );
        assert_eq!(
            encoding_for_model("gpt-4.1-mini", &[], Encoding::Cl100kBase),
            Encoding::O200kBase
        );
        assert_eq!(
            encoding_for_model("o3-mini", &[], Encoding::Cl100kBase),
            Encoding::O200kBase
        );
        assert_eq!(
            encoding_for_model("llama-3", &[], Encoding::Cl100kBase),
            Encoding::Cl100kBase
        );
        for legacy in [
            "gpt-3.5-turbo-instruct",
            "davinci-002",
            "babbage-002",
            "text-embedding-3-small",
            "text-embedding-3-large",
            "text-embedding-ada-002",
        ] {
            assert_eq!(encoding_for_model(legacy, &[], d), Encoding::Cl100kBase);
        }
        let overrides = vec![("gpt-4o-ft".to_string(), Encoding::Cl100kBase)];
        assert_eq!(
            encoding_for_model("gpt-4o-ft-1", &overrides, d),
            Encoding::Cl100kBase
        );
    }

    #[test]
    fn counts_known_strings() {
        // Known counts from OpenAI's tiktoken: "tiktoken is great!" is 6 tokens in cl100k_base
        // (OpenAI Cookbook, "How to count tokens with tiktoken").
        let t = tokenizer();
        assert_eq!(t.count(Encoding::Cl100kBase, "tiktoken is great!"), 6);
        assert_eq!(t.count(Encoding::O200kBase, ""), 0);
        assert!(
            t.count(Encoding::O200kBase, "<|endoftext|>") > 1,
            "special text counts as text"
        );
    }

    #[test]
    fn long_texts_count_the_same_in_segments() {
        let t = tokenizer();
        let prose = "The quick brown fox jumps over the lazy dog, again and again. ".repeat(1500);
        for enc in Encoding::ALL {
            let whole = t.bpe(enc).unwrap().encode_ordinary(&prose).len() as u64;
            assert_eq!(
                t.count(enc, &prose),
                whole,
                "{enc}: segmenting must not change the count"
            );
        }
        let pieces: Vec<&str> = segments(&prose, MAX_SEGMENT).collect();
        assert!(pieces.len() > 5 && pieces.iter().all(|p| p.len() <= MAX_SEGMENT));
        assert_eq!(pieces.concat(), prose);
    }

    #[test]
    fn pathological_runs_do_not_panic() {
        // A megabyte of spaces made tiktoken-rs panic (fancy-regex backtrack limit).
        let t = tokenizer();
        let spaces = format!("{}x", " ".repeat(1_100_000));
        assert!(t.count(Encoding::O200kBase, &spaces) > 0);
        let multibyte = "é".repeat(20_000);
        let pieces: Vec<&str> = segments(&multibyte, 1001).collect();
        assert_eq!(
            pieces.concat(),
            multibyte,
            "cuts land on character boundaries"
        );
    }

    #[test]
    fn unknown_encoding_name_is_an_error() {
        assert!("p50k_base".parse::<Encoding>().is_err());
        assert_eq!("cl100k_base".parse::<Encoding>(), Ok(Encoding::Cl100kBase));
    }
}
