//! Texts the benchmark sends as prompts, built at run time from files in the repository (so
//! nothing is downloaded or committed) and from seeded generators: the same commit gives the
//! same bytes on every machine. Each text is identified in the output by its length and an
//! FNV-1a hash.

use std::path::{Path, PathBuf};

/// A prompt text and how it was made.
#[derive(Debug, Clone)]
pub struct Text {
    pub name: &'static str,
    pub text: String,
    pub source: String,
}

impl Text {
    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// `name (N bytes, fnv XXXXXXXX; source)`, for the output's corpus lines.
    pub fn describe(&self) -> String {
        format!(
            "{}: {} bytes, fnv1a {:016x}; {}",
            self.name,
            self.text.len(),
            fnv1a(self.text.as_bytes()),
            self.source
        )
    }
}

pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Files under `root/dir` (recursively) whose name ends with `suffix`, sorted by path.
fn files(root: &Path, dir: &str, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.join(dir)];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The files' texts, concatenated (blank line between) and repeated until `len` bytes, cut
/// at a character boundary.
fn fill(name: &'static str, paths: &[PathBuf], root: &Path, len: usize) -> anyhow::Result<Text> {
    let mut base = String::new();
    for p in paths {
        let t = std::fs::read_to_string(p)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?;
        base.push_str(&t);
        base.push_str("\n\n");
    }
    anyhow::ensure!(!base.is_empty(), "no source text for the {name} corpus");
    let mut text = String::with_capacity(len + base.len());
    while text.len() < len {
        text.push_str(&base);
    }
    text.truncate(floor_char_boundary(&text, len));
    let rel: Vec<String> = paths
        .iter()
        .map(|p| {
            p.strip_prefix(root)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let source = format!(
        "{} files ({} bytes) repeated: {}",
        paths.len(),
        base.len(),
        summarize(&rel)
    );
    Ok(Text { name, text, source })
}

fn summarize(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [a] => a.clone(),
        [a, .., z] if names.len() > 4 => format!("{a} … {z}"),
        _ => names.join(", "),
    }
}

fn floor_char_boundary(s: &str, i: usize) -> usize {
    (0..=i.min(s.len()))
        .rev()
        .find(|&j| s.is_char_boundary(j))
        .unwrap_or(0)
}

/// Natural text: the repository's Markdown (README files, the tokenizer study).
pub fn prose(root: &Path, len: usize) -> anyhow::Result<Text> {
    let mut paths = vec![root.join("README.md"), root.join("host/README.md")];
    paths.extend(files(root, "bench/tokenizers", "RESULTS.md"));
    paths.extend(files(root, "tests/fixtures", "README.md"));
    paths.retain(|p| p.is_file());
    fill("prose", &paths, root, len)
}

/// Code: the filter's and the host's Rust sources.
pub fn code(root: &Path, len: usize) -> anyhow::Result<Text> {
    let mut paths = files(root, "src", ".rs");
    paths.extend(files(root, "host/src", ".rs"));
    fill("code", &paths, root, len)
}

/// `len` times `a`.
pub fn one_char(len: usize) -> Text {
    Text {
        name: "'a' repeated",
        text: "a".repeat(len),
        source: "generated".into(),
    }
}

/// xorshift64*: deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `len` random ASCII letters (both cases), seeded: o200k_base's pre-tokenizer cuts them at
/// each change from lower to upper case.
pub fn random_letters(len: usize, seed: u64) -> Text {
    letters_from(
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "random letters",
        len,
        seed,
    )
}

/// `len` random lowercase ASCII letters, seeded: one pre-tokenizer piece of `len` bytes, all of
/// it byte-pair merged (the worst case of the letters).
pub fn random_lowercase(len: usize, seed: u64) -> Text {
    letters_from(
        b"abcdefghijklmnopqrstuvwxyz",
        "random lowercase letters",
        len,
        seed,
    )
}

fn letters_from(letters: &[u8], name: &'static str, len: usize, seed: u64) -> Text {
    let mut rng = Rng(seed | 1);
    let text = (0..len)
        .map(|_| {
            let i = (rng.next() % letters.len() as u64) as usize;
            char::from(letters.get(i).copied().unwrap_or(b'a'))
        })
        .collect();
    Text {
        name,
        text,
        source: format!("generated, seed {seed}"),
    }
}

/// `len` characters of standard base64 (no line breaks) of seeded random bytes.
pub fn base64(len: usize, seed: u64) -> Text {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = Rng(seed | 1);
    let mut text = String::with_capacity(len + 4);
    while text.len() < len {
        // 3 random bytes → 4 characters.
        let v = rng.next() & 0xff_ffff;
        for shift in [18, 12, 6, 0] {
            let i = ((v >> shift) & 63) as usize;
            text.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'A')));
        }
    }
    text.truncate(len);
    Text {
        name: "base64",
        text,
        source: format!("generated, seed {seed}"),
    }
}

/// Deeply nested JSON as prompt text: `[` × n then `]` × n (`len` = 2n bytes).
pub fn nested_json(len: usize) -> Text {
    let n = len / 2;
    Text {
        name: "nested JSON",
        text: format!("{}{}", "[".repeat(n), "]".repeat(n)),
        source: "generated: [ × n then ] × n".into(),
    }
}

/// `block` repeated (space-separated) up to `len` bytes: texts of several sizes with the same
/// content per byte, for the linearity check.
pub fn repeat_block(block: &str, len: usize) -> String {
    let mut text = String::with_capacity(len + block.len() + 1);
    while text.len() < len {
        text.push_str(block);
        text.push(' ');
    }
    text.truncate(floor_char_boundary(&text, len));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_deterministic_and_sized() {
        assert_eq!(random_letters(1000, 5).text, random_letters(1000, 5).text);
        assert_ne!(random_letters(1000, 5).text, random_letters(1000, 6).text);
        assert_eq!(random_letters(1000, 5).len(), 1000);
        let b = base64(1001, 7);
        assert_eq!(b.len(), 1001);
        assert!(b
            .text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/'));
        assert_eq!(nested_json(10).text, "[[[[[]]]]]");
        assert_eq!(repeat_block("ab", 7), "ab ab a");
        assert_eq!(floor_char_boundary("é", 1), 0);
    }

    #[test]
    fn repository_corpora_fill_the_length() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let p = prose(&root, 5000).unwrap();
        assert_eq!(p.len(), 5000);
        assert!(p.text.starts_with("# tollbooth"));
        let c = code(&root, 5000).unwrap();
        assert!(c.len() <= 5000 && c.len() > 4990);
        assert!(c.text.contains("fn "));
    }
}
