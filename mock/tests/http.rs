//! End-to-end tests: real HTTP/1.1 over loopback against a `spawn`ed server,
//! using the deliberately minimal raw-`TcpStream` client of `common`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{send, Resp};

const CHAT: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Say hi"}]}"#;

fn chat(addr: SocketAddr, headers: &[(&str, &str)]) -> Resp {
    send(addr, "POST", "/v1/chat/completions", headers, CHAT)
}

#[test]
fn health() {
    let (addr, server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = send(addr, "GET", "/__mock/health", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    server.shutdown();
}

#[test]
fn chat_completion_shape_and_documented_usage() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = chat(addr, &[("content-type", "application/json")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("content-length").is_some());
    let v = r.json();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-mock"));
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["created"], 1_700_000_000);
    assert_eq!(v["model"], "gpt-4o");
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Mock reply to: Say hi"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    // The example of the crate docs.
    assert_eq!(v["usage"]["prompt_tokens"], 9);
    assert_eq!(v["usage"]["completion_tokens"], 6);
    assert_eq!(v["usage"]["total_tokens"], 15);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        0
    );
    // Reproducible byte for byte, and under any prefix.
    let again = send(addr, "POST", "/openai/v1/chat/completions", &[], CHAT);
    assert_eq!(again.status, 200);
    assert_eq!(again.body(), r.body());
    assert_eq!(again.header("x-request-id"), r.header("x-request-id"));
}

#[test]
fn reasoning_models_report_reasoning_tokens() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let body = r#"{"model":"o4-mini","messages":[{"role":"user","content":"Say hi"}]}"#;
    let v = send(addr, "POST", "/v1/chat/completions", &[], body).json();
    assert_eq!(v["model"], "o4-mini");
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        10
    );
    assert_eq!(v["usage"]["completion_tokens"], 16);
    assert_eq!(v["usage"]["total_tokens"], 25);
}

#[test]
fn usage_overrides() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let v = chat(addr, &[("x-mock-usage", "omit")]).json();
    assert!(v.get("usage").is_none());
    assert_eq!(v["object"], "chat.completion");

    let v = chat(addr, &[("x-mock-usage", "100, 50, 20, 10")]).json();
    assert_eq!(v["usage"]["prompt_tokens"], 100);
    assert_eq!(v["usage"]["completion_tokens"], 50);
    assert_eq!(v["usage"]["total_tokens"], 150);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 20);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        10
    );

    let raw = r#"{"prompt_tokens":-5,"completion_tokens":1.5,"total_tokens":"x"}"#;
    let r = chat(addr, &[("x-mock-usage-raw", raw)]);
    assert!(String::from_utf8_lossy(&r.body()).ends_with(&format!("\"usage\":{raw}}}")));
    let v = r.json();
    assert_eq!(v["usage"]["prompt_tokens"], -5);
    assert_eq!(v["usage"]["completion_tokens"], 1.5);

    let v = chat(addr, &[("x-mock-content", "exactly four words here")]).json();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "exactly four words here"
    );
    assert_eq!(v["usage"]["completion_tokens"], 5);
}

#[test]
fn error_statuses_in_openai_format() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = chat(addr, &[("x-mock-status", "429")]);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    let e = &r.json()["error"];
    assert_eq!(e["code"], "rate_limit_exceeded");
    for key in ["message", "type", "param", "code"] {
        assert!(e.get(key).is_some(), "error.{key} missing");
    }
    for (status, kind) in [
        ("500", "server_error"),
        ("400", "invalid_request_error"),
        ("401", "invalid_request_error"),
    ] {
        let r = chat(addr, &[("x-mock-status", status)]);
        assert_eq!(r.status.to_string(), status);
        assert_eq!(r.json()["error"]["type"], kind);
        assert!(r.header("retry-after").is_none());
    }
    // Invalid requests get OpenAI's 400 unless a status is forced.
    let r = send(addr, "POST", "/v1/chat/completions", &[], "{nope");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let r = send(
        addr,
        "POST",
        "/v1/chat/completions",
        &[("x-mock-status", "200")],
        "{nope",
    );
    assert_eq!(r.status, 200);
    // Malformed override headers name themselves.
    let r = chat(addr, &[("x-mock-usage", "1,2,3,4,5")]);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "mock_bad_header");
    assert_eq!(r.json()["error"]["param"], "x-mock-usage");
    // Unknown paths and methods.
    assert_eq!(send(addr, "POST", "/v1/embeddings", &[], "{}").status, 404);
    assert_eq!(
        send(addr, "GET", "/v1/chat/completions", &[], "").status,
        405
    );
}

#[test]
fn content_type_override() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let r = chat(
        addr,
        &[("x-mock-content-type", "text/plain; charset=utf-8")],
    );
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.json()["object"], "chat.completion");
}

#[test]
fn chunked_delivery() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let whole = chat(addr, &[]);
    let r = chat(
        addr,
        &[("x-mock-chunk-bytes", "16"), ("x-mock-chunk-delay-ms", "1")],
    );
    assert_eq!(r.status, 200);
    assert!(r.header("content-length").is_none());
    assert!(r.chunked, "chunked transfer-encoding");
    assert_eq!(r.chunks.len(), whole.body().len().div_ceil(16));
    assert!(r.chunks.iter().all(|c| c.len() <= 16));
    assert_eq!(r.body(), whole.body());
}

#[test]
fn delay() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    let start = Instant::now();
    assert_eq!(chat(addr, &[("x-mock-delay-ms", "200")]).status, 200);
    assert!(start.elapsed() >= Duration::from_millis(200));
}

#[test]
fn request_log_records_what_reached_upstream() {
    let (addr, _server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    chat(
        addr,
        &[
            ("authorization", "Bearer sk-test-123"),
            ("x-tenant-id", "acme"),
        ],
    );
    send(addr, "POST", "/v1/embeddings?x=1", &[], "{}");
    let v = send(addr, "GET", "/__mock/requests", &[], "").json();
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2, "control requests are not logged: {v}");
    assert_eq!(reqs[0]["seq"], 1);
    assert_eq!(reqs[0]["method"], "POST");
    assert_eq!(reqs[0]["path"], "/v1/chat/completions");
    assert_eq!(reqs[0]["headers"]["authorization"], "Bearer sk-test-123");
    assert_eq!(reqs[0]["headers"]["x-tenant-id"], "acme");
    assert_eq!(reqs[0]["body"], CHAT);
    assert_eq!(reqs[1]["path"], "/v1/embeddings?x=1");
    assert_eq!(
        send(addr, "DELETE", "/__mock/requests", &[], "").status,
        204
    );
    let v = send(addr, "GET", "/__mock/requests", &[], "").json();
    assert_eq!(v["requests"].as_array().map(Vec::len), Some(0));
}

#[test]
fn loopback_only_and_shutdown() {
    let err = tollbooth_mock::spawn("0.0.0.0:0").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let (addr, server) = tollbooth_mock::spawn("127.0.0.1:0").unwrap();
    assert_eq!(server.url(), format!("http://{addr}"));
    server.shutdown();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn binary_prints_its_address() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-llm"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    let r = send(addr, "GET", "/__mock/health", &[], "");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(r.status, 200);
}
