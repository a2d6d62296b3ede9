//! `tollbooth-mock`: a deterministic mock LLM upstream for tollbooth's tests and
//! demo, speaking OpenAI Chat Completions, Anthropic Messages and Gemini
//! `generateContent`. HTTP/1.1, loopback only.
//!
//! # Endpoints
//!
//! | method & path | answer |
//! | --- | --- |
//! | `POST …/v1/chat/completions` (any prefix) | a Chat Completion ([`openai`]); with `"stream": true`, a chunk stream ([`openai_stream`]) |
//! | `POST …/v1/messages` (any prefix) | an Anthropic Message ([`anthropic`]); with `"stream": true`, Anthropic's event stream ([`anthropic_stream`]) |
//! | `POST …/models/{model}:generateContent` (any prefix: `/v1beta/…`, Vertex AI's `/v1/projects/…/publishers/google/…`) | a Gemini `GenerateContentResponse` ([`gemini`]) |
//! | `POST …/models/{model}:streamGenerateContent` | Gemini chunks ([`gemini_stream`]): with `?alt=sse` as server-sent events, without as one JSON array sent element by element |
//! | `GET /__mock/health` | `200 {"status":"ok"}` |
//! | `GET /__mock/requests` | `{"requests":[{seq, method, path, headers, body}, …]}`: the last [`log::LOG_CAPACITY`] (64) API requests, oldest first |
//! | `DELETE /__mock/requests` | `204`, empties that log |
//! | anything else | `404` in OpenAI's error format (still logged) |
//!
//! Every API request (whatever its path) is logged. Errors about a request —
//! `x-mock-status`, invalid bodies, malformed `x-mock-*` headers, wrong methods,
//! oversized bodies — are in the format of the API its path belongs to
//! ([`routes`]). The sections below describe the OpenAI mode; the Anthropic
//! and Gemini modes follow the same rules (same reply text, same default
//! usage, same overrides) and document their mapping in their modules.
//!
//! # Deterministic responses
//!
//! * `id` is `chatcmpl-mock` + the 16 hex digits of the FNV-1a hash of the
//!   request body (the `x-request-id` response header is `req_mock` + the same);
//!   `created` is always `1700000000`; `model` echoes the request's `model`.
//! * The reply is `Mock reply to: ` followed by the first 40 characters of the
//!   last `user` message (`Mock reply.` if there is none). Message contents may
//!   be strings or arrays of parts, whose `text`s are joined with newlines.
//!
//! # Streaming (`"stream": true`)
//!
//! `200`, `content-type: text/event-stream`, chunked: one HTTP chunk per SSE
//! event `data: <chat.completion.chunk>\n\n`, flushed separately with the
//! `x-mock-chunk-delay-ms` pause (default 5 ms) between events. Every chunk has
//! the same `id`, `created`, `model`, `system_fingerprint` as above and
//! `choices: [{index: 0, delta, logprobs: null, finish_reason}]`:
//!
//! 1. `delta: {"role":"assistant","content":""}`;
//! 2. one chunk per word of the reply, with its leading whitespace (`Mock`,
//!    ` reply`, ` to:`, …), so the deltas concatenate to the non-streaming
//!    reply exactly;
//! 3. `delta: {}`, `finish_reason: "stop"`;
//! 4. only with `"stream_options": {"include_usage": true}`: a chunk with
//!    `choices: []` and the same `usage` as the non-streaming answer (all
//!    usage overrides apply; `x-mock-usage: omit` sends no usage chunk at
//!    all). With `include_usage`, every other chunk has `"usage": null`;
//!    without it, no chunk has a `usage` key;
//! 5. `data: [DONE]`.
//!
//! Errors (`x-mock-status` ≥ 400, invalid requests) are never streamed: they
//! are the JSON errors above.
//!
//! # Default usage
//!
//! With `words(s)` = number of whitespace-separated words of `s`:
//!
//! * `prompt_tokens` = Σ over messages of (`words(content)` + 7)
//! * `reasoning_tokens` = 2 × `words(reply)` if the model is an OpenAI reasoning
//!   model (`o` followed by a digit: `o1`, `o3`, `o4-mini`, …), else 0
//! * `completion_tokens` = `words(reply)` + 1 + `reasoning_tokens`
//! * `total_tokens` = `prompt_tokens` + `completion_tokens`; `cached_tokens` = 0
//!
//! Example: `{"model":"gpt-4o","messages":[{"role":"user","content":"Say hi"}]}`
//! → reply `Mock reply to: Say hi` (5 words): prompt 9, completion 6, total 15.
//!
//! # Per-request overrides (request headers)
//!
//! | header | effect |
//! | --- | --- |
//! | `x-mock-usage: omit` | no `usage` object |
//! | `x-mock-usage: P,C[,CACHED[,REASONING]]` | exactly these numbers; total = P + C. P includes CACHED, C includes REASONING (tollbooth's normalised usage); Anthropic and Gemini map them to their fields |
//! | `x-mock-usage-raw: <text>` | `"usage":<text>` spliced verbatim, unvalidated (negatives, fractions, strings, even broken JSON); wins over `x-mock-usage`. Gemini: `"usageMetadata":<text>` |
//! | `x-mock-cache-write: N5M[,N1H]` | Anthropic only: that many of the P prompt tokens are reported as cache writes with a 5-minute (and 1-hour) lifetime |
//! | `x-mock-status: N` (200–599) | N ≥ 400: an error with that status in the API's format (OpenAI and Anthropic add `retry-after: 1` to `429`); N < 400: a normal answer with that status, even for an invalid request |
//! | `x-mock-content-type: …` | replaces the response `content-type` |
//! | `x-mock-content: <text>` | the reply text |
//! | `x-mock-delay-ms: N` | waits N ms (≤ 60000) before answering |
//! | `x-mock-chunk-bytes: N` | sends the body in N-byte chunks (`transfer-encoding: chunked`), pausing between them |
//! | `x-mock-chunk-delay-ms: N` | that pause (default 5 ms); also the pause between streamed events |
//! | `x-mock-stream-cut: N` | after N streamed events (or N chunks of `x-mock-chunk-bytes`) the connection is dropped: no `[DONE]` / `message_stop` / closing `]` unless N exceeds the events, never the terminating zero-length chunk; no effect on an unchunked body |
//!
//! With streaming, `x-mock-chunk-bytes` splits each event further into
//! N-byte chunks.
//!
//! A malformed `x-mock-*` header is answered `400` with `code: "mock_bad_header"`
//! and `param` naming the header (Anthropic, Gemini: an `invalid_request_error`
//! / `INVALID_ARGUMENT` whose message starts with the header's name). Without `x-mock-status`, an invalid request
//! (body not JSON, no `model`, no `messages` array) gets OpenAI's `400`.
//!
//! # Use from tests
//!
//! ```no_run
//! let (addr, server) = tollbooth_mock::spawn("127.0.0.1:0")?;
//! // … send requests to http://{addr}/v1/chat/completions …
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod anthropic;
pub mod anthropic_stream;
pub mod gemini;
pub mod gemini_stream;
pub mod ids;
pub mod log;
pub mod openai;
pub mod openai_stream;
pub mod overrides;
pub mod response;
pub mod routes;
pub mod server;
pub mod usage;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::thread::JoinHandle;

