use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use serde_json::Value;

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/eventstream/",
            $path
        ))
        .as_slice()
    };
}

// ---- A test encoder, written from the layout in the event stream specification ----

/// Owned header value, for building frames and comparing decoded ones.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(Vec<u8>),
    Str(String),
    Ts(i64),
    Uuid([u8; 16]),
}

impl From<HeaderValue<'_>> for Val {
    fn from(v: HeaderValue<'_>) -> Val {
        match v {
            HeaderValue::Bool(b) => Val::Bool(b),
            HeaderValue::Byte(b) => Val::Byte(b),
            HeaderValue::Short(s) => Val::Short(s),
            HeaderValue::Int(i) => Val::Int(i),
            HeaderValue::Long(l) => Val::Long(l),
            HeaderValue::ByteArray(b) => Val::Bytes(b.to_vec()),
            HeaderValue::String(s) => Val::Str(s.to_owned()),
            HeaderValue::Timestamp(t) => Val::Ts(t),
            HeaderValue::Uuid(u) => Val::Uuid(u),
        }
    }
}

fn encode_headers(headers: &[(&str, Val)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.push(u8::try_from(name.len()).unwrap());
        out.extend_from_slice(name.as_bytes());
        match value {
            Val::Bool(true) => out.push(0),
            Val::Bool(false) => out.push(1),
            Val::Byte(b) => {
                out.push(2);
                out.extend_from_slice(&b.to_be_bytes());
            }
            Val::Short(s) => {
                out.push(3);
                out.extend_from_slice(&s.to_be_bytes());
            }
            Val::Int(i) => {
                out.push(4);
                out.extend_from_slice(&i.to_be_bytes());
            }
            Val::Long(l) => {
                out.push(5);
                out.extend_from_slice(&l.to_be_bytes());
            }
            Val::Bytes(b) => {
                out.push(6);
                out.extend_from_slice(&u16::try_from(b.len()).unwrap().to_be_bytes());
                out.extend_from_slice(b);
            }
            Val::Str(s) => {
                out.push(7);
                out.extend_from_slice(&u16::try_from(s.len()).unwrap().to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Val::Ts(t) => {
                out.push(8);
                out.extend_from_slice(&t.to_be_bytes());
            }
            Val::Uuid(u) => {
                out.push(9);
                out.extend_from_slice(u);
            }
        }
    }
    out
}

/// A frame around raw header bytes, with correct lengths and CRCs.
fn frame_raw(headers: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = u32::try_from(16 + headers.len() + payload.len()).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&u32::try_from(headers.len()).unwrap().to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

fn frame(headers: &[(&str, Val)], payload: &[u8]) -> Vec<u8> {
    frame_raw(&encode_headers(headers), payload)
}

/// Rewrites both CRCs of a frame after a test has tampered with it.
fn fix_crcs(frame: &mut [u8]) {
    let prelude_crc = crc32fast::hash(&frame[..8]);
    frame[8..12].copy_from_slice(&prelude_crc.to_be_bytes());
    let end = frame.len() - 4;
    let message_crc = crc32fast::hash(&frame[..end]);
    frame[end..].copy_from_slice(&message_crc.to_be_bytes());
}

fn s(v: &str) -> Val {
    Val::Str(v.to_owned())
}

// ---- Capturing decoded messages ----

#[derive(Debug, Clone, PartialEq)]
struct Captured {
    headers: Vec<(String, Val)>,
    payload: Vec<u8>,
    event_type: Option<String>,
    message_type: Option<String>,
    exception_type: Option<String>,
    content_type: Option<String>,
}

fn capture(m: Message<'_>) -> Captured {
    Captured {
        headers: m
            .headers()
            .map(|h| (h.name.to_owned(), Val::from(h.value)))
            .collect(),
        payload: m.payload().to_vec(),
        event_type: m.event_type().map(str::to_owned),
        message_type: m.message_type().map(str::to_owned),
        exception_type: m.exception_type().map(str::to_owned),
        content_type: m.content_type().map(str::to_owned),
    }
}

struct Run {
    messages: Vec<Captured>,
    result: Result<(), Error>,
    finish: Result<(), Error>,
}

/// Feeds `chunks` to a fresh decoder, stopping at the first error.
fn run_with(mut decoder: Decoder, chunks: &[&[u8]]) -> Run {
    let mut messages = Vec::new();
    let mut result = Ok(());
    for chunk in chunks {
        result = decoder.push(chunk, &mut |m| messages.push(capture(m)));
        if result.is_err() {
            break;
        }
    }
    Run {
        messages,
        result,
        finish: decoder.finish(),
    }
}

fn run(chunks: &[&[u8]]) -> Run {
    run_with(Decoder::new(), chunks)
}

/// Decodes a stream pushed in one piece, asserting that it is valid and complete.
fn decode_all(bytes: &[u8]) -> Vec<Captured> {
    let r = run(&[bytes]);
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.finish, Ok(()));
    r.messages
}

/// A fixture from `tests/fixtures/eventstream/*.json`, encoded into a stream.
fn encode_fixture(json: &[u8]) -> (Vec<u8>, Value) {
    let doc: Value = serde_json::from_slice(json).unwrap();
    let mut stream = Vec::new();
    for m in doc["messages"].as_array().unwrap() {
        let headers: Vec<(&str, Val)> = m["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap(), s(h[1].as_str().unwrap())))
            .collect();
        let payload = match &m["payload"] {
            Value::Null => Vec::new(),
            p => serde_json::to_vec(p).unwrap(),
        };
        stream.extend(frame(&headers, &payload));
    }
    (stream, doc)
}

fn converse_stream() -> Vec<u8> {
    encode_fixture(fixture!("bedrock_converse_stream.json")).0
}

fn invoke_stream() -> Vec<u8> {
    encode_fixture(fixture!("bedrock_invoke_stream_anthropic.json")).0
}

fn errors_stream() -> Vec<u8> {
    encode_fixture(fixture!("bedrock_errors.json")).0
}

/// One frame carrying every header value type, built with the test encoder.
fn all_headers_frame() -> Vec<u8> {
    frame(
        &[
            ("t", Val::Bool(true)),
            ("f", Val::Bool(false)),
            ("byte", Val::Byte(-7)),
            ("short", Val::Short(-12_345)),
            ("int", Val::Int(0x0000_A00C)),
            ("long", Val::Long(i64::MIN)),
            ("bytes", Val::Bytes(vec![0, 255, 7])),
            ("string", s("grüße")),
            ("timestamp", Val::Ts(1_700_000_000_123)),
            (
                "uuid",
                Val::Uuid(*b"\x12\x34\x56\x78\x9a\xbc\xde\xf0\x0f\xed\xcb\xa9\x87\x65\x43\x21"),
            ),
        ],
        b"{'foo':'bar'}",
    )
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

// ---- CRC ----

#[test]
fn crc32_is_the_gzip_ieee_crc() {
    // The standard check value of CRC-32/ISO-HDLC (the GZIP / IEEE 802.3 CRC).
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
}

// ---- Header value types ----

#[test]
fn every_header_value_type_round_trips() {
    let long_name = "x".repeat(255);
    let headers = [
        ("t", Val::Bool(true)),
        ("f", Val::Bool(false)),
        ("byte-min", Val::Byte(i8::MIN)),
        ("byte-max", Val::Byte(i8::MAX)),
        ("short", Val::Short(-12_345)),
        ("int", Val::Int(i32::MIN)),
        ("long", Val::Long(i64::MAX)),
        ("bytes", Val::Bytes(vec![0, 255, 7])),
        ("empty-bytes", Val::Bytes(Vec::new())),
        ("string", s("grüße, 世界")),
        ("empty-string", s("")),
        ("timestamp", Val::Ts(1_700_000_000_123)),
        ("negative-timestamp", Val::Ts(-1)),
        (
            "uuid",
            Val::Uuid(*b"\x12\x34\x56\x78\x9a\xbc\xde\xf0\x0f\xed\xcb\xa9\x87\x65\x43\x21"),
        ),
        (long_name.as_str(), s("longest name")),
        ("long-string", Val::Str("a".repeat(usize::from(u16::MAX)))),
    ];
    let m = &decode_all(&frame(&headers, b"payload"))[0];
    let want: Vec<(String, Val)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .collect();
    assert_eq!(m.headers, want);
    assert_eq!(m.payload, b"payload");
}

#[test]
fn header_lookup() {
    let bytes = frame(
        &[
            (":event-type", s("metadata")),
            ("n", Val::Int(1)),
            ("n", Val::Int(2)),
        ],
        b"{}",
    );
    let mut seen = 0;
    Decoder::new()
        .push(&bytes, &mut |m| {
            seen += 1;
            assert_eq!(
                m.header(":event-type"),
                Some(HeaderValue::String("metadata"))
            );
            assert_eq!(m.header_str(":event-type"), Some("metadata"));
            // Names are case-sensitive; a missing header is None.
            assert_eq!(m.header(":Event-Type"), None);
            assert_eq!(m.message_type(), None);
            // A repeated (non-conforming) header: the first one wins.
            assert_eq!(m.header("n"), Some(HeaderValue::Int(1)));
            // A non-string header is not a string.
            assert_eq!(m.header_str("n"), None);
            assert_eq!(m.headers().count(), 3);
        })
        .unwrap();
    assert_eq!(seen, 1);
}

// ---- Bedrock ----

#[test]
fn bedrock_converse_stream() {
    let messages = decode_all(&converse_stream());
    let events: Vec<&str> = messages
        .iter()
        .map(|m| m.event_type.as_deref().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    for m in &messages {
        assert_eq!(m.message_type.as_deref(), Some("event"));
        assert_eq!(m.content_type.as_deref(), Some("application/json"));
        assert_eq!(m.exception_type, None);
    }
    assert_eq!(json(&messages[0].payload)["role"], "assistant");
    let text: String = messages
        .iter()
        .filter(|m| m.event_type.as_deref() == Some("contentBlockDelta"))
        .map(|m| {
            json(&m.payload)["delta"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(text, "Hello! How can I help you today?");
    assert_eq!(json(&messages[4].payload)["stopReason"], "end_turn");
    let usage = &json(&messages[5].payload)["usage"];
    assert_eq!(usage["inputTokens"], 12);
    assert_eq!(usage["outputTokens"], 9);
    assert_eq!(usage["totalTokens"], 21);
}

#[test]
fn bedrock_invoke_stream_anthropic_chunks() {
    let (stream, doc) = encode_fixture(fixture!("bedrock_invoke_stream_anthropic.json"));
    let messages = decode_all(&stream);
    let wanted = doc["messages"].as_array().unwrap();
    assert_eq!(messages.len(), wanted.len());
    for (m, want) in messages.iter().zip(wanted) {
        assert_eq!(m.event_type.as_deref(), Some("chunk"));
        assert_eq!(m.message_type.as_deref(), Some("event"));
        let model_event = decode_invoke_chunk(&m.payload).unwrap();
        assert_eq!(
            model_event,
            want["model_event"].as_str().unwrap().as_bytes()
        );
    }
    let delta = json(&decode_invoke_chunk(&messages[6].payload).unwrap());
    assert_eq!(delta["type"], "message_delta");
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 15);
    let start = json(&decode_invoke_chunk(&messages[0].payload).unwrap());
    assert_eq!(start["message"]["usage"]["input_tokens"], 25);
}

#[test]
fn bedrock_exception_and_error_messages() {
    let messages = decode_all(&errors_stream());
    let exception = &messages[0];
    assert_eq!(exception.message_type.as_deref(), Some("exception"));
    assert_eq!(
        exception.exception_type.as_deref(),
        Some("throttlingException")
    );
    assert_eq!(exception.event_type, None);
    assert_eq!(exception.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        json(&exception.payload)["message"],
        "Too many requests, please wait before trying again."
    );

    let bytes = errors_stream();
    let mut seen = Vec::new();
    Decoder::new()
        .push(&bytes, &mut |m| {
            let own = |v: Option<&str>| v.map(str::to_owned);
            seen.push((
                own(m.message_type()),
                own(m.error_code()),
                own(m.error_message()),
                m.payload().len(),
            ))
        })
        .unwrap();
    let own = |v: &str| Some(v.to_owned());
    assert_eq!(
        seen[1],
        (
            own("error"),
            own("InternalError"),
            own("An internal server error occurred."),
            0
        )
    );
    assert_eq!(seen[0].1, None);
}

#[test]
fn invoke_chunk_unwrapping() {
    assert_eq!(
        decode_invoke_chunk(br#"{"bytes":"aGk="}"#),
        Ok(b"hi".to_vec())
    );
    // Unpadded base64, an escaped slash, and members other than `bytes` are accepted.
    assert_eq!(
        decode_invoke_chunk(br#"{"bytes":"aGk"}"#),
        Ok(b"hi".to_vec())
    );
    assert_eq!(
        decode_invoke_chunk(br#"{"bytes":"Pz8\/"}"#),
        Ok(b"???".to_vec())
    );
    assert_eq!(
        decode_invoke_chunk(br#"{"p":"abc","bytes":""}"#),
        Ok(Vec::new())
    );
    for bad in [
        &b"not json"[..],
        b"[]",
        b"{}",
        br#"{"bytes":1}"#,
        br#"{"bytes":null}"#,
        b"",
    ] {
        assert_eq!(
            decode_invoke_chunk(bad),
            Err(ChunkError::NotPayloadPart),
            "{bad:?}"
        );
    }
    assert_eq!(
        decode_invoke_chunk(br#"{"bytes":"a*b="}"#),
        Err(ChunkError::Base64)
    );
    assert_eq!(
        decode_invoke_chunk(br#"{"bytes":"a"}"#),
        Err(ChunkError::Base64)
    );
}

// ---- Incremental decoding ----

/// Bedrock ConverseStream, InvokeModelWithResponseStream, errors, an all-types frame and an
/// empty message.
fn multi_frame_stream() -> Vec<u8> {
    let mut stream = converse_stream();
    stream.extend(all_headers_frame());
    stream.extend(errors_stream());
    stream.extend(frame(&[], b""));
    stream.extend(invoke_stream());
    stream
}

#[test]
fn split_at_every_byte_offset_decodes_identically() {
    let stream = multi_frame_stream();
    let whole = decode_all(&stream);
    assert_eq!(whole.len(), 6 + 1 + 2 + 1 + 8);
    for i in 0..=stream.len() {
        let r = run(&[&stream[..i], &stream[i..]]);
        assert_eq!(r.result, Ok(()), "split at {i}");
        assert_eq!(r.finish, Ok(()), "split at {i}");
        assert!(r.messages == whole, "split at {i}");
    }
}

#[test]
fn split_into_three_at_every_pair_of_offsets() {
    let stream = &all_headers_frame()[..];
    let whole = decode_all(stream);
    for i in 0..=stream.len() {
        for j in i..=stream.len() {
            let r = run(&[&stream[..i], &stream[i..j], &stream[j..]]);
            assert_eq!(r.result, Ok(()), "{i} {j}");
            assert!(r.messages == whole && r.finish == Ok(()), "{i} {j}");
        }
    }
}

#[test]
fn byte_at_a_time_and_random_chunkings_decode_identically() {
    let stream = multi_frame_stream();
    let whole = decode_all(&stream);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    let r = run(&bytes);
    assert!(r.messages == whole && r.result == Ok(()) && r.finish == Ok(()));

    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    for _ in 0..200 {
        let mut chunks = Vec::new();
        let mut rest = stream.as_slice();
        while !rest.is_empty() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 97) as usize; // includes empty chunks
            let (head, tail) = rest.split_at(n.min(rest.len()));
            chunks.push(head);
            rest = tail;
        }
        let r = run(&chunks);
        assert!(r.messages == whole && r.result == Ok(()) && r.finish == Ok(()));
    }
}

#[test]
fn only_the_partial_frame_is_buffered() {
    let first = frame(&[(":event-type", s("a"))], b"one");
    let second = frame(&[(":event-type", s("b"))], b"two");
    let mut stream = first.clone();
    stream.extend(&second[..10]);
    let mut decoder = Decoder::new();
    let mut n = 0;
    decoder.push(&stream, &mut |_| n += 1).unwrap();
    assert_eq!((n, decoder.buffered()), (1, 10));
    decoder.push(&second[10..20], &mut |_| n += 1).unwrap();
    assert_eq!((n, decoder.buffered()), (1, 20));
    decoder
        .push(&second[20..], &mut |m| {
            assert_eq!(m.payload(), b"two");
            n += 1;
        })
        .unwrap();
    assert_eq!((n, decoder.buffered()), (2, 0));
    assert_eq!(decoder.finish(), Ok(()));
    // An empty push changes nothing.
    decoder.push(&[], &mut |_| n += 1).unwrap();
    assert_eq!((n, decoder.buffered()), (2, 0));

    // After a large frame that had to be buffered, its memory is released.
    // While it is buffered, the buffer never outgrows the message.
    let big = frame(&[], &vec![b'x'; 200 * 1024]);
    let mut decoder = Decoder::new();
    for piece in big[..big.len() - 1].chunks(1000) {
        decoder
            .push(piece, &mut |_| panic!("not complete yet"))
            .unwrap();
        assert!(
            decoder.buf.capacity() <= big.len(),
            "{}",
            decoder.buf.capacity()
        );
    }
    decoder
        .push(&big[big.len() - 1..], &mut |m| {
            assert_eq!(m.payload().len(), 200 * 1024)
        })
        .unwrap();
    assert_eq!(decoder.buf.capacity(), 0);
    let mut decoder = Decoder::new();
    decoder.push(&big[..1000], &mut |_| {}).unwrap();
    decoder
        .push(&big[1000..], &mut |m| {
            assert_eq!(m.payload().len(), 200 * 1024)
        })
        .unwrap();
    assert_eq!(decoder.buf.capacity(), 0);
}

// ---- Errors ----

#[test]
fn bad_prelude_crc_poisons_the_decoder() {
    let good = frame(&[(":event-type", s("messageStart"))], b"{}");
    let mut bad = frame(&[(":event-type", s("metadata"))], b"{}");
    bad[9] ^= 0x01;
    let mut stream = good.clone();
    stream.extend(&bad);
    stream.extend(&good);

    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    let err = decoder
        .push(&stream, &mut |m| {
            events.push(m.event_type().map(str::to_owned))
        })
        .unwrap_err();
    // The message before the bad one is delivered; nothing after it.
    assert_eq!(events, [Some("messageStart".to_owned())]);
    assert!(matches!(err, Error::PreludeCrc { expected, computed } if expected != computed));
    assert_eq!(decoder.error(), Some(&err));
    // Poisoned: later pushes and finish report the same error, and deliver nothing.
    assert_eq!(
        decoder.push(&good, &mut |_| events.push(None)),
        Err(err.clone())
    );
    assert_eq!(decoder.finish(), Err(err));
    assert_eq!(events.len(), 1);
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn bad_prelude_crc_is_reported_as_soon_as_the_prelude_arrives() {
    let mut bad = frame(&[], &[0; 100]);
    bad[0] ^= 0x80;
    for split in 0..12 {
        let r = run(&[&bad[..split], &bad[split..12]]);
        assert!(matches!(r.result, Err(Error::PreludeCrc { .. })), "{split}");
    }
}

#[test]
fn bad_message_crc() {
    let mut bad = frame(
        &[(":event-type", s("contentBlockDelta"))],
        br#"{"delta":{"text":"hi"}}"#,
    );
    let last = bad.len() - 1;
    bad[last] ^= 0xFF;
    for i in 0..=bad.len() {
        let r = run(&[&bad[..i], &bad[i..]]);
        assert!(
            matches!(r.result, Err(Error::MessageCrc { .. })),
            "split at {i}"
        );
        assert!(r.messages.is_empty());
        assert_eq!(r.finish, r.result);
    }
}

#[test]
fn any_corrupted_byte_is_caught_by_a_crc() {
    let good = frame(
        &[
            (":event-type", s("metadata")),
            (":message-type", s("event")),
            ("n", Val::Long(7)),
        ],
        br#"{"usage":{"inputTokens":1,"outputTokens":2,"totalTokens":3}}"#,
    );
    for i in 0..good.len() {
        for flip in [0x01, 0x80, 0xFF] {
            let mut bad = good.clone();
            bad[i] ^= flip;
            let r = run(&[&bad]);
            assert!(r.messages.is_empty(), "byte {i}");
            match r.result {
                Err(Error::PreludeCrc { .. }) => assert!(i < 12, "byte {i}"),
                Err(Error::MessageCrc { .. }) => assert!(i >= 12, "byte {i}"),
                other => panic!("byte {i} ^ {flip:#x}: {other:?}"),
            }
        }
    }
}

#[test]
fn impossible_lengths() {
    // total_length below 16, with a valid prelude CRC.
    for total in [0_u32, 1, 12, 15] {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&total.to_be_bytes());
        bytes.extend_from_slice(&0_u32.to_be_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&bytes).to_be_bytes());
        bytes.extend_from_slice(&[0; 8]);
        let r = run(&[&bytes]);
        assert_eq!(r.result, Err(Error::InvalidLength { total, headers: 0 }));
    }
    // headers_length larger than total_length - 16.
    let mut bytes = frame(&[], b"abcd");
    bytes[4..8].copy_from_slice(&5_u32.to_be_bytes());
    fix_crcs(&mut bytes);
    let r = run(&[&bytes]);
    assert_eq!(
        r.result,
        Err(Error::InvalidLength {
            total: 20,
            headers: 5
        })
    );
    // headers_length exactly total_length - 16 is fine (the payload is empty)...
    let bytes = frame(&[("h", Val::Bool(true))], b"");
    assert_eq!(decode_all(&bytes)[0].payload, b"");
    // ...and so is the smallest message.
    assert_eq!(decode_all(&frame(&[], b"")).len(), 1);
}

#[test]
fn oversize_frame_is_rejected_before_it_is_buffered() {
    let limit = 100;
    let fits = frame(&[], &[b'a'; 84]);
    assert_eq!(fits.len(), limit);
    let too_big = frame(&[], &[b'a'; 85]);
    let r = run_with(Decoder::with_max_message_bytes(limit), &[&fits, &too_big]);
    assert_eq!(r.messages.len(), 1);
    assert_eq!(
        r.result,
        Err(Error::TooLarge {
            total: 101,
            max: limit
        })
    );

    // Only a prelude's worth is ever held, even when the rest never comes.
    let mut decoder = Decoder::with_max_message_bytes(limit);
    assert_eq!(decoder.push(&too_big[..11], &mut |_| {}), Ok(()));
    assert_eq!(decoder.buffered(), 11);
    assert!(matches!(
        decoder.push(&too_big[11..12], &mut |_| {}),
        Err(Error::TooLarge { .. })
    ));
    assert_eq!(decoder.buffered(), 0);

    // The default cap: a prelude announcing 16 MiB + 1 is refused without allocating.
    let total = u32::try_from(DEFAULT_MAX_MESSAGE_BYTES + 1).unwrap();
    let mut prelude = Vec::new();
    prelude.extend_from_slice(&total.to_be_bytes());
    prelude.extend_from_slice(&0_u32.to_be_bytes());
    prelude.extend_from_slice(&crc32fast::hash(&prelude).to_be_bytes());
    let r = run(&[&prelude]);
    assert_eq!(
        r.result,
        Err(Error::TooLarge {
            total,
            max: DEFAULT_MAX_MESSAGE_BYTES
        })
    );
    // A prelude announcing the largest u32 does not overflow anything.
    let mut prelude = Vec::new();
    prelude.extend_from_slice(&u32::MAX.to_be_bytes());
    prelude.extend_from_slice(&(u32::MAX - 16).to_be_bytes());
    prelude.extend_from_slice(&crc32fast::hash(&prelude).to_be_bytes());
    assert!(matches!(
        run(&[&prelude]).result,
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn truncated_stream() {
    let stream = converse_stream();
    assert_eq!(decode_all(&stream).len(), 6);
    // Cut inside the prelude, inside a header, inside the payload and inside the CRC.
    let one = frame(
        &[(":event-type", s("messageStop"))],
        br#"{"stopReason":"end_turn"}"#,
    );
    for cut in [1, 11, 12, 15, one.len() - 5, one.len() - 1] {
        let r = run(&[&one[..cut]]);
        assert_eq!(r.result, Ok(()));
        assert!(r.messages.is_empty());
        assert_eq!(
            r.finish,
            Err(Error::Truncated { buffered: cut }),
            "cut at {cut}"
        );
    }
    // Complete messages before the cut are delivered.
    let r = run(&[&stream[..stream.len() - 3]]);
    assert_eq!(r.messages.len(), 5);
    let pending = stream.len() - 3 - frame_end(&stream, 5);
    assert_eq!(r.finish, Err(Error::Truncated { buffered: pending }));
    // An empty stream is complete.
    assert_eq!(run(&[]).finish, Ok(()));
}

/// Where the `n`th frame of a valid stream ends.
fn frame_end(stream: &[u8], n: usize) -> usize {
    let mut at = 0;
    for _ in 0..n {
        at += u32::from_be_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
    }
    at
}

#[test]
fn malformed_headers() {
    let cases: [(Vec<u8>, usize, HeaderError); 7] = [
        // Empty name.
        (vec![0, 0], 0, HeaderError::EmptyName),
        // Name not UTF-8.
        (vec![1, 0xFF, 0], 0, HeaderError::NameNotUtf8),
        // Unknown value type, after a valid header.
        (
            [
                encode_headers(&[("ok", Val::Bool(true))]),
                vec![1, b'x', 10],
            ]
            .concat(),
            4,
            HeaderError::UnknownType(10),
        ),
        // String value not UTF-8.
        (
            vec![1, b's', 7, 0, 2, 0xC3, 0x28],
            0,
            HeaderError::ValueNotUtf8,
        ),
        // Name runs past the headers section.
        (vec![5, b'a', b'b'], 0, HeaderError::Truncated),
        // Value runs past the headers section.
        (vec![1, b'i', 4, 0, 0], 0, HeaderError::Truncated),
        // Declared string length runs past the headers section.
        (vec![1, b's', 7, 0, 9, b'a'], 0, HeaderError::Truncated),
    ];
    for (headers, offset, reason) in cases {
        let bytes = frame_raw(&headers, b"payload");
        for i in 0..=bytes.len() {
            let r = run(&[&bytes[..i], &bytes[i..]]);
            assert_eq!(
                r.result,
                Err(Error::MalformedHeader { offset, reason }),
                "{headers:?} split {i}"
            );
            assert!(r.messages.is_empty());
        }
    }
    // A header section that ends mid-header, though the payload follows: the type byte is
    // missing.
    let bytes = frame_raw(&[1, b'a'], b"\x00");
    assert_eq!(
        run(&[&bytes]).result,
        Err(Error::MalformedHeader {
            offset: 0,
            reason: HeaderError::Truncated
        })
    );
}

#[test]
fn errors_display() {
    let errors = [
        Error::PreludeCrc {
            expected: 1,
            computed: 2,
        },
        Error::MessageCrc {
            expected: 1,
            computed: 2,
        },
        Error::InvalidLength {
            total: 3,
            headers: 0,
        },
        Error::TooLarge {
            total: 101,
            max: 100,
        },
        Error::MalformedHeader {
            offset: 4,
            reason: HeaderError::EmptyName,
        },
        Error::Truncated { buffered: 5 },
    ];
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "event stream: prelude CRC is 0x00000002, frame says 0x00000001",
            "event stream: message CRC is 0x00000002, frame says 0x00000001",
            "event stream: impossible lengths: total 3, headers 0",
            "event stream: 101-byte message over the 100-byte cap",
            "event stream: malformed header at offset 4: EmptyName",
            "event stream: ended 5 bytes into a message",
        ]
    );
    assert!(ChunkError::Base64.to_string().contains("base64"));
}
