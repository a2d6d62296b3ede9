//! Prompt fingerprints for loop detection: a stable hash of a request's conversation tail.
//!
//! The fingerprint covers the API, the body's `model` (absent for APIs that name the model in
//! the path, which is fine: the path is the same for every repeat) and the last `tail` items of
//! the conversation array: `messages` (OpenAI Chat Completions, Anthropic Messages on every
//! route, Bedrock Converse), `contents` (Gemini), `input` (OpenAI Responses; a string is a
//! one-item conversation), `prompt` (OpenAI legacy Completions: a string or a token array is
//! one prompt, an array of strings or of token arrays is one item per prompt). Embeddings have
//! no conversation.
//!
//! Values are serialised canonically, object keys sorted by their bytes at every depth (never
//! the map's own order), numbers as serde_json writes them, strings JSON-escaped. Every piece
//! is length-prefixed so that `["ab","c"]` and `["a","bc"]` differ. The hash is FNV-1a 64
//! (<http://www.isthe.com/chongo/tech/comp/fnv/>), written out here so that it stays the same
//! across processes, platforms and Rust versions (std's `DefaultHasher` promises none of that).

use crate::providers::Api;
use serde_json::Value;

/// A stable 64-bit hash of the request's model and the last `tail` items of its conversation,
/// or None when the API has no conversation (embeddings) or the body has none (missing, not
/// an array or string, or empty), or when `tail` is 0.
pub fn conversation_tail(api: Api, body: &Value, tail: usize) -> Option<u64> {
    if tail == 0 {
        return None;
    }
    let items = conversation(api, body)?;
    if items.is_empty() {
        return None;
    }
    let mut hash = Fnv1a64::new();
    hash.piece(api_tag(api).as_bytes());
    let mut buf = Vec::new();
    if let Some(model) = body.get("model") {
        canonical(model, &mut buf);
    }
    // Canonical JSON is never empty, so an empty piece means "no model".
    hash.piece(&buf);
    let tail_items = items
        .get(items.len().saturating_sub(tail)..)
        .unwrap_or_default();
    hash.write(&(tail_items.len() as u64).to_le_bytes());
    for item in tail_items {
        buf.clear();
        canonical(item, &mut buf);
        hash.piece(&buf);
    }
    Some(hash.finish())
}

/// The conversation's items, in order.
fn conversation(api: Api, body: &Value) -> Option<Vec<&Value>> {
    let field = match api {
        Api::OpenAiChat | Api::AnthropicMessages | Api::BedrockInvoke | Api::BedrockConverse => {
            "messages"
        }
        Api::Gemini => "contents",
        Api::OpenAiResponses => "input",
        Api::OpenAiCompletions => "prompt",
        Api::OpenAiEmbeddings => return None,
    };
    match body.get(field)? {
        s @ Value::String(_) if matches!(api, Api::OpenAiResponses | Api::OpenAiCompletions) => {
            Some(vec![s])
        }
        // One tokenised prompt: the whole token array is the one item.
        tokens @ Value::Array(a)
            if api == Api::OpenAiCompletions && !a.is_empty() && a.iter().all(Value::is_number) =>
        {
            Some(vec![tokens])
        }
        Value::Array(a) => Some(a.iter().collect()),
        _ => None,
    }
}

/// A name for each API that never changes (unlike a `Debug` rendering, which may).
fn api_tag(api: Api) -> &'static str {
    match api {
        Api::OpenAiChat => "openai_chat",
        Api::OpenAiCompletions => "openai_completions",
        Api::OpenAiEmbeddings => "openai_embeddings",
        Api::OpenAiResponses => "openai_responses",
        Api::AnthropicMessages => "anthropic_messages",
        Api::Gemini => "gemini",
        Api::BedrockConverse => "bedrock_converse",
        Api::BedrockInvoke => "bedrock_invoke",
    }
}

/// Writes `v` as JSON with object keys sorted by their bytes, recursively.
fn canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, value)) in sorted(map.iter()).into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(key, out);
                out.push(b':');
                canonical(value, out);
            }
            out.push(b'}');
        }
    }
}

/// An object's entries sorted by key bytes, whatever order the map iterates in (serde_json's
/// `Map` is sorted today, but with its `preserve_order` feature it keeps insertion order).
fn sorted<'a>(
    entries: impl Iterator<Item = (&'a String, &'a Value)>,
) -> Vec<(&'a String, &'a Value)> {
    let mut entries: Vec<_> = entries.collect();
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries
}

/// A JSON string literal escaped as serde_json escapes it: `\"`, `\\`, `\b \f \n \r \t`,
/// other control characters as `\u00xx`.
fn string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if u32::from(c) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes())
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

/// FNV-1a, 64 bits (<http://www.isthe.com/chongo/tech/comp/fnv/>): start from the offset basis;
/// for each byte, XOR it in, then multiply by the FNV prime modulo 2^64.
struct Fnv1a64(u64);

impl Fnv1a64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Fnv1a64(Self::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
    }

    /// `bytes` preceded by its length (8 bytes, little-endian).
    fn piece(&mut self, bytes: &[u8]) {
        self.write(&(bytes.len() as u64).to_le_bytes());
        self.write(bytes);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests;