pub use server::serve;

/// Binds a listener, refusing any address that is not loopback.
pub fn bind_loopback(addr: impl ToSocketAddrs) -> io::Result<std::net::TcpListener> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no address to listen on",
        ));
    }
    if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the mock listens on loopback only, not {bad}"),
        ));
    }
    std::net::TcpListener::bind(&addrs[..])
}

/// Handle to a server started by [`spawn`].
///
/// Dropping it leaves the server running until the process exits; call
/// [`MockServer::shutdown`] to stop it.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MockServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the mock on a background thread with its own runtime, bound to
/// `addr` (loopback only; port 0 picks a free port). Returns once the socket
/// is listening.
pub fn spawn(addr: impl ToSocketAddrs) -> io::Result<(SocketAddr, MockServer)> {
    let std_listener = bind_loopback(addr)?;
    let local = std_listener.local_addr()?;
    std_listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener)?
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("mock-llm {local}"))
        .spawn(move || {
            runtime.spawn(serve(listener));
            runtime.block_on(async {
                if stop_rx.await.is_err() {
                    // Handle dropped without shutdown(): keep serving.
                    std::future::pending::<()>().await;
                }
            });
            // Dropping the runtime ends the accept loop and all connections.
        })?;
    Ok((
        local,
        MockServer {
            addr: local,
            stop: Some(stop_tx),
            thread: Some(thread),
        },
    ))
}
