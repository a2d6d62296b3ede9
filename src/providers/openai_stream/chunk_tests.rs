//! The one-pass chunk reading against the `Value` reading it replaced (kept here as the
//! reference): fed the same events, both meters end up in the same state.

use super::*;
use serde_json::{json, Map};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// The meter's former `on_event`, on a `Value` tree.
pub(super) fn reference_on_event(m: &mut StreamMeter, data: &[u8]) {
    if sse::is_done(data) {
        m.done = true;
        return;
    }
    let Ok(Value::Object(chunk)) = serde_json::from_slice::<Value>(data) else {
        m.ignored += 1;
        return;
    };
    m.chunks += 1;
    if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
        m.error = Some(err.clone());
    }
    if m.model.is_none() {
        m.model = chunk
            .get("model")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
    }
    if let Some(tier) = chunk.get("service_tier").and_then(Value::as_str) {
        m.service_tier = Some(tier.to_string());
    }
    if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
        m.usage = Some(provider_usage(u));
    }
    for choice in chunk
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        reference_on_choice(m, choice);
    }
}

fn reference_on_choice(m: &mut StreamMeter, choice: &Map<String, Value>) {
    let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
    if let Some(reason) = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        m.finish_reasons.insert(index, reason.to_string());
    }
    if let Some(s) = choice.get("text").and_then(Value::as_str) {
        m.keep(index, Part::Content, s);
    }
    let Some(delta) = choice.get("delta") else {
        return;
    };
    let text = |ptr: &str| delta.pointer(ptr).and_then(Value::as_str);
    if let Some(s) = text("/content") {
        m.keep(index, Part::Content, s);
    }
    if let Some(s) = text("/refusal") {
        m.keep(index, Part::Refusal, s);
    }
    if let Some(s) = text("/function_call/name") {
        m.keep(index, Part::FunctionName, s);
    }
    if let Some(s) = text("/function_call/arguments") {
        m.keep(index, Part::FunctionArguments, s);
    }
    for call in delta
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let i = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        if let Some(s) = call.pointer("/function/name").and_then(Value::as_str) {
            m.keep(index, Part::ToolName(i), s);
        }
        if let Some(s) = call.pointer("/function/arguments").and_then(Value::as_str) {
            m.keep(index, Part::ToolArguments(i), s);
        }
    }
}

pub(super) fn reference_is_usage_only(data: &[u8]) -> bool {
    let Ok(Value::Object(chunk)) = serde_json::from_slice::<Value>(data) else {
        return false;
    };
    matches!(chunk.get("choices"), Some(Value::Array(c)) if c.is_empty())
        && chunk.get("usage").is_some_and(|u| !u.is_null())
}

fn events() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        json!({"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","service_tier":"default",
               "choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}],"usage":null}),
        json!({"model":"","choices":[{"index":0,"delta":{"content":"Hel"}}]}),
        json!({"model":"later","choices":[{"index":1,"delta":{"content":"lo \"there\"\n"}},{"index":0,"delta":{"refusal":"no"}}]}),
        json!({"choices":[{"index":-1,"delta":{"content":"neg"}},{"index":1.5,"text":"legacy"},{"index":"2","delta":"str"}]}),
        json!({"choices":[{"delta":{"function_call":{"name":"f","arguments":"{\"a\":"}}}]}),
        json!({"choices":[{"delta":{"function_call":["x"],"tool_calls":[{"index":0,"function":{"name":"g","arguments":"{}"}},5,{"index":3,"function":[1]},{"function":{"arguments":"x"}}]}}]}),
        json!({"choices":[{"delta":{"tool_calls":{"index":0}}},7,null,"x"]}),
        json!({"choices":{"0":{"delta":{"content":"not an array"}}}}),
        json!({"choices":[{"index":0,"finish_reason":"","delta":{}},{"index":1,"finish_reason":"length"},{"index":0,"finish_reason":5}]}),
        json!({"service_tier":7,"error":null}),
        json!({"error":{"message":"boom","type":"server_error"}}),
        json!({"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,
               "prompt_tokens_details":{"cached_tokens":1},"completion_tokens_details":{"reasoning_tokens":2}}}),
        json!({"choices":[],"usage":{"prompt_tokens":-1}}),
        json!([1, 2]),
        json!("text"),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).unwrap())
    .collect();
    for raw in [
        &br#"{"choices":[{"delta":{"content":"dup1","content":"dup2"}}],"choices":[{"delta":{"content":"last"}}]}"#[..],
        br#"{"choices":[{"delta":{"content":"a"},"delta":5}]}"#,
        br#"{"model":"m1","model":null}"#,
        br#"{"choices":[{"delta":{"content":"x"}}],"other":1e400}"#,
        b"{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"other\":\"\xff\"}",
        br#"{"choices":[{"delta":{"content":"x"}}]} trailing"#,
        br#"{"choices":[{"delta":{"cont\u0065nt":"escaped key"}}]}"#,
        br#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1},"usage":null}"#,
        br#"{"choices":[1],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
        b"[DONE]",
        b"",
        b"not json",
    ] {
        out.push(raw.to_vec());
    }
    out
}

#[test]
fn one_pass_reading_matches_the_value_reading() {
    let mut fast = StreamMeter::with_max_text_bytes(true, 40);
    let mut reference = StreamMeter::with_max_text_bytes(true, 40);
    for e in events() {
        fast.on_event(&e);
        reference_on_event(&mut reference, &e);
        assert_eq!(
            format!("{fast:?}"),
            format!("{reference:?}"),
            "after {}",
            String::from_utf8_lossy(&e)
        );
        assert_eq!(
            is_usage_only_chunk(&e),
            reference_is_usage_only(&e),
            "{}",
            String::from_utf8_lossy(&e)
        );
    }
    assert!(fast.chunks() > 10 && fast.ignored() >= 5);
}
