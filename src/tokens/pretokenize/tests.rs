//! Hand-written cases: the expected pieces were worked out from the patterns' semantics, not
//! by running any implementation. They run natively and under wasm32.

use super::classes::{class_of, Class};
use super::{pieces, Encoding};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn split(enc: Encoding, text: &str) -> Vec<&str> {
    pieces(enc, text).collect()
}

/// Cases with the same pieces in both encodings.
const BOTH: &[(&str, &[&str])] = &[
    ("", &[]),
    ("hello world", &["hello", " world"]),
    ("HTTPServer", &["HTTPServer"]),
    (" 123456", &[" ", "123", "456"]),
    ("  \n\n  x", &["  \n\n", " ", " x"]),
    ("a  b", &["a", " ", " b"]),
    ("x   ", &["x", "   "]),
    ("hello\r\n\r\nworld", &["hello", "\r\n\r\n", "world"]),
    ("a/b\n", &["a", "/b", "\n"]),
    ("x//\n\ny", &["x", "//\n\n", "y"]),
    ("日本語のテキスト", &["日本語のテキスト"]),
    ("Hello!!!\n", &["Hello", "!!!\n"]),
    ("foo.\r\nbar", &["foo", ".\r\n", "bar"]),
    ("x \t y", &["x", " \t", " y"]),
    ("\u{a0}word", &["\u{a0}word"]),
    ("\u{3000}日本", &["\u{3000}日本"]),
    ("a\u{2028}b", &["a", "\u{2028}b"]),
    ("a\u{85}\u{85}b", &["a", "\u{85}", "\u{85}b"]),
    ("\t!", &["\t", "!"]),
    ("''s", &["''", "s"]),
    // Arabic-Indic, fullwidth and superscript digits, vulgar fractions: \p{N}, three at most.
    ("١٢٣٤", &["١٢٣", "٤"]),
    ("１２３４", &["１２３", "４"]),
    ("x²½", &["x", "²½"]),
    // Emoji (So) and ZWJ (Cf) are punctuation to both patterns.
    ("hi 😀\u{200d}😀!", &["hi", " 😀\u{200d}😀!"]),
    ("Ich weiß", &["Ich", " weiß"]),
    ("  ", &["  "]),
    ("\n", &["\n"]),
    ("a1b", &["a", "1", "b"]),
    ("x = 1;", &["x", " =", " ", "1", ";"]),
];

const O200K: &[(&str, &[&str])] = &[
    ("I'M", &["I'M"]),
    ("don't", &["don't"]),
    ("DON'T", &["DON'T"]),
    ("I'll", &["I'll"]),
    ("they're", &["they're"]),
    ("HTTP's", &["HTTP's"]),
    ("'s", &["'s"]),
    ("'Sam", &["'Sam"]),
    ("x'ſ", &["x'ſ"]),
    // The upper run is taken whole when a lower-case letter follows.
    ("HELLOworld", &["HELLOworld"]),
    ("helloWORLD", &["hello", "WORLD"]),
    ("CamelCase", &["Camel", "Case"]),
    ("ǅemal", &["ǅemal"]),
    ("ʰ", &["ʰ"]),
    // A combining mark is in both letter classes.
    ("nai\u{308}ve", &["nai\u{308}ve"]),
    ("\u{301}", &["\u{301}"]),
    ("!\u{301}", &["!\u{301}"]),
    ("!!\u{301}", &["!!\u{301}"]),
    // A mark before an all-caps run: as prefix it leaves no match for branch 1, so branch 1
    // takes it as a letter of its own before branch 2 is tried.
    ("\u{301}AB", &["\u{301}", "AB"]),
    // Devanagari: Lo, Mn (virama) and Mc (vowel sign) make one piece.
    ("नमस्ते दुनिया", &["नमस्ते", " दुनिया"]),
    // A "both" character ends the match when no lower-case letter follows the upper run.
    ("ABʰCD", &["ABʰ", "CD"]),
    ("x/\n/y", &["x", "/\n/", "y"]),
    ("x  \n ", &["x", "  \n", " "]),
    ("HELLO'S", &["HELLO'S"]),
];

const CL100K: &[(&str, &[&str])] = &[
    ("I'M", &["I", "'M"]),
    ("don't", &["don", "'t"]),
    ("DON'T", &["DON", "'T"]),
    ("I'll", &["I", "'ll"]),
    ("x'LL", &["x", "'LL"]),
    ("they're", &["they", "'re"]),
    ("'s", &["'s"]),
    ("'Sam", &["'S", "am"]),
    ("x'ſ", &["x", "'ſ"]),
    ("'ſa", &["'ſ", "a"]),
    ("HELLOworld", &["HELLOworld"]),
    ("helloWORLD", &["helloWORLD"]),
    // Marks are not letters: they start a piece of their own, or punctuation.
    ("nai\u{308}ve", &["nai", "\u{308}ve"]),
    ("\u{301}", &["\u{301}"]),
    ("!\u{301}", &["!\u{301}"]),
    ("x/\n/y", &["x", "/\n", "/y"]),
    // Trailing white space is one piece, newlines and all.
    ("x  \n ", &["x", "  \n "]),
    ("HELLO'S", &["HELLO", "'S"]),
    ("'x", &["'x"]),
];

fn check(enc: Encoding, cases: &[(&str, &[&str])]) {
    for (text, expected) in cases {
        assert_eq!(split(enc, text), *expected, "{enc} {text:?}");
    }
}

#[test]
fn both_encodings_split_by_hand_written_cases() {
    check(Encoding::O200kBase, BOTH);
    check(Encoding::Cl100kBase, BOTH);
}

