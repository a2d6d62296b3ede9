//! Native microbenchmarks of the host-free core (issue 5), run by `make bench` with short
//! settings; the runner (`bench/runner`) adds their medians to its table. The JSON benchmarks
//! leave the tokenizer out (no encodings loaded: the 4-bytes-per-token fallback); the tokenizer
//! has its own group here (native), and is measured inside wasm by the runner. Request and response shapes follow OpenAI's API reference
//! (https://platform.openai.com/docs/api-reference/chat/create, /chat/object, /chat-streaming).

// Benchmark set-up on fixed inputs: a failure there is a broken benchmark, as in tests.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tollbooth::config::Config;
use tollbooth::pricing::{cost_pico, Price};
use tollbooth::providers::{self, detect};
use tollbooth::quota::{Counters, Demand, Limits};
use tollbooth::sse::SseParser;
use tollbooth::tokens::Tokenizer;
use tollbooth::usage::Usage;

const CHUNK: &[u8] = br#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}

"#;

const RESPONSE: &[u8] = br#"{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default"}"#;

/// A chat request of about 2 KB.
fn request_2k() -> Vec<u8> {
    let prompt = "The quick brown fox jumps over the lazy dog. ".repeat(42);
    serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": prompt}
        ]
    })
    .to_string()
    .into_bytes()
}

fn sse(c: &mut Criterion) {
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse one chat chunk event", |b| {
        let mut parser = SseParser::new();
        b.iter(|| {
            let mut n = 0usize;
            let _ = parser.push(black_box(CHUNK), &mut |e| n += e.data_str().len());
            n
        })
    });
    g.bench_function("openai stream meter, one event", |b| {
        let data = CHUNK
            .strip_prefix(b"data: ")
            .unwrap_or(CHUNK)
            .trim_ascii_end();
        let mut meter = providers::stream_meter(providers::Api::OpenAiChat, true).unwrap();
        b.iter(|| meter.on_event(b"", black_box(data)))
    });
    g.finish();
}

fn json(c: &mut Criterion) {
    let cfg = Config::parse(b"{}").unwrap();
    let tok = Tokenizer::load(&[]).unwrap();
    let (_, ep) = detect::detect(None, "/v1/chat/completions", &[]).unwrap();
    let body = request_2k();
    let mut g = c.benchmark_group("openai");
    g.bench_function("parse 2 KB chat request (no tokenizer)", |b| {
        b.iter(|| providers::parse_request(&ep, black_box(&body), &cfg, &tok).is_ok())
    });
    let req = providers::parse_request(&ep, &body, &cfg, &tok).unwrap();
    g.bench_function("parse chat response with usage", |b| {
        b.iter(|| providers::parse_response(ep.api, black_box(RESPONSE), &req, &tok))
    });
    g.finish();
}

/// Seeded random lowercase letters: one long pre-tokenizer piece (the merge heap).
fn letters(n: usize) -> String {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect()
}

fn tokenizer(c: &mut Criterion) {
    use tollbooth::tokens::Encoding;
    let tok = Tokenizer::load(&Encoding::ALL).unwrap();
    let prose =
        "The quick brown fox jumps over the lazy dog; it's 12:30, and they've left. ".repeat(140);
    let letters = letters(100_000);
    let mut g = c.benchmark_group("tokens");
    g.throughput(Throughput::Bytes(prose.len() as u64));
    g.bench_function("count 10 KB of prose, o200k_base", |b| {
        b.iter(|| tok.count(Encoding::O200kBase, black_box(&prose)))
    });
    g.throughput(Throughput::Bytes(letters.len() as u64));
    g.bench_function("count 100 KB of random letters, o200k_base", |b| {
        b.iter(|| tok.count(Encoding::O200kBase, black_box(&letters)))
    });
    g.finish();
}

fn money(c: &mut Criterion) {
    let price = Price::flat(150_000, 600_000);
    let usage = Usage {
        input_tokens: 1_234,
        output_tokens: 567,
        cached_tokens: 200,
        ..Usage::default()
    };
    c.bench_function("pricing: cost of one usage", |b| {
        b.iter(|| cost_pico(black_box(&price), black_box(&usage)))
    });
    let limits = Limits {
        requests_per_minute: Some(600),
        tokens_per_minute: Some(100_000),
        usd_per_day: Some(50_000_000_000),
        ..Limits::default()
    };
    let demand = Demand {
        input: 1_000,
        output: 500,
        nano_usd: 450_000,
    };
    c.bench_function("quota: refresh, check, reserve, settle, encode", |b| {
        let mut counters = Counters::default();
        let mut now_ms = 1_795_341_600_000u64;
        b.iter(|| {
            now_ms += 100;
            counters.refresh(&limits, now_ms);
            let ok = counters.check(&limits, &demand, now_ms).is_ok();
            let r = counters.reserve(&demand, now_ms / 1000, 600);
            counters.settle(&r, &demand, now_ms / 1000);
            (ok, counters.encode().len())
        })
    });
}

criterion_group!(benches, sse, json, tokenizer, money);
criterion_main!(benches);
