//! Which API a request speaks, from its route's provider and its path (query string aside).
//!
//! Path shapes, from each provider's API reference:
//! - OpenAI (<https://platform.openai.com/docs/api-reference>): `…/chat/completions`,
//!   `…/completions`, `…/embeddings`, `…/responses`. OpenAI-compatible servers (vLLM, Ollama,
//!   llama.cpp, Mistral, Groq, DeepSeek, OpenRouter) use the same paths under their own prefixes.
//! - Azure OpenAI (<https://learn.microsoft.com/azure/ai-services/openai/reference>):
//!   `/openai/deployments/{deployment}/chat/completions?api-version=…` (also `completions`,
//!   `embeddings`), and the v1 form `/openai/v1/chat/completions`, `/openai/v1/responses`.
//! - Anthropic (<https://docs.anthropic.com/en/api/messages>): `/v1/messages`; on Vertex AI
//!   `…/publishers/anthropic/models/{model}:rawPredict` and `:streamRawPredict`.
//! - Gemini API (<https://ai.google.dev/api/generate-content>):
//!   `/v1beta/models/{model}:generateContent` and `:streamGenerateContent`; Vertex AI
//!   (<https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.publishers.models/generateContent>):
//!   `/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent`.
//! - AWS Bedrock Runtime (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_Operations_Amazon_Bedrock_Runtime.html>):
//!   `/model/{modelId}/converse`, `/converse-stream`, `/invoke`,
//!   `/invoke-with-response-stream`, the model ID percent-encoded.

use super::{Api, Endpoint};
use crate::config::Provider;

/// The provider and endpoint for a request to `path` on a route configured for `hint`
/// (`None`: detect the provider from the path). `None` when the path is not a metered API call
/// (token counting, batches, model listing…).
pub fn detect(
    hint: Option<Provider>,
    path: &str,
    azure_deployments: &[(String, String)],
) -> Option<(Provider, Endpoint)> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let found = bedrock(path)
        .map(|e| (Provider::Bedrock, e))
        .or_else(|| gemini(path).map(|e| (Provider::Gemini, e)))
        .or_else(|| vertex_anthropic(path).map(|e| (Provider::Anthropic, e)))
        .or_else(|| azure(path, azure_deployments).map(|e| (Provider::Azure, e)))
        .or_else(|| anthropic(path).map(|e| (Provider::Anthropic, e)))
        .or_else(|| openai(path).map(|e| (Provider::OpenAi, e)));
    match (hint, found) {
        (None, found) => found,
        // An Azure v1 path is OpenAI's format: fine on an `openai` route and vice versa.
        (Some(h), Some((p, e))) if h == p || is_openai_family(h) && is_openai_family(p) => {
            Some((h, e))
        }
        // An OpenAI-compatible server on a path of its own: the OpenAI parser, as configured.
        (Some(Provider::OpenAi), None) => Some((Provider::OpenAi, plain(Api::OpenAiChat))),
        _ => None,
    }
}

/// Whether a streamed request to `path` may be given `stream_options.include_usage`. Azure
/// OpenAI's deployment API accepts it only from api-version `2024-09-01-preview` on (the GA
/// `2024-10-21` has it); older versions answer 400 "Unrecognized request argument supplied:
/// stream_options". Without an api-version (which Azure requires) nothing is added.
pub fn accepts_stream_options(provider: Provider, path: &str) -> bool {
    if provider != Provider::Azure || !path.contains("/openai/deployments/") {
        return true;
    }
    let query = path.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("api-version="))
        .and_then(|v| v.get(..10))
        .is_some_and(|date| date >= "2024-09-01")
}

fn is_openai_family(p: Provider) -> bool {
    matches!(p, Provider::OpenAi | Provider::Azure)
}

fn plain(api: Api) -> Endpoint {
    Endpoint {
        api,
        model: None,
        stream: false,
    }
}

fn openai(path: &str) -> Option<Endpoint> {
    let api = if path.ends_with("/chat/completions") {
        Api::OpenAiChat
    } else if path.ends_with("/completions") {
        Api::OpenAiCompletions
    } else if path.ends_with("/embeddings") {
        Api::OpenAiEmbeddings
    } else if path.ends_with("/responses") {
        Api::OpenAiResponses
    } else {
        return None;
    };
    Some(plain(api))
}

