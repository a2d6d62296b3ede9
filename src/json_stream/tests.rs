use super::*;
use serde_json::{json, Value};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Gemini's layout (`[{…}\n,\r\n{…}\n]`) with strings full of structure characters, escapes,
/// nested arrays and multi-byte UTF-8.
const STREAM: &[u8] = "[{\"text\": \"a [b] {c}, \\\"d\\\" \\\\\"}\n,\r\n{\"nested\": [[1, [2]], {\"x\": []}], \"s\": \"]}\"}\n,\r\n{\"u\": \"Ça va? 👋\", \"e\": \"\\\\\\\"]\"}\n]\n"
    .as_bytes();

fn expected() -> Vec<Value> {
    vec![
        json!({"text": "a [b] {c}, \"d\" \\"}),
        json!({"nested": [[1, [2]], {"x": []}], "s": "]}"}),
        json!({"u": "Ça va? 👋", "e": "\\\"]"}),
    ]
}

/// What a stream pushed in these pieces gives: the elements, each push's result, `finish`.
type Outcome = (
    Vec<Vec<u8>>,
    Vec<Result<(), JsonStreamError>>,
    Result<(), JsonStreamError>,
);

fn split(max: usize, pieces: &[&[u8]]) -> Outcome {
    let mut s = JsonArrayStream::new(max);
    let mut elements = Vec::new();
    let results = pieces
        .iter()
        .map(|p| s.push(p, &mut |e| elements.push(e.to_vec())))
        .collect();
    (elements, results, s.finish())
}

fn parsed(elements: &[Vec<u8>]) -> Vec<Value> {
    elements
        .iter()
        .map(|e| serde_json::from_slice(e).unwrap())
        .collect()
}

#[test]
fn splits_gemini_layout_into_elements() {
    let (elements, results, end) = split(DEFAULT_MAX_ELEMENT_BYTES, &[STREAM]);
    assert_eq!(parsed(&elements), expected());
    assert_eq!(results, vec![Ok(())]);
    assert_eq!(end, Ok(()));
    // Element bytes are exactly the object, without the separators around it.
    assert!(elements.iter().all(|e| e.first() == Some(&b'{')));
    assert!(elements.iter().all(|e| e.last() == Some(&b'}')));
}

#[test]
fn every_single_split_gives_the_same_elements() {
    let whole = split(DEFAULT_MAX_ELEMENT_BYTES, &[STREAM]).0;
    for cut in 0..=STREAM.len() {
        let (a, b) = STREAM.split_at(cut);
        let (elements, results, end) = split(DEFAULT_MAX_ELEMENT_BYTES, &[a, b]);
        assert_eq!(elements, whole, "cut at {cut}");
        assert!(results.iter().all(Result::is_ok), "cut at {cut}");
        assert_eq!(end, Ok(()), "cut at {cut}");
    }
}

#[test]
fn every_pair_of_splits_gives_the_same_elements() {
    let whole = split(DEFAULT_MAX_ELEMENT_BYTES, &[STREAM]).0;
    for i in 0..=STREAM.len() {
        for j in i..=STREAM.len() {
            let pieces = [&STREAM[..i], &STREAM[i..j], &STREAM[j..]];
            let (elements, _, end) = split(DEFAULT_MAX_ELEMENT_BYTES, &pieces);
            assert_eq!(elements, whole, "cuts at {i}, {j}");
            assert_eq!(end, Ok(()), "cuts at {i}, {j}");
        }
    }
}

#[test]
fn byte_by_byte_gives_the_same_elements() {
    let pieces: Vec<&[u8]> = STREAM.chunks(1).collect();
    let (elements, _, end) = split(DEFAULT_MAX_ELEMENT_BYTES, &pieces);
    assert_eq!(parsed(&elements), expected());
    assert_eq!(end, Ok(()));
}

#[test]
fn empty_arrays_whitespace_and_nested_array_elements() {
    for stream in [&b"[]"[..], b"  [ \r\n ]  \n", b"\t[\n]"] {
        assert_eq!(split(64, &[stream]), (vec![], vec![Ok(())], Ok(())));
    }
    let (elements, _, end) = split(64, &[b"[[1,[2]] , {\"a\":[]},[]]"]);
    assert_eq!(
        elements,
        vec![b"[1,[2]]".to_vec(), b"{\"a\":[]}".to_vec(), b"[]".to_vec()]
    );
    assert_eq!(end, Ok(()));
}

#[test]
fn a_bare_object_is_one_element() {
    let body = b" {\"error\": {\"code\": 429, \"message\": \"[quota]\", \"status\": \"RESOURCE_EXHAUSTED\"}}\n";
    for cut in 0..=body.len() {
        let (a, b) = body.split_at(cut);
        let (elements, _, end) = split(1024, &[a, b]);
        assert_eq!(
            elements,
            vec![body[1..body.len() - 1].to_vec()],
            "cut {cut}"
        );
        assert_eq!(end, Ok(()));
    }
    // Nothing may follow it.
    let (elements, results, end) = split(1024, &[b"{} {}"]);
    assert_eq!(elements, vec![b"{}".to_vec()]);
    let invalid = JsonStreamError::Invalid {
        offset: 3,
        byte: b'{',
    };
    assert_eq!(results, vec![Err(invalid)]);
    assert_eq!(end, Err(invalid));
}

