use super::*;
use serde_json::json;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn fnv(bytes: &[u8]) -> u64 {
    let mut h = Fnv1a64::new();
    h.write(bytes);
    h.finish()
}

#[test]
fn fnv1a_64_matches_the_published_test_vectors() {
    // From the FNV test suite (http://www.isthe.com/chongo/tech/comp/fnv/, test_fnv.c) and
    // draft-eastlake-fnv.
    assert_eq!(fnv(b""), 0xcbf29ce484222325);
    assert_eq!(fnv(b"a"), 0xaf63dc4c8601ec8c);
    assert_eq!(fnv(b"foobar"), 0x85944171f73967e8);
}

#[test]
fn fnv_is_fed_byte_by_byte() {
    let mut h = Fnv1a64::new();
    h.write(b"foo");
    h.write(b"bar");
    assert_eq!(h.finish(), 0x85944171f73967e8);
}

fn chat(model: &str, messages: Value) -> Value {
    json!({"model": model, "messages": messages})
}

fn msg(role: &str, text: &str) -> Value {
    json!({"role": role, "content": text})
}

fn fp(api: Api, body: &Value, tail: usize) -> u64 {
    conversation_tail(api, body, tail).unwrap()
}

#[test]
fn earlier_history_does_not_matter() {
    let tail = [
        msg("assistant", "Let me run the tests."),
        msg("user", "run them again"),
    ];
    let a = chat("gpt-4o", json!([msg("user", "hi"), tail[0], tail[1]]));
    let b = chat(
        "gpt-4o",
        json!([
            msg("system", "be brief"),
            msg("user", "other"),
            msg("assistant", "x"),
            tail[0],
            tail[1]
        ]),
    );
    let c = chat("gpt-4o", json!([tail[0], tail[1]]));
    assert_eq!(fp(Api::OpenAiChat, &a, 2), fp(Api::OpenAiChat, &b, 2));
    assert_eq!(fp(Api::OpenAiChat, &a, 2), fp(Api::OpenAiChat, &c, 2));
    // With a longer tail the earlier history is in, and they differ.
    assert_ne!(fp(Api::OpenAiChat, &a, 3), fp(Api::OpenAiChat, &b, 3));
}

#[test]
fn the_last_message_matters() {
    let a = chat("gpt-4o", json!([msg("user", "hi"), msg("user", "again")]));
    let b = chat("gpt-4o", json!([msg("user", "hi"), msg("user", "again!")]));
    let c = chat(
        "gpt-4o",
        json!([msg("user", "hi"), msg("assistant", "again")]),
    );
    assert_ne!(fp(Api::OpenAiChat, &a, 1), fp(Api::OpenAiChat, &b, 1));
    assert_ne!(fp(Api::OpenAiChat, &a, 1), fp(Api::OpenAiChat, &c, 1));
}

#[test]
fn the_model_matters() {
    let messages = json!([msg("user", "hi")]);
    let a = chat("gpt-4o", messages.clone());
    let b = chat("gpt-4o-mini", messages.clone());
    let none = json!({"messages": messages});
    assert_ne!(fp(Api::OpenAiChat, &a, 4), fp(Api::OpenAiChat, &b, 4));
    assert_ne!(fp(Api::OpenAiChat, &a, 4), fp(Api::OpenAiChat, &none, 4));
    // A model that is an empty string is not the same as no model.
    let empty = chat("", json!([msg("user", "hi")]));
    assert_ne!(
        fp(Api::OpenAiChat, &empty, 4),
        fp(Api::OpenAiChat, &none, 4)
    );
}

#[test]
fn the_api_matters() {
    let body = chat("m", json!([msg("user", "hi")]));
    assert_ne!(
        fp(Api::OpenAiChat, &body, 1),
        fp(Api::AnthropicMessages, &body, 1)
    );
    assert_ne!(
        fp(Api::BedrockInvoke, &body, 1),
        fp(Api::BedrockConverse, &body, 1)
    );
}

