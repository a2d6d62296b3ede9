use super::*;
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const OPENAI: &[u8] = include_bytes!("../../tests/fixtures/sse/openai_chat_stream.sse");
const ANTHROPIC: &[u8] = include_bytes!("../../tests/fixtures/sse/anthropic_messages_stream.sse");

/// A short stream with a bit of everything: a BOM, comments, CRLF, CR and LF, a CR pair as a
/// blank line, UTF-8 of two, three and four bytes, a `data` line without a colon, a comment inside
/// an event, an `id`, a `retry`-only block (dispatches nothing) and `[DONE]`.
const MIXED: &[u8] = "\u{feff}: hi\r\nevent: add\rdata: caf\u{e9} \u{20ac}\u{1f44b}\r\n\r\n\
    id: 7\ndata:a\ndata\n:c\ndata: b\r\rretry: 1500\n\ndata: [DONE]\n\n"
    .as_bytes();

/// An owned copy of an [`Event`].
#[derive(Clone, PartialEq, Eq)]
struct Ev {
    event: Vec<u8>,
    data: Vec<u8>,
    id: Vec<u8>,
    retry: Option<u64>,
}

impl std::fmt::Debug for Ev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        write!(
            f,
            "Ev(event={:?}, data={:?}, id={:?}, retry={:?})",
            s(&self.event),
            s(&self.data),
            s(&self.id),
            self.retry
        )
    }
}

fn ev(event: &str, data: &str, id: &str, retry: Option<u64>) -> Ev {
    Ev {
        event: event.into(),
        data: data.into(),
        id: id.into(),
        retry,
    }
}

/// A message event with no id: the common case.
fn msg(data: &str) -> Ev {
    ev("", data, "", None)
}

/// What a whole stream gave.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    events: Vec<Ev>,
    overflows: usize,
    end: EndOfStream,
}

fn run_with<'a>(max: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Run {
    let mut parser = SseParser::with_max_event_bytes(max);
    let mut events = Vec::new();
    let mut overflows = 0;
    for chunk in chunks {
        let pushed = parser.push(chunk, &mut |e: Event<'_>| {
            events.push(Ev {
                event: e.event.to_vec(),
                data: e.data.to_vec(),
                id: e.id.to_vec(),
                retry: e.retry,
            })
        });
        if let Err(err) = pushed {
            assert_eq!(err.max_event_bytes, max);
            overflows += 1;
        }
        assert!(parser.held() <= max, "held {} > cap {max}", parser.held());
    }
    let end = parser.finish();
    Run {
        events,
        overflows,
        end,
    }
}

fn run(stream: &[u8]) -> Run {
    run_with(DEFAULT_MAX_EVENT_BYTES, [stream])
}

/// The stream cut at `cuts` (ascending offsets).
fn pieces<'a>(stream: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts {
        out.push(&stream[from..cut]);
        from = cut;
    }
    out.push(&stream[from..]);
    out
}

fn events(stream: &[u8]) -> Vec<Ev> {
    run(stream).events
}

/// Checks that cutting `stream` at every offset, and byte by byte, changes nothing.
fn assert_every_single_cut(stream: &[u8], max: usize) -> Run {
    let whole = run_with(max, [stream]);
    for cut in 0..=stream.len() {
        assert_eq!(run_with(max, pieces(stream, &[cut])), whole, "cut at {cut}");
    }
    assert_eq!(run_with(max, stream.chunks(1)), whole, "byte by byte");
    whole
}

/// A fixed-seed xorshift generator, so random cuts are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Checks `trials` random cuttings of `stream` into up to 40 pieces.
fn assert_random_cuts(stream: &[u8], max: usize, trials: usize, seed: u64) -> Run {
    let whole = run_with(max, [stream]);
    let mut rng = Rng(seed);
    for _ in 0..trials {
        let mut cuts: Vec<usize> = (0..1 + rng.below(40))
            .map(|_| rng.below(stream.len() + 1))
            .collect();
        cuts.sort_unstable();
        assert_eq!(run_with(max, pieces(stream, &cuts)), whole, "cuts {cuts:?}");
    }
    whole
}

