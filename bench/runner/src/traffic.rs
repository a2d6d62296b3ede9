//! The exchanges the benchmark sends, and one stream driven through the host's step API with
//! its parts timed. Shapes follow OpenAI's API reference: Chat Completions request and
//! response (https://platform.openai.com/docs/api-reference/chat/create,
//! https://platform.openai.com/docs/api-reference/chat/object) and the streamed chunk objects
//! (https://platform.openai.com/docs/api-reference/chat-streaming), as in
//! `tests/fixtures/sse/openai_chat_stream.sse`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tollbooth_host::{Host, StreamView};

pub const MODEL: &str = "gpt-4o-mini";

/// The filter's configuration in every figure: a price for the model (so every request is
/// priced) and limits high enough for the 1 MB prompts.
pub const FILTER_CONFIG: &str = r#"{"prices":{"gpt-4o-mini":{"input":0.15,"output":0.60}},"max_body_bytes":8388608,"buffer_limit_bytes":8388608}"#;

/// Host-side buffer limit (Envoy's `per_connection_buffer_limit_bytes`), raised to match.
pub const HOST_BUFFER_LIMIT: usize = 8 * 1024 * 1024;

/// One exchange: request body, response head and body chunks.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: Vec<u8>,
    pub response_type: &'static str,
    pub response: Vec<Vec<u8>>,
}

/// A chat request whose user message is `prompt`; `stream` asks for a streamed answer with
/// usage (`stream_options.include_usage`).
pub fn chat_request(prompt: &str, stream: bool) -> Vec<u8> {
    let mut body = json!({
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": prompt}
        ]
    });
    if let (true, Some(o)) = (stream, body.as_object_mut()) {
        o.insert("stream".into(), Value::Bool(true));
        o.insert("stream_options".into(), json!({"include_usage": true}));
    }
    body.to_string().into_bytes()
}

/// A chat request of about `size` bytes, its prompt cut from `text`.
pub fn chat_request_of_size(text: &str, size: usize) -> Vec<u8> {
    let overhead = chat_request("", false).len();
    let mut n = size.saturating_sub(overhead).min(text.len());
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    chat_request(text.get(..n).unwrap_or(""), false)
}

/// The chat completion object; without `usage` the filter falls back to its own estimate,
/// which shows the prompt was tokenized.
pub fn chat_response(with_usage: bool) -> Vec<u8> {
    let mut body = json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I assist you today?",
                        "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "service_tier": "default",
        "system_fingerprint": "fp_44709d6fcb"
    });
    if let (true, Some(o)) = (with_usage, body.as_object_mut()) {
        o.insert(
            "usage".into(),
            json!({
                "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
            }),
        );
    }
    body.to_string().into_bytes()
}

/// A JSON exchange: `request` then the chat completion object in one chunk.
pub fn json_exchange(request: Vec<u8>, with_usage: bool) -> Exchange {
    Exchange {
        request,
        response_type: "application/json",
        response: vec![chat_response(with_usage)],
    }
}

/// A streamed exchange: `events` content chunks, the usage chunk and `[DONE]`, one SSE event
/// per body chunk (as a model streams them).
pub fn sse_exchange(events: usize) -> Exchange {
    let chunk = |delta: Value, finish: Value, usage: Value, choices: bool| {
        let choices = if choices {
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}])
        } else {
            json!([])
        };
        let obj = json!({
            "id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_44709d6fcb",
            "choices": choices, "usage": usage
        });
        format!("data: {obj}\n\n").into_bytes()
    };
    let mut response = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
        Value::Null,
        true,
    )];
    for i in 0..events {
        let word = format!(" word{}", i % 10);
        response.push(chunk(
            json!({ "content": word }),
            Value::Null,
            Value::Null,
            true,
        ));
    }
    response.push(chunk(json!({}), json!("stop"), Value::Null, true));
    response.push(chunk(
        json!({}),
        Value::Null,
        json!({"prompt_tokens": 9, "completion_tokens": events + 1, "total_tokens": events + 10,
               "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                   "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}),
        false,
    ));
    response.push(b"data: [DONE]\n\n".to_vec());
    Exchange {
        request: chat_request("Say hello.", true),
        response_type: "text/event-stream",
        response,
    }
}

/// How long parts of one stream took.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    /// Headers to `finish` (`proxy_on_log`, `on_done`, `on_delete`), everything.
    pub total: Duration,
    /// The request body callback with `end_of_stream` (where the prompt is parsed and counted).
    pub request_end: Duration,
}

/// Drives `x` through worker 0 of `host` with the step API; the request body comes in one
/// chunk. Returns the times and the final view.
pub fn drive(host: &mut Host, x: &Exchange) -> anyhow::Result<(Timed, StreamView)> {
    drive_as(host, x, "Bearer sk-bench")
}

/// [`drive`] with another `authorization` header (another API key is another tenant).
pub fn drive_as(
    host: &mut Host,
    x: &Exchange,
    authorization: &str,
) -> anyhow::Result<(Timed, StreamView)> {
    let len = x.request.len().to_string();
    let request_headers = [
        (":authority", "api.openai.com"),
        (":path", "/v1/chat/completions"),
        (":method", "POST"),
        ("content-type", "application/json"),
        ("authorization", authorization),
        ("content-length", len.as_str()),
    ];
    let response_headers = [(":status", "200"), ("content-type", x.response_type)];
    let start = Instant::now();
    let id = host.open(0)?;
    host.request_headers(id, request_headers, false)?;
    let t = Instant::now();
    host.request_body(id, &x.request, true)?;
    let request_end = t.elapsed();
    host.response_headers(id, response_headers, false)?;
    let last = x.response.len().saturating_sub(1);
    for (i, c) in x.response.iter().enumerate() {
        host.response_body(id, c, i == last)?;
    }
    let view = host.finish(id)?;
    let total = start.elapsed();
    Ok((Timed { total, request_end }, view))
}

/// The filter's metering record of a finished stream, checked: the response went through
/// whole and the filter metered it (`usage_source` as expected, prompt tokens ≥ `min_input`).
pub fn check_metered(view: &StreamView, source: &str, min_input: u64) -> anyhow::Result<Value> {
    anyhow::ensure!(view.status() == Some(200), "status {:?}", view.status());
    anyhow::ensure!(
        view.local_reply.is_none() && view.reset.is_none() && view.downstream_complete,
        "stream did not complete: {:?} {:?}",
        view.local_reply,
        view.reset
    );
    let raw = view
        .state("wasm.tollbooth")
        .ok_or_else(|| anyhow::anyhow!("no wasm.tollbooth filter state: not metered"))?;
    let state: Value = serde_json::from_slice(raw)?;
    let got = state.get("usage_source").and_then(Value::as_str);
    anyhow::ensure!(got == Some(source), "usage_source {got:?}, not {source}");
    let input = state
        .get("input_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    anyhow::ensure!(input >= min_input, "input_tokens {input} < {min_input}");
    Ok(state)
}

/// A stream through the pass-through module, checked: complete, status 200.
pub fn check_passed(view: &StreamView) -> anyhow::Result<()> {
    anyhow::ensure!(
        view.status() == Some(200) && view.downstream_complete && view.reset.is_none(),
        "pass-through stream did not complete"
    );
    Ok(())
}