fn azure(path: &str, deployments: &[(String, String)]) -> Option<Endpoint> {
    if let Some(rest) = after(path, "/openai/deployments/") {
        let (deployment, op) = rest.split_once('/')?;
        let deployment = percent_decode(deployment);
        let mut endpoint = openai(&format!("/{op}"))?;
        let model = deployments
            .iter()
            .find(|(d, _)| *d == deployment)
            .map_or(deployment, |(_, m)| m.clone());
        endpoint.model = Some(model);
        return Some(endpoint);
    }
    after(path, "/openai/v1/").and_then(|op| openai(&format!("/{op}")))
}

fn anthropic(path: &str) -> Option<Endpoint> {
    path.ends_with("/v1/messages")
        .then(|| plain(Api::AnthropicMessages))
}

/// `…/models/{model}:{method}` → (model, method).
fn model_method(path: &str) -> Option<(String, &str)> {
    let rest = after(path, "/models/")?;
    let (model, method) = rest.rsplit_once(':')?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    Some((percent_decode(model), method))
}

fn gemini(path: &str) -> Option<Endpoint> {
    if path.contains("/publishers/") && !path.contains("/publishers/google/") {
        return None;
    }
    let (model, method) = model_method(path)?;
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return None,
    };
    Some(Endpoint {
        api: Api::Gemini,
        model: Some(model),
        stream,
    })
}

fn vertex_anthropic(path: &str) -> Option<Endpoint> {
    if !path.contains("/publishers/anthropic/") {
        return None;
    }
    let (model, method) = model_method(path)?;
    // Token counting is a `rawPredict` on the pseudo-model `count-tokens`, free of charge
    // (https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/count-tokens).
    if model == "count-tokens" {
        return None;
    }
    let stream = match method {
        "rawPredict" => false,
        "streamRawPredict" => true,
        _ => return None,
    };
    Some(Endpoint {
        api: Api::AnthropicMessages,
        model: Some(model),
        stream,
    })
}

fn bedrock(path: &str) -> Option<Endpoint> {
    let rest = after(path, "/model/")?;
    let (model, op) = rest.rsplit_once('/')?;
    let (api, stream) = match op {
        "converse" => (Api::BedrockConverse, false),
        "converse-stream" => (Api::BedrockConverse, true),
        "invoke" => (Api::BedrockInvoke, false),
        "invoke-with-response-stream" => (Api::BedrockInvoke, true),
        _ => return None,
    };
    if model.is_empty() {
        return None;
    }
    Some(Endpoint {
        api,
        model: Some(percent_decode(model)),
        stream,
    })
}

/// The part of `path` after the first occurrence of `marker`.
fn after<'a>(path: &'a str, marker: &str) -> Option<&'a str> {
    path.find(marker).and_then(|i| path.get(i + marker.len()..))
}

