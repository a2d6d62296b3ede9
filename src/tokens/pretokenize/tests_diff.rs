//! Native-only tests against the reference, fancy-regex 0.19.2 running tiktoken-rs 0.12.1's
//! patterns: every code point's class, a corpus of real and generated multilingual text, and a
//! seeded fuzz.
#![cfg(not(target_arch = "wasm32"))]

use super::classes::{class_of, Class};
use super::{pieces, Encoding};
use crate::test_rng::TestRng;
use fancy_regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// cl100k_base's pattern, as tiktoken-rs 0.12.1's `cl100k_base()` passes it to `CoreBPE::new`.
const CL100K_PAT: &str = "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}++|\\p{N}{1,3}+| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*+|\\s++$|\\s*[\\r\\n]|\\s+(?!\\S)|\\s";

fn regex(enc: Encoding) -> &'static Regex {
    static O200K: OnceLock<Regex> = OnceLock::new();
    static CL100K: OnceLock<Regex> = OnceLock::new();
    match enc {
        Encoding::O200kBase => {
            O200K.get_or_init(|| Regex::new(tiktoken_rs::O200K_BASE_PAT_STR).unwrap())
        }
        Encoding::Cl100kBase => CL100K.get_or_init(|| Regex::new(CL100K_PAT).unwrap()),
    }
}

/// The reference pieces, or `None` when fancy-regex gives up (its backtracking limit).
pub(super) fn reference(enc: Encoding, text: &str) -> Option<Vec<&str>> {
    regex(enc)
        .find_iter(text)
        .map(|m| m.ok().map(|m| m.as_str()))
        .collect()
}

/// Compares with the reference; `Err` describes the first difference. `Ok(false)` when the
/// reference gave up.
fn compare(enc: Encoding, text: &str) -> Result<bool, String> {
    let ours: Vec<&str> = pieces(enc, text).collect();
    if ours.concat() != text {
        return Err(format!(
            "{enc}: pieces do not concatenate to {text:?}: {ours:?}"
        ));
    }
    let Some(theirs) = reference(enc, text) else {
        return Ok(false);
    };
    if ours == theirs {
        return Ok(true);
    }
    let i = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
    let from = i.saturating_sub(3);
    Err(format!(
        "{enc}: piece {i} differs\n  ours:   {:?}\n  fancy:  {:?}",
        ours.get(from..(i + 3).min(ours.len())),
        theirs.get(from..(i + 3).min(theirs.len())),
    ))
}

fn assert_same(texts: &[String], what: &str) {
    let mut compared = 0;
    for enc in Encoding::ALL {
        for text in texts {
            match compare(enc, text) {
                Ok(true) => compared += 1,
                Ok(false) => eprintln!("{what}: fancy-regex gave up on a {} byte text", text.len()),
                Err(e) => panic!("{what}: {e}"),
            }
        }
    }
    assert!(compared > 0, "{what}: nothing compared");
}

/// Every code point's class according to the regex engine (surrogates: `Other`).
pub(super) fn reference_classes() -> Vec<Class> {
    let all: String = (0..=0x10FFFF).filter_map(char::from_u32).collect();
    let mut classes = vec![Class::Other; 0x110000];
    let sets = [
        (r"[\p{Lu}\p{Lt}]+", Class::Upper),
        (r"\p{Ll}+", Class::Lower),
        (r"[\p{Lm}\p{Lo}]+", Class::Letter),
        (r"\p{M}+", Class::Mark),
        (r"\p{N}+", Class::Number),
        (r"\s+", Class::Space),
    ];
    for (pat, class) in sets {
        for m in Regex::new(pat).unwrap().find_iter(&all) {
            for c in m.unwrap().as_str().chars() {
                let slot = &mut classes[c as usize];
                assert_eq!(*slot, Class::Other, "{c:?} is in two classes");
                *slot = class;
            }
        }
    }
    classes[usize::from(b'\r')] = Class::Newline;
    classes[usize::from(b'\n')] = Class::Newline;
    classes
}

