//! Review of the streamed metering through the real `tollbooth.wasm`: request trailers on a
//! held streamed request, a stream cut inside an event, and the VM copy budget over long
//! streams.

use serde_json::{json, Value};
use tollbooth_integration::*;

const CONFIG: &str = r#"{"prices":{"gpt-4o-mini":{"input":0.15,"output":0.60}}}"#;
/// The documented stream shape (see the fixture's header comment).
const STREAM: &[u8] = include_bytes!("fixtures/sse/openai_chat_stream.sse");

fn request_body(content: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"model":"gpt-4o-mini","stream":true,
        "messages":[{"role":"user","content":content}]}))
    .unwrap()
}

fn headers(len: Option<usize>) -> Vec<(&'static str, String)> {
    let mut h = vec![
        (":method", "POST".to_string()),
        (":path", "/v1/chat/completions".to_string()),
        (":authority", "api.openai.com".to_string()),
        ("content-type", "application/json".to_string()),
    ];
    if let Some(n) = len {
        h.push(("content-length", n.to_string()));
    }
    h
}

fn sse_headers() -> Vec<(&'static str, &'static str)> {
    vec![(":status", "200"), ("content-type", "text/event-stream")]
}

fn state_of(view: &tollbooth_host::StreamView) -> Value {
    serde_json::from_slice(view.state("wasm.tollbooth").expect("filter state")).unwrap()
}

/// A streamed request whose body ends with trailers (gRPC-style clients, HTTP/2): the held
/// body is rewritten at the trailers, and the request is not left paused.
#[test]
fn request_trailers_end_a_held_streamed_request() {
    for mode in MODES {
        let mut host = host(mode, 1, CONFIG);
        let body = request_body("Say hello in French");
        let id = host.open(0).unwrap();
        let h = headers(None);
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        host.request_headers(id, h, false).unwrap();
        let (a, b) = body.split_at(body.len() / 2);
        host.request_body(id, a, false).unwrap();
        host.request_body(id, b, false).unwrap();
        host.request_trailers(id, vec![("x-checksum", "1")])
            .unwrap();
        let view = host.stream(id).unwrap();
        assert!(view.upstream_complete, "{mode:?}: request released");
        let sent: Value = serde_json::from_slice(&view.upstream_body).unwrap();
        assert_eq!(
            sent["stream_options"],
            json!({"include_usage": true}),
            "{mode:?}"
        );
        host.response_headers(id, sse_headers(), false).unwrap();
        host.response_body(id, STREAM, true).unwrap();
        let view = host.finish(id).unwrap();
        assert!(!view.stalled);
        let client = String::from_utf8_lossy(&view.downstream_body);
        assert!(!client.contains(r#""choices":[],"usage""#), "{mode:?}");
        assert_eq!(state_of(&view)["usage_source"], "provider");
    }
}

/// An upstream that closes the stream inside an event: the client receives exactly the bytes
/// the upstream sent, with no comment glued onto the cut line.
#[test]
fn a_stream_cut_inside_an_event_reaches_the_client_as_sent() {
    for asked in [false, true] {
        for mode in MODES {
            let mut host = host(mode, 1, CONFIG);
            let mut body: Value = serde_json::from_slice(&request_body("Hi")).unwrap();
            if asked {
                body["stream_options"] = json!({"include_usage": true});
            }
            let body = serde_json::to_vec(&body).unwrap();
            let id = host.open(0).unwrap();
            let h = headers(Some(body.len()));
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            host.request_headers(id, h, false).unwrap();
            host.request_body(id, &body, true).unwrap();
            host.response_headers(id, sse_headers(), false).unwrap();
            let text = std::str::from_utf8(STREAM).unwrap();
            let cut = text.find(r#""content":"Hello""#).unwrap();
            host.response_body(id, &STREAM[..cut], false).unwrap();
            host.response_body(id, b"", true).unwrap();
            let view = host.finish(id).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&view.downstream_body),
                String::from_utf8_lossy(&STREAM[..cut]),
                "{mode:?} asked={asked}"
            );
            let trailers = view.downstream_trailers.as_ref().unwrap();
            assert_eq!(trailers.get("x-llm-usage-source"), Some("estimate"));
        }
    }
}

/// Long streams with large prompts: each request's copy is dropped once parsed, so it no longer
/// counts against `max_copied_bytes_per_vm` while its response streams on. Otherwise, in
/// fail-closed mode, the next request is refused with 400.
#[test]
fn long_streams_do_not_exhaust_the_copy_budget() {
    let cfg = r#"{"fail_mode":"closed","routes":[{"path":"/v1/**"}],"max_copied_bytes_per_vm":100000,
        "prices":{"gpt-4o-mini":{"input":0.15,"output":0.60}}}"#;
    for mode in MODES {
        let mut host = host(mode, 1, cfg);
        let body = request_body(&"lorem ipsum ".repeat(3000));
        let mut open = Vec::new();
        for _ in 0..4 {
            let id = host.open(0).unwrap();
            let h = headers(Some(body.len()));
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            host.request_headers(id, h, false).unwrap();
            host.request_body(id, &body, true).unwrap();
            let view = host.stream(id).unwrap();
            assert!(
                view.local_reply.is_none(),
                "{mode:?}: {:?}",
                view.local_reply
            );
            host.response_headers(id, sse_headers(), false).unwrap();
            host.response_body(id, &STREAM[..400], false).unwrap();
            open.push(id);
        }
        for id in open {
            host.response_body(id, &STREAM[400..], true).unwrap();
            let view = host.finish(id).unwrap();
            assert_eq!(state_of(&view)["usage_source"], "provider");
        }
    }
}
