//! Shared set-up for the integration tests: the real `tollbooth.wasm` loaded into the
//! Envoy-faithful host, fixtures, and small assertions.

use std::path::PathBuf;
pub use tollbooth_host::{Chunking, Exchange, Host, HostOptions, Request, Response, StopMode};

/// Both of Envoy's stop-iteration modes, with the plugin switch that goes with each.
pub const MODES: [(StopMode, bool); 2] = [
    (StopMode::Default, false),
    (StopMode::AllowOnHeadersStopIteration, true),
];

/// The filter built by `make wasm` (or `$TOLLBOOTH_WASM`).
pub fn wasm_path() -> PathBuf {
    let path = std::env::var_os("TOLLBOOTH_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/wasm32-wasip1/release/tollbooth.wasm")
        });
    assert!(
        path.is_file(),
        "{} is missing: run `make wasm` first",
        path.display()
    );
    path
}

/// A host with `workers` VMs in `mode`, configured with `config` (a JSON object) plus the
/// `allow_on_headers_stop_iteration` switch matching the mode.
pub fn host(mode: (StopMode, bool), workers: usize, config: &str) -> Host {
    let mut doc: serde_json::Value = serde_json::from_str(config).expect("test config is JSON");
    doc["allow_on_headers_stop_iteration"] = serde_json::Value::Bool(mode.1);
    let opts = HostOptions {
        workers,
        stop_mode: mode.0,
        ..HostOptions::default()
    };
    let mut host = Host::load(wasm_path(), opts).expect("load tollbooth.wasm");
    host.configure(doc.to_string().as_bytes())
        .expect("configuration accepted");
    host
}

/// A fixture file under `tests/fixtures`.
pub fn fixture(path: &str) -> serde_json::Value {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path);
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A Chat Completions POST with a JSON body.
pub fn chat(body: &serde_json::Value) -> Request {
    Request::post(
        "/v1/chat/completions",
        serde_json::to_vec(body).expect("json"),
    )
    .header("content-type", "application/json")
}

/// A JSON 200 response.
pub fn json_ok(body: &serde_json::Value) -> Response {
    Response::ok(serde_json::to_vec(body).expect("json")).header("content-type", "application/json")
}

/// A stamped field: from the response headers in the ≥1.35 mode, from the trailers otherwise.
pub fn stamp<'a>(x: &'a Exchange, mode: (StopMode, bool), name: &str) -> Option<&'a str> {
    if mode.1 {
        x.header(name)
    } else {
        x.trailers.as_ref().and_then(|t| t.get(name))
    }
}

/// The filter-state object the filter left for the access log.
pub fn state(x: &Exchange) -> serde_json::Value {
    let raw = x
        .state("wasm.tollbooth")
        .expect("filter state wasm.tollbooth");
    serde_json::from_slice(raw).expect("filter state is JSON")
}

/// 2026-11-22T10:00:00Z, where the budget tests start their clock.
pub const T0_NS: u64 = 1_795_341_600_000_000_000;

/// [`host`] with the clock set to [`T0_NS`].
pub fn host_at(mode: (StopMode, bool), workers: usize, config: &str) -> Host {
    let h = host(mode, workers, config);
    h.clock().set(T0_NS);
    h
}

/// A Chat Completions response with this usage (shape from the API reference's example,
/// https://platform.openai.com/docs/api-reference/chat/object).
pub fn chat_answer(prompt: u64, completion: u64) -> Response {
    json_ok(&serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion}
    }))
}