#[test]
fn every_code_point_has_the_regex_engines_class() {
    let reference = reference_classes();
    let mut wrong = Vec::new();
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        if class_of(c) != reference[c as usize] {
            wrong.push((c, class_of(c), reference[c as usize]));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong, first: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
}

/// The characters `(?i)` makes the contraction letters match: ASCII upper and lower case, and
/// `ſ` for `s` (Unicode simple case folding); the code checks exactly these.
#[test]
fn case_insensitive_contraction_letters_are_as_expected() {
    let all: String = (0..=0x10FFFF).filter_map(char::from_u32).collect();
    for letter in ['s', 'd', 'm', 't', 'l', 'v', 'r', 'e'] {
        let re = Regex::new(&format!("(?i:{letter})")).unwrap();
        let mut found: Vec<char> = re
            .find_iter(&all)
            .map(|m| m.unwrap().as_str().chars().next().unwrap())
            .collect();
        found.sort();
        let mut expected = vec![letter.to_ascii_uppercase(), letter];
        if letter == 's' {
            expected.push('ſ');
        }
        assert_eq!(found, expected, "(?i){letter}");
    }
}

/// Text files of this repository and the local registry crates' *.md (READMEs, changelogs), a
/// few MB at most.
pub(super) fn corpus() -> Vec<String> {
    const CAP: usize = 4 << 20;
    let mut files = Vec::new();
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !name.starts_with('.') && !name.starts_with("target") && name != "node_modules" {
                    walk(&path, files);
                }
            } else if name.ends_with(".md") || name.ends_with(".txt") || name.starts_with("LICENSE")
            {
                files.push(path);
            }
        }
    }
    walk(Path::new(env!("CARGO_MANIFEST_DIR")), &mut files);
    if let Some(home) = std::env::var_os("HOME") {
        let registry = Path::new(&home).join(".cargo/registry/src");
        for index in std::fs::read_dir(registry).into_iter().flatten().flatten() {
            // Each crate's top-level *.md (README, CHANGELOG, ...).
            let mut crates: Vec<_> = std::fs::read_dir(index.path())
                .into_iter()
                .flatten()
                .flatten()
                .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten().flatten())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .collect();
            crates.sort();
            files.extend(crates);
        }
    }
    let mut texts = Vec::new();
    let mut total = 0;
    for file in files {
        if let Ok(text) = std::fs::read_to_string(&file) {
            total += text.len();
            texts.push(text);
            if total > CAP {
                break;
            }
        }
    }
    texts
}

#[test]
fn corpus_matches_fancy_regex() {
    let texts = corpus();
    eprintln!(
        "corpus: {} files, {} bytes",
        texts.len(),
        texts.iter().map(String::len).sum::<usize>()
    );
    assert_same(&texts, "corpus");
}

#[test]
fn multilingual_text_matches_fancy_regex() {
    let sentences = super::tests::MULTILINGUAL;
    let mut rng = TestRng::new(5);
    let mut texts: Vec<String> = sentences.iter().map(|s| s.to_string()).collect();
    let separators = [
        " ", "\n", "\r\n", "  ", "\n\n", "\t", "\u{a0}", "", "\u{3000}",
    ];
    for _ in 0..300 {
        let mut text = String::new();
        for _ in 0..rng.below(12) {
            text.push_str(sentences[rng.below(sentences.len())]);
            text.push_str(separators[rng.below(separators.len())]);
        }
        texts.push(text);
    }
    assert_same(&texts, "multilingual");
}

/// The fuzz alphabet: white space of every kind, letters of every case class, marks, numbers,
/// the contraction letters, punctuation, emoji, ZWJ, private use, unassigned.
#[rustfmt::skip]
const ALPHABET: &[char] = &[
    ' ', '\t', '\n', '\r', '\u{a0}', '\u{3000}', '\u{2028}', '\u{85}', '\u{b}', 'a', 'Z', 'é',
    'É', '\u{301}', '\u{903}', 'ǅ', 'ʰ', '日', '٣', '²', '½', 'Ⅻ', '1', '\'', 's', 'S', 'ſ', 'l',
    'L', 'd', 'v', 'e', 'r', 'm', 't', 'T', 'E', '/', '.', '!', '"', '{', '😀', '\u{200d}',
    '\u{e000}', '\u{10ffff}', '\u{e0100}', '\u{40000}', '-', '_', '\u{1f}', '\u{212a}', 'ß',
];

/// A small alphabet, for denser interactions between the branches.
const DENSE: &[char] = &[
    ' ', '\n', '\r', 'a', 'A', 'ʰ', '\u{301}', '\'', 's', '!', '1', '/',
];

#[test]
fn fuzz_matches_fancy_regex() {
    let mut rng = TestRng::new(0x7011_b007);
    for alphabet in [ALPHABET, DENSE] {
        let texts: Vec<String> = (0..25_000)
            .map(|_| {
                let len = rng.below(41);
                (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect()
            })
            .collect();
        assert_same(&texts, "fuzz");
    }
}

#[test]
fn adversarial_text_matches_fancy_regex() {
    let texts: Vec<String> = super::tests::ADVERSARIAL
        .iter()
        .map(|unit| unit.repeat(2000 / unit.len().max(1)))
        .collect();
    assert_same(&texts, "adversarial");
}