#[test]
fn o200k_splits_by_hand_written_cases() {
    check(Encoding::O200kBase, O200K);
}

#[test]
fn cl100k_splits_by_hand_written_cases() {
    check(Encoding::Cl100kBase, CL100K);
}

#[test]
fn classes_by_hand() {
    let cases = [
        ('A', Class::Upper),
        ('ǅ', Class::Upper), // Lt
        ('É', Class::Upper),
        ('z', Class::Lower),
        ('ß', Class::Lower),
        ('ſ', Class::Lower),
        ('ʰ', Class::Letter),         // Lm
        ('日', Class::Letter),        // Lo
        ('\u{20000}', Class::Letter), // CJK extension B
        ('\u{301}', Class::Mark),
        ('\u{903}', Class::Mark),   // Mc
        ('\u{e0100}', Class::Mark), // variation selector 17, above the two-level table
        ('7', Class::Number),
        ('٣', Class::Number),
        ('²', Class::Number),
        ('½', Class::Number),
        ('Ⅻ', Class::Number), // Nl
        (' ', Class::Space),
        ('\u{b}', Class::Space),
        ('\u{85}', Class::Space),
        ('\u{a0}', Class::Space),
        ('\u{2028}', Class::Space),
        ('\u{3000}', Class::Space),
        ('\r', Class::Newline),
        ('\n', Class::Newline),
        ('\u{1f}', Class::Other),   // not White_Space
        ('\u{200b}', Class::Other), // zero width space: Cf, not White_Space
        ('\u{200d}', Class::Other),
        ('😀', Class::Other),
        ('\'', Class::Other),
        ('\u{e000}', Class::Other),
        ('\u{10ffff}', Class::Other),
        ('\u{40000}', Class::Other),
    ];
    for (c, class) in cases {
        assert_eq!(class_of(c), class, "{c:?}");
    }
}

/// Every sentence, and all of them joined, split into pieces that concatenate to the text.
#[test]
fn multilingual_pieces_concatenate() {
    let all = MULTILINGUAL.concat();
    for enc in Encoding::ALL {
        for text in MULTILINGUAL.iter().copied().chain([all.as_str()]) {
            let split = split(enc, text);
            assert!(split.iter().all(|p| !p.is_empty()));
            assert_eq!(split.concat(), text, "{enc}");
        }
    }
}

/// Sentences in many scripts, for the differential tests (`tests_diff.rs`).
pub(super) const MULTILINGUAL: &[&str] = &[
    "The quick brown fox jumps over the lazy dog. It's 12:45pm; we'll see.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Ο Γιώργος είπε: «Καλημέρα!» ΚΑΛΗΜΈΡΑ κόσμε.",
    "日本語のテキストを分割します。東京は２０２４年に…",
    "中文文本：我们在2023年发布了第3版（共１２章）。",
    "한국어 문장입니다. 서울은 크다!",
    "النص العربي مع التشكيل: مَرْحَبًا بِكُمْ ١٢٣٤٥ في ٢٠٢٤",
    "עברית: שָׁלוֹם עוֹלָם 123",
    "हिन्दी में नमस्ते दुनिया, १२३४ रुपये।",
    "தமிழ் மொழி வணக்கம் ௧௨௩",
    "ภาษาไทย สวัสดีครับ ๑๒๓",
    "Ελληνικά και Ⅻ κεφάλαια, x² + y² = z², ½ + ¼",
    "Français : « l'été », naïve café (e\u{301}), Œuvre DŽungla ǅemal.",
    "Deutsch: Straße, GROSSE ÄPFEL, weiß\u{a0}nicht.",
    "Emoji: 👩\u{200d}💻 and 🇫🇷 flags 😀😀! ✔︎ done",
    "Code: fn main() { let x = a/b; println!(\"{x}\"); } // done\r\n",
    "Tiếng Việt: Xin chào thế giới, Ổn định.",
    "Türkçe: İstanbul'da ılık bir gün.",
    "ʻŌlelo Hawaiʻi: ʻohana, ʰaspirated, ᵏmodifier",
    "Mixed\u{2028}line\u{2029}para\u{85}nel\u{3000}ideo\u{2003}em\u{200b}zwsp",
    "   \n\n\t\t  \r\n   trailing   ",
];

/// Units repeated into long adversarial texts.
pub(super) const ADVERSARIAL: &[&str] = &[
    " ", "a", "A", "[", "\r\n", "a'", "A'", "'s", " \n", "1", "\u{301}", "Aʰ", "\u{a0}", "日", "é",
    " !", "/\n", "aA", "\u{301}A", "\t\n ",
];

/// Long runs must take linear time (a rescanning implementation would take minutes on 1 MB)
/// and the pieces must concatenate to the input.
#[test]
fn long_adversarial_runs_are_linear() {
    let size = if cfg!(target_arch = "wasm32") {
        64 << 10
    } else {
        1 << 20
    };
    #[cfg(not(target_arch = "wasm32"))]
    let start = std::time::Instant::now();
    for enc in Encoding::ALL {
        for unit in ADVERSARIAL {
            let text = unit.repeat(size / unit.len());
            let mut total = 0;
            let mut count = 0;
            for piece in pieces(enc, &text) {
                assert!(!piece.is_empty());
                assert_eq!(text.get(total..total + piece.len()), Some(piece));
                total += piece.len();
                count += 1;
            }
            assert_eq!(total, text.len(), "{enc} {unit:?}");
            assert!(count > 0);
        }
    }
    // 40 MB, unoptimised: a second or two when linear.
    #[cfg(not(target_arch = "wasm32"))]
    assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
}
