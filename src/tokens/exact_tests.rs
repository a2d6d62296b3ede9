//! The counting tables and the merge against tiktoken-rs (the reference), piece by piece: the
//! text is split with tiktoken's own pattern (fancy-regex, as tiktoken-rs does), each piece
//! counted by a whole-piece lookup, else by merging, and the total compared with
//! `encode_ordinary(text).len()`. Native only: tiktoken-rs is slow in wasm, and the wasm build
//! runs the same code.
#![cfg(not(target_arch = "wasm32"))]

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

/// The repository's own text files (documentation, Rust, Python, configuration, fixtures):
/// about 2 MB of prose, code and JSON, the same on every checkout.
fn repository_corpus() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    todo.push(p);
                }
            } else if [
                ".md", ".rs", ".py", ".toml", ".yaml", ".json", ".txt", ".sse",
            ]
            .iter()
            .any(|s| name.ends_with(s))
            {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    out.push((p.display().to_string(), text));
                }
            }
        }
    }
    out.sort();
    out
}

/// Sentences in many scripts (written for this test), so the corpus is not only ASCII.
const SCRIPTS: &[&str] = &[
    "Le cœur a ses raisons que la raison ne connaît point. Ça va? Oui, ça va très bien!",
    "Ich weiß nicht, was soll es bedeuten, dass ich so traurig bin. Straße, Größe, Übermut.",
    "Быстрая коричневая лиса перепрыгивает через ленивую собаку. Съешь же ещё этих булок.",
    "敏捷的棕色狐狸跳过了懒狗。我们今天下午三点在会议室开会，请准时参加。",
    "素早い茶色の狐がのろまな犬を飛び越える。カタカナとひらがな、そして漢字。",
    "빠른 갈색 여우가 게으른 개를 뛰어넘습니다. 한국어 문장도 포함합니다.",
    "الثعلب البني السريع يقفز فوق الكلب الكسول. مرحبًا بكم في عالم الذكاء الاصطناعي.",
    "השועל החום המהיר קופץ מעל הכלב העצלן. שלום עולם!",
    "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है। नमस्ते दुनिया, क्या हाल है?",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο. Καλημέρα κόσμε!",
    "เจ้าจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "Hızlı kahverengi tilki tembel köpeğin üzerinden atlar. İyi günler, ılık su.",
    "Szybki brązowy lis przeskakuje nad leniwym psem. Zażółć gęślą jaźń.",
    "Emoji: 😀👍🏽👨‍👩‍👧‍👦🇯🇵 ✓ ∑ ∫ ≤ ≥ ½ ² ³ ٣ ৩ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 — “quotes” ‘and’ «guillemets»",
    "Tiếng Việt có dấu: Chúng tôi đang thử nghiệm bộ đếm token. Xin chào!",
];

fn whole(enc: Encoding, text: &str) -> u64 {
    reference(enc).encode_ordinary(text).len() as u64
}

/// Issue 5: counts identical to tiktoken-rs on at least 1 MB per encoding.
#[test]
fn corpus_counts_equal_tiktoken() {
    let mut files = repository_corpus();
    let mut multilingual = String::new();
    for i in 0..600 {
        multilingual.push_str(SCRIPTS[(i * 7) % SCRIPTS.len()]);
        multilingual.push(if i % 5 == 0 { '\n' } else { ' ' });
    }
    files.push(("multilingual".into(), multilingual));
    let total: usize = files.iter().map(|(_, t)| t.len()).sum();
    assert!(total >= 1_000_000, "corpus is only {total} bytes");
    let tok = super::Tokenizer::load(&Encoding::ALL).unwrap();
    for enc in Encoding::ALL {
        let bpe_ref = reference(enc);
        for (name, text) in &files {
            let want = bpe_ref.encode_ordinary(text).len() as u64;
            assert_eq!(tok.count(enc, text), want, "{enc}: {name}");
        }
    }
}

/// Issue 5's adversarial shapes, smaller than the benchmark's (tiktoken-rs is quadratic on
/// long pieces), whole text against tiktoken-rs.
#[test]
fn adversarial_counts_equal_tiktoken() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let letters: String = (0..60_000)
        .map(|_| char::from(b'a' + (next() % 26) as u8))
        .collect();
    let b64: Vec<u8> = (0..90_000).map(|_| next() as u8).collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(b64);
    let nested = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let objects = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let texts = [
        ("a", "a".repeat(100_000)),
        ("letters", letters),
        ("base64", b64),
        ("nested", nested),
        ("objects", objects),
        ("spaces", format!("{}x", " ".repeat(50_000))),
        ("newlines", "\r\n".repeat(20_000)),
        ("digits", "1234567890".repeat(10_000)),
    ];
    let tok = super::Tokenizer::load(&Encoding::ALL).unwrap();
    for enc in Encoding::ALL {
        for (name, text) in &texts {
            assert_eq!(tok.count(enc, text), whole(enc, text), "{enc}: {name}");
        }
    }
}