#[test]
fn key_order_does_not_matter_at_any_depth() {
    let a: Value = serde_json::from_str(
        r#"{"model":"claude","messages":[{"role":"user","content":[
            {"type":"text","text":"hi","cache_control":{"type":"ephemeral","ttl":"5m"}}]}]}"#,
    )
    .unwrap();
    let b: Value = serde_json::from_str(
        r#"{"messages":[{"content":[
            {"cache_control":{"ttl":"5m","type":"ephemeral"},"text":"hi","type":"text"}],
            "role":"user"}],"model":"claude"}"#,
    )
    .unwrap();
    assert_eq!(
        fp(Api::AnthropicMessages, &a, 3),
        fp(Api::AnthropicMessages, &b, 3)
    );
}

#[test]
fn entries_are_sorted_whatever_the_map_order() {
    // serde_json's Map iterates sorted in this build, so feed the helper an unsorted order.
    let (b, a, aa, upper) = (
        "b".to_string(),
        "a".to_string(),
        "aa".to_string(),
        "Z".to_string(),
    );
    let v = Value::Null;
    let keys: Vec<&str> = sorted([(&b, &v), (&aa, &v), (&a, &v), (&upper, &v)].into_iter())
        .into_iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(keys, ["Z", "a", "aa", "b"]);
}

#[test]
fn canonical_form_sorts_keys_and_escapes() {
    let v: Value = serde_json::from_str(
        r#"{"b":[1,2.5,null,true],"a":{"y":"q\"\\\n\t\u0001\u001fé","x":false}}"#,
    )
    .unwrap();
    let mut out = Vec::new();
    canonical(&v, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"a":{"x":false,"y":"q\"\\\n\t\u0001\u001fé"},"b":[1,2.5,null,true]}"#
    );
}

#[test]
fn pieces_are_length_prefixed() {
    let ab_c = json!({"model": "m", "input": ["ab", "c"]});
    let a_bc = json!({"model": "m", "input": ["a", "bc"]});
    assert_ne!(
        fp(Api::OpenAiResponses, &ab_c, 2),
        fp(Api::OpenAiResponses, &a_bc, 2)
    );
    // Strings can't spill into the model or the next item either.
    let one = json!({"model": "m", "input": ["a,b"]});
    let two = json!({"model": "m", "input": ["a", "b"]});
    assert_ne!(
        fp(Api::OpenAiResponses, &one, 2),
        fp(Api::OpenAiResponses, &two, 2)
    );
}

#[test]
fn each_api_reads_its_own_array() {
    let items = json!([{"role": "user", "parts": [{"text": "hi"}]}]);
    for (api, field) in [
        (Api::OpenAiChat, "messages"),
        (Api::AnthropicMessages, "messages"),
        (Api::BedrockInvoke, "messages"),
        (Api::BedrockConverse, "messages"),
        (Api::Gemini, "contents"),
        (Api::OpenAiResponses, "input"),
        (Api::OpenAiCompletions, "prompt"),
    ] {
        let mut body = json!({"model": "m"});
        body[field] = items.clone();
        assert!(conversation_tail(api, &body, 2).is_some(), "{api:?}");
        // Another API's field is not read.
        let mut other = json!({"model": "m"});
        let wrong = if field == "messages" {
            "contents"
        } else {
            "messages"
        };
        other[wrong] = items.clone();
        assert_eq!(conversation_tail(api, &other, 2), None, "{api:?}");
    }
}

