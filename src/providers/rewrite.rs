//! Request rewrites a budget asks for: a lower output limit, a cheaper model. The output limit
//! goes in each API's own field; the model only where the body names it (a model in the path —
//! Gemini, Vertex, Bedrock, an Azure deployment — is left alone).

use super::Api;
use serde_json::{Map, Value};

/// The body with its output limit set to `max_tokens` and its model to `model` (each when
/// given and possible), or an error naming what could not be done.
pub fn apply(
    api: Api,
    path_model: bool,
    body: &[u8],
    max_tokens: Option<u64>,
    model: Option<&str>,
) -> Result<Vec<u8>, String> {
    let mut doc: Value = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
    let obj = doc.as_object_mut().ok_or("body is not a JSON object")?;
    // The model first: the output limit's field depends on it.
    if let Some(m) = model {
        if path_model || !obj.contains_key("model") {
            return Err("the model is named by the path, not the body".into());
        }
        obj.insert("model".into(), Value::String(m.into()));
        if api == Api::OpenAiChat && takes_completion_tokens(m) {
            if let Some(n) = obj.remove("max_tokens") {
                obj.entry("max_completion_tokens").or_insert(n);
            }
        }
    }
    if let Some(n) = max_tokens {
        set_output_limit(api, obj, n)?;
    }
    serde_json::to_vec(&doc).map_err(|e| e.to_string())
}

/// OpenAI's reasoning models take only `max_completion_tokens`
/// (<https://platform.openai.com/docs/api-reference/chat/create#chat-create-max_tokens>: "not
/// compatible with o-series models"); other chat servers know `max_tokens`.
fn takes_completion_tokens(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    ["o1", "o3", "o4", "gpt-5"].iter().any(|p| m.starts_with(p))
}

fn set_output_limit(api: Api, obj: &mut Map<String, Value>, n: u64) -> Result<(), String> {
    let n = Value::from(n);
    match api {
        Api::OpenAiChat => {
            let field = if obj.contains_key("max_completion_tokens") {
                "max_completion_tokens"
            } else if obj.contains_key("max_tokens") {
                "max_tokens"
            } else if obj
                .get("model")
                .and_then(Value::as_str)
                .is_some_and(takes_completion_tokens)
            {
                "max_completion_tokens"
            } else {
                "max_tokens"
            };
            obj.insert(field.into(), n);
        }
        Api::OpenAiCompletions | Api::AnthropicMessages | Api::BedrockInvoke => {
            obj.insert("max_tokens".into(), n);
        }
        Api::OpenAiResponses => {
            obj.insert("max_output_tokens".into(), n);
        }
        Api::Gemini => {
            let config = obj
                .entry("generationConfig")
                .or_insert_with(|| Value::Object(Map::new()));
            let config = config
                .as_object_mut()
                .ok_or("generationConfig is not an object")?;
            // The snake_case form is accepted too; keep whichever the client used.
            let field = if config.contains_key("max_output_tokens") {
                "max_output_tokens"
            } else {
                "maxOutputTokens"
            };
            config.insert(field.into(), n);
        }
        Api::BedrockConverse => {
            let config = obj
                .entry("inferenceConfig")
                .or_insert_with(|| Value::Object(Map::new()));
            config
                .as_object_mut()
                .ok_or("inferenceConfig is not an object")?
                .insert("maxTokens".into(), n);
        }
        Api::OpenAiEmbeddings => return Err("embeddings have no output limit".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