#[test]
fn truncation_at_every_point_is_reported() {
    let whole = split(DEFAULT_MAX_ELEMENT_BYTES, &[STREAM]).0;
    // The stream is complete once its `]` arrived (index of the last `]`).
    let closed = STREAM.iter().rposition(|&b| b == b']').unwrap() + 1;
    for len in 0..closed {
        let (elements, results, end) = split(DEFAULT_MAX_ELEMENT_BYTES, &[&STREAM[..len]]);
        assert_eq!(end, Err(JsonStreamError::Truncated), "cut at {len}");
        assert!(results.iter().all(Result::is_ok), "cut at {len}");
        // The elements completed before the cut were handed out.
        assert_eq!(elements[..], whole[..elements.len()], "cut at {len}");
    }
    for len in closed..=STREAM.len() {
        assert_eq!(split(64, &[&STREAM[..len]]).2, Ok(()), "cut at {len}");
    }
}

#[test]
fn finish_resets_for_a_new_stream() {
    let mut s = JsonArrayStream::new(64);
    s.push(b"[{\"a\":", &mut |_| {}).unwrap();
    assert_eq!(s.finish(), Err(JsonStreamError::Truncated));
    let mut n = 0;
    s.push(b"[{}]", &mut |_| n += 1).unwrap();
    assert_eq!((n, s.finish()), (1, Ok(())));
    assert_eq!(s.max_element_bytes(), 64);
}

#[test]
fn invalid_bytes_poison_the_stream() {
    for (stream, offset, byte) in [
        (&b"x[{}]"[..], 0, b'x'),
        (b"  ]", 2, b']'),
        (b",[{}]", 0, b','),
        (b"[,{}]", 1, b','),
        (b"[{} {}]", 4, b'{'),
        (b"[{},,{}]", 4, b','),
        (b"[{},]", 4, b']'),
        (b"[{}]]", 4, b']'),
        (b"[{}] x", 5, b'x'),
        (b"[1]", 1, b'1'),
        (b"[\"a\"]", 1, b'"'),
        (b"\xEF\xBB\xBF[]", 0, 0xEF),
    ] {
        let invalid = JsonStreamError::Invalid { offset, byte };
        // Cut anywhere, the error is at the same stream offset.
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            let (_, results, end) = split(64, &[a, b]);
            assert!(results.contains(&Err(invalid)), "{stream:?} cut {cut}");
            assert_eq!(end, Err(invalid), "{stream:?} cut {cut}");
        }
    }
    // Elements before the bad byte were handed out; nothing after it is.
    let mut s = JsonArrayStream::new(64);
    let mut got = Vec::new();
    let bad = JsonStreamError::Invalid {
        offset: 8,
        byte: b'x',
    };
    assert_eq!(
        s.push(b"[{\"a\":1}x{}]", &mut |e| got.push(e.to_vec())),
        Err(bad)
    );
    assert_eq!(s.push(b"[{}]", &mut |e| got.push(e.to_vec())), Err(bad));
    assert_eq!(got, vec![b"{\"a\":1}".to_vec()]);
}

#[test]
fn an_oversized_element_is_skipped_and_splitting_resumes() {
    // Elements of 9, 20-odd and 9 bytes; the middle one has brackets and quotes inside strings.
    let stream = b"[{\"a\":123},\n{\"big\":\"]}[{\\\"x\\\"\"},\n{\"c\":456}]";
    let overflow = JsonStreamError::Overflow {
        max_element_bytes: 16,
    };
    for i in 0..=stream.len() {
        for j in i..=stream.len() {
            let (elements, results, end) = split(16, &[&stream[..i], &stream[i..j], &stream[j..]]);
            assert_eq!(
                elements,
                vec![b"{\"a\":123}".to_vec(), b"{\"c\":456}".to_vec()],
                "cuts {i}, {j}"
            );
            assert_eq!(
                results.iter().filter(|r| **r == Err(overflow)).count(),
                1,
                "cuts {i}, {j}: exactly one overflow reported"
            );
            assert_eq!(end, Ok(()), "cuts {i}, {j}");
        }
    }
    // The cap is inclusive: a 9-byte element fits a cap of 9.
    let (elements, results, _) = split(9, &[b"[{\"a\":123}]"]);
    assert_eq!((elements.len(), results), (1, vec![Ok(())]));
    // A stream cut inside a skipped element is truncated.
    let (_, _, end) = split(4, &[b"[{\"a\":123"]);
    assert_eq!(end, Err(JsonStreamError::Truncated));
}

#[test]
fn a_long_element_fed_byte_by_byte_is_scanned_once() {
    // 256 KiB pushed one byte at a time: quadratic rescanning would take minutes.
    let mut body = b"[{\"t\":\"".to_vec();
    body.extend(std::iter::repeat_n(b'x', 256 * 1024));
    body.extend_from_slice(b"\",\"n\":[[[]]]}]");
    let mut s = JsonArrayStream::new(DEFAULT_MAX_ELEMENT_BYTES);
    let mut lens = Vec::new();
    for b in body.chunks(1) {
        s.push(b, &mut |e| lens.push(e.len())).unwrap();
    }
    assert_eq!(lens, vec![body.len() - 2]);
    assert_eq!(s.finish(), Ok(()));
}

#[test]
fn errors_display() {
    assert_eq!(
        JsonStreamError::Invalid {
            offset: 3,
            byte: b'x'
        }
        .to_string(),
        "unexpected byte 0x78 at offset 3 of the JSON array stream"
    );
    assert!(JsonStreamError::Overflow {
        max_element_bytes: 5
    }
    .to_string()
    .contains("5 bytes"));
}