#[test]
fn a_string_input_is_a_one_item_conversation() {
    let s = json!({"model": "gpt-4.1", "input": "Tell me a story."});
    let a = json!({"model": "gpt-4.1", "input": [
        {"role": "user", "content": "earlier"}, "Tell me a story."]});
    assert_eq!(
        fp(Api::OpenAiResponses, &s, 1),
        fp(Api::OpenAiResponses, &a, 1)
    );
    let p = json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test"});
    assert!(conversation_tail(Api::OpenAiCompletions, &p, 1).is_some());
    // Strings only count for the APIs that accept them.
    let m = json!({"model": "m", "messages": "hi"});
    assert_eq!(conversation_tail(Api::OpenAiChat, &m, 1), None);
}

#[test]
fn a_token_prompt_is_one_item() {
    let a = json!({"model": "m", "prompt": [1, 2, 3, 4]});
    let b = json!({"model": "m", "prompt": [9, 2, 3, 4]});
    // The last token alone is not the fingerprint: the whole tokenised prompt is.
    assert_ne!(
        fp(Api::OpenAiCompletions, &a, 1),
        fp(Api::OpenAiCompletions, &b, 1)
    );
    // An array of prompts is one item per prompt.
    let c = json!({"model": "m", "prompt": ["first", "same"]});
    let d = json!({"model": "m", "prompt": ["other", "same"]});
    assert_eq!(
        fp(Api::OpenAiCompletions, &c, 1),
        fp(Api::OpenAiCompletions, &d, 1)
    );
}

#[test]
fn a_tail_longer_than_the_conversation_takes_it_all() {
    let body = chat("m", json!([msg("user", "a"), msg("assistant", "b")]));
    assert_eq!(fp(Api::OpenAiChat, &body, 2), fp(Api::OpenAiChat, &body, 3));
    assert_eq!(
        fp(Api::OpenAiChat, &body, 2),
        fp(Api::OpenAiChat, &body, usize::MAX)
    );
    assert_ne!(fp(Api::OpenAiChat, &body, 1), fp(Api::OpenAiChat, &body, 2));
}

#[test]
fn no_conversation_no_fingerprint() {
    assert_eq!(
        conversation_tail(Api::OpenAiChat, &chat("m", json!([])), 4),
        None
    );
    assert_eq!(
        conversation_tail(Api::OpenAiChat, &json!({"model": "m"}), 4),
        None
    );
    assert_eq!(
        conversation_tail(Api::OpenAiChat, &json!({"messages": {"role": "user"}}), 4),
        None
    );
    assert_eq!(
        conversation_tail(Api::OpenAiCompletions, &json!({"prompt": []}), 4),
        None
    );
    assert_eq!(conversation_tail(Api::Gemini, &json!([1, 2]), 4), None);
    assert_eq!(
        conversation_tail(Api::OpenAiChat, &chat("m", json!([msg("user", "a")])), 0),
        None
    );
}

#[test]
fn embeddings_have_no_conversation() {
    for body in [
        json!({"model": "text-embedding-3-small", "input": "The food was delicious"}),
        json!({"model": "text-embedding-3-small", "input": ["a", "b"]}),
        json!({"model": "text-embedding-3-small", "messages": [msg("user", "a")]}),
    ] {
        assert_eq!(conversation_tail(Api::OpenAiEmbeddings, &body, 4), None);
    }
}

#[test]
fn the_same_body_always_gives_the_same_number() {
    // Pinned so that a change to the canonical form or the hash (which would reset every
    // loop counter after a deploy) is noticed. The expected value is FNV-1a 64 of the
    // byte string spelled out below, computed independently of this module's helpers.
    let body = json!({"model": "m", "input": "x"});
    let mut bytes = Vec::new();
    for piece in [&b"openai_responses"[..], b"\"m\""] {
        bytes.extend_from_slice(&(piece.len() as u64).to_le_bytes());
        bytes.extend_from_slice(piece);
    }
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.extend_from_slice(&3u64.to_le_bytes());
    bytes.extend_from_slice(b"\"x\"");
    let mut expected: u64 = 0xcbf29ce484222325;
    for b in bytes {
        expected = (expected ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    assert_eq!(fp(Api::OpenAiResponses, &body, 1), expected);
}
