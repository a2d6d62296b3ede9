//! How a Responses response ended: the `status`, `incomplete_details.reason` and output items
//! of the response object (<https://platform.openai.com/docs/api-reference/responses/object>),
//! whole and streamed.

use super::*;
use crate::tokens::tests::tokenizer;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn req() -> RequestInfo {
    let cfg = Config::parse(b"{}").unwrap();
    parse_request(
        br#"{"model":"gpt-4o","input":"hi"}"#,
        &RESPONSES,
        &cfg,
        tokenizer(),
    )
    .unwrap()
}

fn message() -> Value {
    json!({"type": "message", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": "Hi", "annotations": []}]})
}

fn finish_of(status: &str, details: Value, output: Value) -> Option<Finish> {
    let body = json!({"model": "gpt-4o", "status": status, "incomplete_details": details,
        "output": output, "usage": {"input_tokens": 5, "output_tokens": 2}});
    parse_response(&serde_json::to_vec(&body).unwrap(), &req(), tokenizer()).finish
}

#[test]
fn status_and_incomplete_reason() {
    let out = || json!([message()]);
    let reason = |r: &str| json!({ "reason": r });
    for (status, details, want) in [
        ("completed", Value::Null, Some(Finish::Stop)),
        (
            "incomplete",
            reason("max_output_tokens"),
            Some(Finish::Length),
        ),
        (
            "incomplete",
            reason("content_filter"),
            Some(Finish::ContentFilter),
        ),
        ("incomplete", reason("something_new"), Some(Finish::Other)),
        ("incomplete", Value::Null, Some(Finish::Other)),
        ("failed", Value::Null, Some(Finish::Error)),
        ("cancelled", Value::Null, Some(Finish::Other)),
        ("in_progress", Value::Null, None),
        ("queued", Value::Null, None),
    ] {
        assert_eq!(finish_of(status, details, out()), want, "{status}");
    }
    // No status at all; an `error` object.
    let body = br#"{"model":"gpt-4o","output":[],"usage":{"input_tokens":5,"output_tokens":2}}"#;
    assert_eq!(parse_response(body, &req(), tokenizer()).finish, None);
    let body = br#"{"model":"gpt-4o","status":"failed","error":{"code":"server_error","message":"x"},"output":[]}"#;
    assert_eq!(
        parse_response(body, &req(), tokenizer()).finish,
        Some(Finish::Error)
    );
}

#[test]
fn calls_the_client_runs_ask_for_tools_and_hosted_ones_do_not() {
    let call = |t: &str| json!({"type": t, "id": "x", "call_id": "c", "status": "completed"});
    for t in CLIENT_CALLS {
        let output = json!([{"type": "reasoning", "id": "rs", "summary": []}, call(t)]);
        assert_eq!(
            finish_of("completed", Value::Null, output),
            Some(Finish::ToolCalls),
            "{t}"
        );
    }
    for t in [
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_call",
    ] {
        let output = json!([call(t), message()]);
        assert_eq!(
            finish_of("completed", Value::Null, output),
            Some(Finish::Stop),
            "{t}"
        );
    }
    // A call in an incomplete response: the cut wins.
    let output = json!([call("function_call")]);
    let cut = finish_of("incomplete", json!({"reason": "max_output_tokens"}), output);
    assert_eq!(cut, Some(Finish::Length));
}

fn streamed(events: &[Value]) -> Option<Finish> {
    let mut m = ResponsesStreamMeter::new();
    for ev in events {
        m.on_event(b"", &serde_json::to_vec(ev).unwrap());
    }
    m.finish(&req(), tokenizer(), true).finish
}

#[test]
fn streamed_terminal_events() {
    let item =
        json!({"type": "function_call", "id": "fc", "call_id": "c", "name": "f", "arguments": ""});
    let added = json!({"type": "response.output_item.added", "output_index": 0, "item": item});
    let completed = |output: Value| {
        json!({"type": "response.completed", "response": {"status": "completed", "output": output,
            "usage": {"input_tokens": 5, "output_tokens": 2}}})
    };
    // The call announced by its item events, even when the terminal response lists no output.
    assert_eq!(
        streamed(&[added.clone(), completed(json!([]))]),
        Some(Finish::ToolCalls)
    );
    assert_eq!(
        streamed(&[completed(json!([message()]))]),
        Some(Finish::Stop)
    );
    // Cut after the call was announced, before the terminal event: nothing ended yet.
    assert_eq!(streamed(std::slice::from_ref(&added)), None);
    let incomplete = json!({"type": "response.incomplete", "response": {"status": "incomplete",
        "incomplete_details": {"reason": "content_filter"}, "output": []}});
    assert_eq!(streamed(&[incomplete]), Some(Finish::ContentFilter));
    // An error event after the terminal one still makes it an error.
    let error =
        json!({"type": "error", "code": "ERR_SOMETHING", "message": "Something went wrong"});
    assert_eq!(
        streamed(&[completed(json!([message()])), error]),
        Some(Finish::Error)
    );
}