/// `%XX` escapes decoded (Bedrock model IDs and ARNs carry `%3A`, `%2F`); invalid escapes and
/// non-UTF-8 results are kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn auto(path: &str) -> Option<(Provider, Api, Option<String>, bool)> {
        let deployments = [("prod-4o".to_string(), "gpt-4o".to_string())];
        detect(None, path, &deployments).map(|(p, e)| (p, e.api, e.model, e.stream))
    }

    #[test]
    fn openai_paths() {
        for (path, api) in [
            ("/v1/chat/completions", Api::OpenAiChat),
            ("/api/v1/chat/completions?x=1", Api::OpenAiChat),
            ("/v1/completions", Api::OpenAiCompletions),
            ("/v1/embeddings", Api::OpenAiEmbeddings),
            ("/v1/responses", Api::OpenAiResponses),
        ] {
            assert_eq!(
                auto(path),
                Some((Provider::OpenAi, api, None, false)),
                "{path}"
            );
        }
        assert_eq!(auto("/v1/models"), None);
        assert_eq!(auto("/v1/responses/resp_123/cancel"), None);
    }

    #[test]
    fn azure_paths_map_deployments() {
        assert_eq!(
            auto("/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"),
            Some((
                Provider::Azure,
                Api::OpenAiChat,
                Some("gpt-4o".into()),
                false
            ))
        );
        // An unmapped deployment is taken as the model name.
        assert_eq!(
            auto("/openai/deployments/text-embedding-3-small/embeddings"),
            Some((
                Provider::Azure,
                Api::OpenAiEmbeddings,
                Some("text-embedding-3-small".into()),
                false
            ))
        );
        assert_eq!(
            auto("/openai/v1/responses"),
            Some((Provider::Azure, Api::OpenAiResponses, None, false))
        );
    }

    #[test]
    fn azure_api_versions_gate_stream_options() {
        let ok = |p: &str| accepts_stream_options(Provider::Azure, p);
        assert!(!ok(
            "/openai/deployments/d/chat/completions?api-version=2024-06-01"
        ));
        assert!(ok(
            "/openai/deployments/d/chat/completions?x=1&api-version=2024-09-01-preview"
        ));
        assert!(ok(
            "/openai/deployments/d/chat/completions?api-version=2025-04-01-preview"
        ));
        assert!(!ok("/openai/deployments/d/chat/completions"));
        assert!(ok("/openai/v1/chat/completions"));
        assert!(accepts_stream_options(
            Provider::OpenAi,
            "/v1/chat/completions"
        ));
    }

    #[test]
    fn anthropic_paths() {
        assert_eq!(
            auto("/v1/messages"),
            Some((Provider::Anthropic, Api::AnthropicMessages, None, false))
        );
        assert_eq!(auto("/v1/messages/count_tokens"), None);
        assert_eq!(
            auto("/v1/projects/p/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict"),
            None
        );
        assert_eq!(auto("/v1/messages/batches"), None);
        assert_eq!(
            auto("/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict"),
            Some((Provider::Anthropic, Api::AnthropicMessages, Some("claude-sonnet-4@20250514".into()), true))
        );
    }

    #[test]
    fn gemini_and_vertex_paths() {
        assert_eq!(
            auto("/v1beta/models/gemini-2.5-flash:generateContent"),
            Some((
                Provider::Gemini,
                Api::Gemini,
                Some("gemini-2.5-flash".into()),
                false
            ))
        );
        assert_eq!(
            auto("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"),
            Some((
                Provider::Gemini,
                Api::Gemini,
                Some("gemini-2.5-pro".into()),
                true
            ))
        );
        assert_eq!(
            auto("/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash-001:streamGenerateContent"),
            Some((Provider::Gemini, Api::Gemini, Some("gemini-2.0-flash-001".into()), true))
        );
        assert_eq!(auto("/v1beta/models/gemini-2.5-flash:countTokens"), None);
        assert_eq!(auto("/v1beta/models/text-embedding-004:embedContent"), None);
    }

    #[test]
    fn bedrock_paths_decode_model_ids() {
        assert_eq!(
            auto("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"),
            Some((
                Provider::Bedrock,
                Api::BedrockConverse,
                Some("anthropic.claude-3-5-sonnet-20240620-v1:0".into()),
                true
            ))
        );
        assert_eq!(
            auto("/model/us.anthropic.claude-sonnet-4-20250514-v1:0/invoke"),
            Some((
                Provider::Bedrock,
                Api::BedrockInvoke,
                Some("us.anthropic.claude-sonnet-4-20250514-v1:0".into()),
                false
            ))
        );
        assert_eq!(
            auto("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.meta.llama3/invoke-with-response-stream")
                .map(|r| (r.1, r.2, r.3)),
            Some((
                Api::BedrockInvoke,
                Some("arn:aws:bedrock:us-east-1:123:inference-profile/us.meta.llama3".into()),
                true
            ))
        );
        assert_eq!(auto("/model/x/count-tokens"), None);
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
    }

    #[test]
    fn route_hint_restricts_and_defaults() {
        // A configured OpenAI-compatible route on a path of its own is parsed as Chat.
        assert_eq!(
            detect(Some(Provider::OpenAi), "/generate", &[]).map(|(p, e)| (p, e.api)),
            Some((Provider::OpenAi, Api::OpenAiChat))
        );
        // A route for one provider does not meter another's path.
        assert_eq!(
            detect(Some(Provider::Anthropic), "/v1/chat/completions", &[]),
            None
        );
        assert_eq!(
            detect(Some(Provider::Azure), "/v1/chat/completions", &[]).map(|(p, _)| p),
            Some(Provider::Azure)
        );
    }
}