// §9.2.6's examples (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).

#[test]
fn spec_three_data_lines_join_with_lf_once_followed_by_a_blank_line() {
    // "The following event stream, once followed by a blank line: … would cause an event message
    // … The event's data attribute would contain the string "YHOO\n+2\n10"".
    let stream = b"data: YHOO\ndata: +2\ndata: 10\n";
    let unfinished = run(stream);
    assert_eq!(unfinished.events, []);
    assert_eq!(unfinished.end, EndOfStream::Truncated);
    let finished = run(&[&stream[..], b"\n"].concat());
    assert_eq!(finished.events, [msg("YHOO\n+2\n10")]);
    assert_eq!(finished.end, EndOfStream::Clean);
}

#[test]
fn spec_four_blocks_comment_id_reset_and_leading_space() {
    // "The following stream contains four blocks. The first block has just a comment, and will
    // fire nothing. The second … with the data "first event", and will then set the last event ID
    // to "1" … The third block fires an event with data "second event", and also has an "id"
    // field, this time with no value, which resets the last event ID to the empty string …
    // the last block just fires an event with the data " third event" (with a single leading
    // space character)."
    let stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
    let r = run(stream);
    assert_eq!(
        r.events,
        [
            ev("", "first event", "1", None),
            msg("second event"),
            msg(" third event"),
        ]
    );
    assert_eq!(r.end, EndOfStream::Clean);
    // "Note that the last still has to end with a blank line, the end of the stream is not enough
    // to trigger the dispatch of the last event."
    let cut = run(&stream[..stream.len() - 1]);
    assert_eq!(cut.events.len(), 2);
    assert_eq!(cut.end, EndOfStream::Truncated);
}

#[test]
fn spec_data_without_colon_empty_data_and_a_discarded_last_block() {
    // "The following stream fires two events: … The first block fires events with the data set
    // to the empty string, as would the last block if it was followed by a blank line. The middle
    // block fires an event with the data set to a single newline character. The last block is
    // discarded because it is not followed by a blank line."
    let r = run(b"data\n\ndata\ndata\n\ndata:");
    assert_eq!(r.events, [msg(""), msg("\n")]);
    assert_eq!(r.end, EndOfStream::Truncated);
    assert_eq!(events(b"data\n\ndata\ndata\n\ndata:\n\n").len(), 3);
}

#[test]
fn spec_one_space_after_the_colon_is_ignored() {
    // "The following stream fires two identical events: … This is because the space after the
    // colon is ignored if present."
    assert_eq!(
        events(b"data:test\n\ndata: test\n\n"),
        [msg("test"), msg("test")]
    );
}

#[test]
fn spec_introduction_examples() {
    // §9.2.1 (non-normative): three messages, the second on two lines; then event types.
    assert_eq!(
        events(
            b"data: This is the first message.\n\ndata: This is the second message, it\n\
              data: has two lines.\n\ndata: This is the third message.\n\n"
        ),
        [
            msg("This is the first message."),
            msg("This is the second message, it\nhas two lines."),
            msg("This is the third message."),
        ]
    );
    let typed =
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n";
    let mut names = Vec::new();
    SseParser::new()
        .push(typed, &mut |e| {
            names.push((e.event_type().to_vec(), e.data.to_vec()))
        })
        .unwrap();
    assert_eq!(
        names,
        [
            (b"add".to_vec(), b"73857293".to_vec()),
            (b"remove".to_vec(), b"2153".to_vec()),
            (b"add".to_vec(), b"113411".to_vec()),
        ]
    );
}

// Field rules.

#[test]
fn only_one_space_is_removed_and_later_colons_belong_to_the_value() {
    assert_eq!(
        events(b"data:  two\n\ndata:\tTAB\n\ndata: a: b:c\n\ndata: \n\n"),
        [msg(" two"), msg("\tTAB"), msg("a: b:c"), msg("")]
    );
}

