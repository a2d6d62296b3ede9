//! Token counting. The encoding is chosen by model family (OpenAI's `tiktoken/model.py`
//! mapping): o200k_base for gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and the o-series; cl100k_base for
//! gpt-4, gpt-3.5-turbo (and -instruct), davinci-002, babbage-002 and the embedding models; a
//! configured default otherwise.
//!
//! Counting is tiktoken's, reimplemented for counting only (issue 5): the text is cut into
//! pieces as tiktoken's pre-tokenizer regex cuts it ([`pretokenize`], by hand), a piece that is
//! one token counts one (a lookup in tables generated at build time, [`vocab`]), any other is
//! byte-pair merged ([`bpe`]). The counts equal tiktoken-rs's `encode_ordinary(..).len()`; the
//! tests check them against it. Nothing is built when a VM starts: the tables are the module's
//! data.

mod bpe;
#[cfg(test)]
mod exact_tests;
mod hash;
pub(crate) mod pretokenize;
#[cfg(test)]
mod review_tests;
mod vocab;

use std::fmt;
use std::str::FromStr;

use vocab::{Vocab, CL100K, O200K};

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

/// The encodings a VM counts with. Their tables are static, so loading one only checks it.
pub struct Tokenizer {
    o200k: bool,
    cl100k: bool,
}

impl Tokenizer {
    /// Loads the given encodings.
    pub fn load(encodings: &[Encoding]) -> Result<Self, String> {
        for &enc in encodings {
            // Every single byte is a token of both encodings.
            if vocab(enc).rank(b"a").is_none() {
                return Err(format!("loading {enc}: its table is empty"));
            }
        }
        Ok(Self {
            o200k: encodings.contains(&Encoding::O200kBase),
            cl100k: encodings.contains(&Encoding::Cl100kBase),
        })
    }

    pub fn has(&self, enc: Encoding) -> bool {
        match enc {
            Encoding::O200kBase => self.o200k,
            Encoding::Cl100kBase => self.cl100k,
        }
    }

    /// Number of tokens in `text`, special-token text counted as ordinary text (as the API does
    /// for user content). An encoding that was not loaded counts with any loaded one, else
    /// falls back to one token per four bytes.
    pub fn count(&self, enc: Encoding, text: &str) -> u64 {
        if text.is_empty() {
            return 0;
        }
        let enc = [enc, Encoding::O200kBase, Encoding::Cl100kBase]
            .into_iter()
            .find(|&e| self.has(e));
        match enc {
            Some(enc) => count(enc, text),
            None => (text.len() as u64).div_ceil(4),
        }
    }
}

fn vocab(enc: Encoding) -> &'static Vocab {
    match enc {
        Encoding::O200kBase => &O200K,
        Encoding::Cl100kBase => &CL100K,
    }
}

/// Tokens of `text` in `enc`.
fn count(enc: Encoding, text: &str) -> u64 {
    let v = vocab(enc);
    pretokenize::pieces(enc, text)
        .map(|piece| count_piece(v, piece.as_bytes()))
        .sum()
}

/// Tokens of one piece: one if it is a token (most are), else what merging gives.
#[inline]
fn count_piece(v: &Vocab, piece: &[u8]) -> u64 {
    if v.rank(piece).is_some() {
        1
    } else {
        bpe::count(v, piece)
    }
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokenizer")
            .field("o200k", &self.o200k)
            .field("cl100k", &self.cl100k)
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
    fn pathological_runs_count_in_linear_time() {
        // A megabyte of spaces made tiktoken-rs panic (fancy-regex backtrack limit). With
        // o200k a run of spaces before a letter is the run less its last space (one piece,
        // `\s+(?!\S)`), then " x"; the run merges into tokens of at most 128 bytes.
        let t = tokenizer();
        let spaces = format!("{}x", " ".repeat(1_100_000));
        let n = t.count(Encoding::O200kBase, &spaces);
        assert!(
            (1_100_000 / 128..1_100_000 / 2).contains(&(n as usize)),
            "{n}"
        );
        let multibyte = "é".repeat(20_000);
        assert!(t.count(Encoding::Cl100kBase, &multibyte) > 0);
    }

    #[test]
    fn unloaded_encodings_fall_back() {
        let only = Tokenizer::load(&[Encoding::Cl100kBase]).unwrap();
        assert!(!only.has(Encoding::O200kBase));
        let text = "tiktoken is great!";
        assert_eq!(
            only.count(Encoding::O200kBase, text),
            6,
            "counted with cl100k_base"
        );
        let none = Tokenizer::load(&[]).unwrap();
        assert_eq!(
            none.count(Encoding::O200kBase, text),
            5,
            "18 bytes / 4, rounded up"
        );
    }

    #[test]
    fn unknown_encoding_name_is_an_error() {
        assert!("p50k_base".parse::<Encoding>().is_err());
        assert_eq!("cl100k_base".parse::<Encoding>(), Ok(Encoding::Cl100kBase));
    }
}