#[test]
fn field_names_are_case_sensitive_and_unknown_fields_are_ignored() {
    let r = run(b"Data: no\nDATA: no\nfoo: bar\nretries: 5\ndata : no\n\n");
    assert_eq!(r.events, []);
    assert_eq!(r.end, EndOfStream::Clean);
    assert_eq!(
        events(b"foo: bar\ndata: yes\nx\n\n"),
        [msg("yes")],
        "unknown fields around data change nothing"
    );
}

#[test]
fn event_type_is_cleared_by_every_blank_line() {
    let r = events(b"event: first\ndata: 1\n\ndata: 2\n\nevent: lost\n\ndata: 3\n\nevent: a\nevent: b\ndata: 4\n\nevent:\ndata: 5\n\n");
    assert_eq!(
        r,
        [
            ev("first", "1", "", None),
            msg("2"),
            msg("3"),
            ev("b", "4", "", None),
            msg("5"),
        ]
    );
    let mut types = Vec::new();
    SseParser::new()
        .push(b"event:\ndata: x\n\n", &mut |e| {
            types.push(e.event_type().to_vec())
        })
        .unwrap();
    assert_eq!(types, [b"message".to_vec()]);
}

#[test]
fn last_event_id_persists_ignores_nul_and_is_set_without_dispatch() {
    let mut parser = SseParser::new();
    let mut got = Vec::new();
    let mut collect = |e: Event<'_>| got.push((e.id.to_vec(), e.data.to_vec()));
    parser
        .push(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\n\n", &mut collect)
        .unwrap();
    assert_eq!(parser.last_event_id(), b"2", "set by a block with no data");
    parser
        .push(
            b"data: c\n\nid: 3\0x\ndata: d\n\nid\ndata: e\n\n",
            &mut collect,
        )
        .unwrap();
    assert_eq!(
        got,
        [
            (b"1".to_vec(), b"a".to_vec()),
            (b"1".to_vec(), b"b".to_vec()),
            (b"2".to_vec(), b"c".to_vec()),
            (b"2".to_vec(), b"d".to_vec()),
            (b"".to_vec(), b"e".to_vec()),
        ]
    );
}

#[test]
fn retry_takes_ascii_digits_only() {
    let mut parser = SseParser::new();
    let mut got = Vec::new();
    let mut collect = |e: Event<'_>| got.push(e.retry);
    let stream = b"retry: 1500\ndata: a\n\nretry: 1a\ndata: b\n\nretry: -1\nretry: \nretry: 1.5\n\
        retry:  20\nretry\ndata: c\n\nretry: 300\n\n";
    parser.push(stream, &mut collect).unwrap();
    assert_eq!(got, [Some(1500), None, None]);
    assert_eq!(
        parser.reconnection_time(),
        Some(300),
        "a block without data"
    );
    let mut got = Vec::new();
    parser
        .push(b"retry: 99999999999999999999999\ndata: x\n\n", &mut |e| {
            got.push(e.retry)
        })
        .unwrap();
    assert_eq!(got, [Some(u64::MAX)], "saturates");
}

#[test]
fn comments_are_ignored_anywhere() {
    let r = run(b":\n: keep-alive\n:no space\n\ndata: a\n: inside\ndata: b\n\n:tail\n");
    assert_eq!(r.events, [msg("a\nb")]);
    assert_eq!(
        r.end,
        EndOfStream::Clean,
        "a trailing comment line is not an event"
    );
}

#[test]
fn line_endings_lf_crlf_cr_and_mixed_are_equivalent() {
    let lf = b"event: e\ndata: 1\ndata: 2\n\n: c\nid: 9\ndata: 3\n\n";
    let expected = [ev("e", "1\n2", "", None), ev("", "3", "9", None)];
    assert_eq!(events(lf), expected);
    let with = |eol: &[u8]| -> Vec<u8> { lf.split(|&b| b == b'\n').collect::<Vec<_>>().join(eol) };
    assert_eq!(events(&with(b"\r\n")), expected);
    assert_eq!(events(&with(b"\r")), expected);
    let mixed = b"event: e\r\ndata: 1\rdata: 2\n\r\n: c\rid: 9\r\ndata: 3\r\r";
    assert_eq!(events(mixed), expected);
    assert_every_single_cut(mixed, DEFAULT_MAX_EVENT_BYTES);
}

#[test]
fn lf_cr_is_two_line_endings_and_crlf_is_one() {
    assert_eq!(events(b"data: a\n\rdata: b\r\n\r\n"), [msg("a"), msg("b")]);
    assert_eq!(events(b"data: a\r\ndata: b\r\n\r\n"), [msg("a\nb")]);
}

#[test]
fn cr_at_the_end_of_a_chunk_and_lf_at_the_start_of_the_next_are_one_line_ending() {
    let r = run_with(1024, [&b"data: a\r"[..], b"\ndata: b\r", b"\n\r", b"\n"]);
    assert_eq!(r.events, [msg("a\nb")]);
    assert_eq!(r.end, EndOfStream::Clean);
    // A CR then a CR in the next chunk is a blank line; an empty chunk in between changes nothing.
    let r = run_with(1024, [&b"data: a\r"[..], b"", b"\rdata: b\r", b"\r"]);
    assert_eq!(r.events, [msg("a"), msg("b")]);
}

#[test]
fn one_leading_bom_is_skipped_even_when_split() {
    let stream = b"\xef\xbb\xbfdata: a\n\n";
    assert_eq!(events(stream), [msg("a")]);
    assert_every_single_cut(stream, DEFAULT_MAX_EVENT_BYTES);
    // Only one: a second BOM is part of the field name, which then is not `data`.
    assert_eq!(
        events(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n"),
        [msg("b")]
    );
    // Not at the start: an ordinary character.
    assert_eq!(
        events(b"data: a\n\n\xef\xbb\xbfdata: b\n\ndata: \xef\xbb\xbfc\n\n"),
        [msg("a"), msg("\u{feff}c")]
    );
}

#[test]
fn bytes_that_only_start_like_a_bom_are_kept() {
    // `\xEF\n` is a (nameless, ignored) field line, not a BOM prefix plus a blank line: the
    // stream ends inside an event.
    for chunks in [
        vec![&b"\xef\n"[..]],
        vec![b"\xef", b"\n"],
        vec![b"\xef\xbb", b"\n"],
    ] {
        assert_eq!(run_with(64, chunks).end, EndOfStream::Truncated);
    }
    assert_eq!(run_with(64, [&b"\xef\xbb"[..]]).end, EndOfStream::Truncated);
    assert_eq!(
        events(b"\xef\xbbx\n\ndata: \xef\xbb\n\n"),
        [Ev {
            data: b"\xef\xbb".to_vec(),
            ..msg("")
        }]
    );
}

#[test]
fn invalid_utf8_is_passed_through_and_decoded_with_replacement() {
    let stream = b"event: \xff\ndata: ok \xf0\x9f\x91 \xc3\n\n";
    let mut seen = Vec::new();
    SseParser::new()
        .push(stream, &mut |e| {
            seen.push((e.event.to_vec(), e.data.to_vec(), e.data_str().into_owned()))
        })
        .unwrap();
    assert_eq!(
        seen,
        [(
            b"\xff".to_vec(),
            b"ok \xf0\x9f\x91 \xc3".to_vec(),
            "ok \u{fffd} \u{fffd}".to_string()
        )]
    );
    assert_every_single_cut(stream, 64);
}

#[test]
fn data_str_borrows_valid_utf8() {
    let mut borrowed = false;
    SseParser::new()
        .push("data: café\n\n".as_bytes(), &mut |e| {
            borrowed = matches!(e.data_str(), Cow::Borrowed("café"))
        })
        .unwrap();
    assert!(borrowed);
}

#[test]
fn done_sentinel() {
    assert!(is_done(b"[DONE]"));
    assert!(
        is_done(b"[DONE] "),
        "a prefix match, as openai-python's startswith"
    );
    assert!(!is_done(b"[done]"));
    assert!(!is_done(b" [DONE]"));
    assert!(!is_done(b"{\"choices\":[]}"));
    assert!(!is_done(b""));
    let mut done = Vec::new();
    SseParser::new()
        .push(b"data: {}\n\ndata: [DONE]\n\ndata:  [DONE]\n\n", &mut |e| {
            done.push(e.is_done())
        })
        .unwrap();
    assert_eq!(done, [false, true, false]);
}

// Provider streams.

#[test]
fn openai_chat_completion_chunks_then_usage_then_done() {
    let r = assert_every_single_cut(OPENAI, DEFAULT_MAX_EVENT_BYTES);
    assert_eq!(r.end, EndOfStream::Clean);
    assert_eq!(r.events.len(), 7);
    let (done, chunks) = r.events.split_last().unwrap();
    assert_eq!(done, &msg("[DONE]"));
    let chunks: Vec<Value> = chunks
        .iter()
        .inspect(|e| assert!(e.event.is_empty() && e.id.is_empty() && e.retry.is_none()))
        .map(|e| serde_json::from_slice(&e.data).unwrap())
        .collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello! Ça va? 👋");
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(chunks.last().unwrap()["choices"], serde_json::json!([]));
    assert_eq!(usage["prompt_tokens"], 9);
    assert_eq!(usage["completion_tokens"], 6);
    assert!(chunks[..chunks.len() - 1]
        .iter()
        .all(|c| c["usage"].is_null()));
}

#[test]
fn anthropic_named_events() {
    let r = assert_every_single_cut(ANTHROPIC, DEFAULT_MAX_EVENT_BYTES);
    assert_eq!(r.end, EndOfStream::Clean);
    let names: Vec<&str> = r
        .events
        .iter()
        .map(|e| std::str::from_utf8(&e.event).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let mut text = String::new();
    for e in &r.events {
        let v: Value = serde_json::from_slice(&e.data).unwrap();
        assert_eq!(
            v["type"].as_str().unwrap().as_bytes(),
            e.event,
            "type repeats the name"
        );
        if let Some(t) = v["delta"]["text"].as_str() {
            text.push_str(t);
        }
    }
    assert_eq!(text, "Hello! Grüße 🌍");
    let start: Value = serde_json::from_slice(&r.events[0].data).unwrap();
    assert_eq!(start["message"]["usage"]["input_tokens"], 25);
    let delta: Value = serde_json::from_slice(&r.events[6].data).unwrap();
    assert_eq!(delta["usage"]["output_tokens"], 15);
}

#[test]
fn anthropic_error_event_mid_stream() {
    // https://docs.anthropic.com/en/api/messages-streaming ("Error events"): an `error` event
    // can arrive in place of the rest of the stream.
    let mut stream = ANTHROPIC[..ANTHROPIC.len() / 2].to_vec();
    let cut = stream.windows(2).rposition(|w| w == b"\n\n").unwrap() + 2;
    stream.truncate(cut);
    stream.extend_from_slice(
        b"event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
    );
    let r = run(&stream);
    let last = r.events.last().unwrap();
    assert_eq!(last.event, b"error");
    let v: Value = serde_json::from_slice(&last.data).unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
    assert_eq!(r.end, EndOfStream::Clean);
}

// Splitting.

#[test]
fn mixed_stream_gives_the_same_events_for_every_pair_of_cuts() {
    let expected = [
        ev("add", "café €👋", "", None),
        ev("", "a\n\nb", "7", None),
        ev("", "[DONE]", "7", None),
    ];
    let whole = run(MIXED);
    assert_eq!(whole.events, expected);
    assert_eq!(whole.end, EndOfStream::Clean);
    for a in 0..=MIXED.len() {
        for b in a..=MIXED.len() {
            assert_eq!(
                run_with(DEFAULT_MAX_EVENT_BYTES, pieces(MIXED, &[a, b])),
                whole,
                "cuts at {a} and {b}"
            );
        }
    }
    assert_eq!(run_with(DEFAULT_MAX_EVENT_BYTES, MIXED.chunks(1)), whole);
}

#[test]
fn long_stream_gives_the_same_events_for_random_multi_cuts() {
    let stream = [OPENAI, MIXED, ANTHROPIC, b"\r\n", OPENAI].concat();
    let r = assert_random_cuts(&stream, DEFAULT_MAX_EVENT_BYTES, 400, 0x5eed_0001);
    // The BOM in the middle is not at the start of the stream, so it is kept (and the line it
    // starts is not a comment but an ignored field): the events are those of the parts, except
    // that the last event ID `7` is carried into the later ones.
    assert_eq!(r.events.len(), 7 + 3 + 8 + 7);
    assert_eq!(r.end, EndOfStream::Clean);
    for size in [2, 3, 7, 64, 1000] {
        assert_eq!(
            run_with(DEFAULT_MAX_EVENT_BYTES, stream.chunks(size)),
            r,
            "chunks of {size}"
        );
    }
}

// Incomplete streams.

#[test]
fn a_stream_cut_mid_event_dispatches_nothing_more_and_says_so() {
    let full = run(OPENAI);
    let blank_lines: Vec<usize> = OPENAI
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w == b"\n\n")
        .map(|(i, _)| i + 2)
        .collect();
    for len in 0..OPENAI.len() {
        let r = run(&OPENAI[..len]);
        let dispatched = blank_lines.iter().filter(|&&end| end <= len).count();
        // The first blank line ends the comment block, which dispatches nothing.
        assert_eq!(
            r.events[..],
            full.events[..dispatched.saturating_sub(1)],
            "cut at {len}"
        );
        // Clean: nothing yet, or right after a blank line, or after whole comment lines only.
        let clean = len == 0
            || blank_lines.contains(&len)
            || len <= blank_lines[0] && OPENAI[len - 1] == b'\n';
        let expected = if clean {
            EndOfStream::Clean
        } else {
            EndOfStream::Truncated
        };
        assert_eq!(r.end, expected, "cut at {len}");
    }
}

#[test]
fn end_of_stream_cases() {
    assert_eq!(run(b"").end, EndOfStream::Clean);
    assert_eq!(run(b"\n\n\n").end, EndOfStream::Clean);
    assert_eq!(run(b": ping\n").end, EndOfStream::Clean);
    assert_eq!(run(b": pi").end, EndOfStream::Truncated, "inside a line");
    assert_eq!(run(b"data: x\n\n").end, EndOfStream::Clean);
    assert_eq!(run(b"data: x\n").end, EndOfStream::Truncated);
    assert_eq!(run(b"data: x\r").end, EndOfStream::Truncated);
    assert_eq!(
        run(b"data: x\n\r").end,
        EndOfStream::Clean,
        "LF CR is a blank line"
    );
    assert_eq!(run(b"id: 1\n").end, EndOfStream::Truncated);
    assert_eq!(run(b"\xef\xbb\xbf").end, EndOfStream::Clean);
}

#[test]
fn finish_resets_for_a_new_stream() {
    let mut parser = SseParser::new();
    let mut got = Vec::new();
    parser
        .push(
            b"\xef\xbb\xbfid: 5\nretry: 10\ndata: a\n\ndata: partial",
            &mut |e| got.push(e.data.to_vec()),
        )
        .unwrap();
    assert_eq!(parser.finish(), EndOfStream::Truncated);
    assert_eq!(parser.last_event_id(), b"");
    assert_eq!(parser.reconnection_time(), None);
    parser
        .push(b"\xef\xbb\xbfdata: b\n\n", &mut |e| {
            assert_eq!(e.id, b"");
            got.push(e.data.to_vec())
        })
        .unwrap();
    assert_eq!(parser.finish(), EndOfStream::Clean);
    assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
}

// The cap.

#[test]
fn an_event_over_the_cap_is_discarded_and_parsing_resumes() {
    // Cap 32: "data: " + 27 bytes is a 33-byte line.
    let big = format!("data: {}\n", "x".repeat(27));
    let stream = format!("data: a\n\n{big}data: more\n\ndata: b\n\n");
    let r = run_with(32, [stream.as_bytes()]);
    assert_eq!(r.events, [msg("a"), msg("b")]);
    assert_eq!(r.overflows, 1);
    assert_eq!(r.end, EndOfStream::Clean);
    // Exactly at the cap is fine.
    let fits = format!("data: {}\n\n", "x".repeat(26));
    assert_eq!(run_with(32, [fits.as_bytes()]).overflows, 0);
    // Cut anywhere, the same thing happens.
    assert_every_single_cut(stream.as_bytes(), 32);
    let split = run_with(32, stream.as_bytes().chunks(1));
    assert_eq!(split.overflows, 1);
}

#[test]
fn the_cap_counts_the_whole_pending_event() {
    // Each 10-byte line fits alone, but the third does not fit beside the 10 bytes of data held.
    let stream = b"data: 1234\ndata: 1234\ndata: 1234\nevent: e\n\ndata: ok\n\n";
    let r = assert_every_single_cut(stream, 16);
    assert_eq!(r.events, [msg("ok")]);
    assert_eq!(r.overflows, 1);
    // The event type and last event ID count too.
    let r = assert_every_single_cut(
        b"id: 0123456789\nevent: abcdefghij\ndata: x\n\ndata: y\n\n",
        20,
    );
    assert_eq!(r.events, [ev("", "y", "0123456789", None)]);
    assert_eq!(r.overflows, 1);
}

#[test]
fn an_overflowed_event_cut_off_at_the_end_is_truncated() {
    let r = run_with(
        16,
        [&b"data: this line is far too long"[..], b" and goes on"],
    );
    assert_eq!(
        (r.events.len(), r.overflows, r.end),
        (0, 1, EndOfStream::Truncated)
    );
    let r = run_with(
        16,
        [&b"data: this line is far too long\n"[..], b"data: x\n"],
    );
    assert_eq!(r.end, EndOfStream::Truncated);
}

#[test]
fn a_huge_line_in_many_chunks_holds_no_more_than_the_cap() {
    let mut parser = SseParser::with_max_event_bytes(1000);
    let mut count = 0;
    let chunk = [b'y'; 300];
    let mut overflows = 0;
    parser.push(b"data: ", &mut |_| count += 1).unwrap();
    for _ in 0..1000 {
        overflows += usize::from(parser.push(&chunk, &mut |_| count += 1).is_err());
        assert!(parser.line.capacity() <= 4096 && parser.held() <= 1000);
    }
    parser
        .push(b"\n\ndata: after\n\n", &mut |_| count += 1)
        .unwrap();
    assert_eq!((count, overflows), (1, 1), "one report per discarded event");
}

#[test]
fn comments_are_never_held() {
    let comment = format!(": {}\n", "p".repeat(10_000));
    let stream = format!("{comment}data: a\n{comment}\n");
    let r = assert_random_cuts(stream.as_bytes(), 64, 200, 7);
    assert_eq!((r.events, r.overflows), (vec![msg("a")], 0));
}

#[test]
fn steady_streams_reuse_their_buffers() {
    let mut parser = SseParser::new();
    let mut n = 0;
    let mut pass = |parser: &mut SseParser| {
        for chunk in OPENAI.chunks(37) {
            parser.push(chunk, &mut |_| n += 1).unwrap();
        }
        (
            parser.line.capacity(),
            parser.data.capacity(),
            parser.event.capacity(),
        )
    };
    let warm = pass(&mut parser);
    for _ in 0..20 {
        assert_eq!(pass(&mut parser), warm, "no buffer grew");
    }
    assert_eq!(n, 21 * 7);
    assert!(warm.0 < 1024 && warm.1 < 1024);
}

#[test]
fn find_line_end_matches_a_plain_scan() {
    let mut rng = Rng(42);
    for len in 0..40 {
        for _ in 0..50 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.below(10) {
                    0 => b'\n',
                    1 => b'\r',
                    2 => 0x8a, // \n | 0x80
                    3 => 0x0c,
                    4 => 0x0e,
                    _ => rng.below(256) as u8,
                })
                .collect();
            let plain = bytes.iter().position(|&b| b == b'\n' || b == b'\r');
            assert_eq!(find_line_end(&bytes), plain, "{bytes:?}");
        }
    }
}

/// A plain reading of §9.2.6, for differential testing: decode the whole stream (UTF-8 with
/// replacement, one BOM stripped), split it into lines, process them. Events as (type, data, last
/// event ID, retry in the block), decoded.
fn reference(stream: &[u8]) -> Vec<(String, String, String, Option<u64>)> {
    let text = String::from_utf8_lossy(stream.strip_prefix(&BOM[..]).unwrap_or(stream));
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                lines.push(std::mem::take(&mut line));
            }
            '\n' => lines.push(std::mem::take(&mut line)),
            c => line.push(c),
        }
    }
    // `line` is an unterminated last line: discarded at the end of the stream.
    let (mut data, mut event, mut id, mut retry) =
        (String::new(), String::new(), String::new(), None);
    let mut out = Vec::new();
    for line in lines {
        if line.is_empty() {
            if !data.is_empty() {
                if data.ends_with('\n') {
                    data.pop();
                }
                out.push((event.clone(), data.clone(), id.clone(), retry));
            }
            (data, event, retry) = (String::new(), String::new(), None);
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (&line[..], ""),
        };
        match name {
            "event" => event = value.to_string(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id = value.to_string(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                retry = Some(value.parse().unwrap_or(u64::MAX))
            }
            _ => {}
        }
    }
    out
}

#[test]
fn random_streams_match_a_plain_reading_of_the_spec_however_cut() {
    const TOKENS: &[&[u8]] = &[
        b"data",
        b"data",
        b"data:",
        b"event",
        b"id",
        b"retry",
        b":",
        b":",
        b" ",
        b" ",
        b"\n",
        b"\n",
        b"\n",
        b"\r",
        b"\r\n",
        b"x",
        b"7",
        b"\0",
        b"\xef\xbb\xbf",
        b"\xc3\xa9",
        b"\xf0\x9f",
        b"\x91\x8b",
        b"\xff",
        b"[DONE]",
        b"data: x\n",
        b"data: ",
        b"\n\n",
        b"\r\n\r\n",
        b"event: e\r",
    ];
    let mut rng = Rng(0xdec0de);
    let mut dispatched = 0;
    for _ in 0..3000 {
        let stream: Vec<u8> = (0..rng.below(60))
            .flat_map(|_| TOKENS[rng.below(TOKENS.len())].iter().copied())
            .collect();
        let whole = run(&stream);
        let decoded: Vec<_> = whole
            .events
            .iter()
            .map(|e| {
                let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                (s(&e.event), s(&e.data), s(&e.id), e.retry)
            })
            .collect();
        dispatched += decoded.len();
        assert_eq!(
            decoded,
            reference(&stream),
            "{:?}",
            String::from_utf8_lossy(&stream)
        );
        let mut cuts: Vec<usize> = (0..1 + rng.below(6))
            .map(|_| rng.below(stream.len() + 1))
            .collect();
        cuts.sort_unstable();
        assert_eq!(
            run_with(DEFAULT_MAX_EVENT_BYTES, pieces(&stream, &cuts)),
            whole,
            "cuts {cuts:?}"
        );
    }
    assert!(dispatched > 1000, "too few events to compare: {dispatched}");
}
