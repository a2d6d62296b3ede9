//! Which API a request path belongs to, so that every answer to it — errors
//! about the request itself included — is in that API's format.

use hyper::{Method, StatusCode};

use crate::overrides::{BadHeader, Overrides};
use crate::response::MockResponse;
use crate::{anthropic, gemini, openai};

/// The API of a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `…/v1/chat/completions`.
    OpenAi,
    /// `…/v1/messages`.
    Anthropic,
    /// `…/models/{model}:generateContent` or `:streamGenerateContent`.
    Gemini(gemini::Call),
    /// Anything else: answered `404` in OpenAI's format.
    Unknown,
}

impl Route {
    pub fn of(path: &str) -> Self {
        if openai::matches(path) {
            Route::OpenAi
        } else if anthropic::matches(path) {
            Route::Anthropic
        } else if let Some(call) = gemini::parse_path(path) {
            Route::Gemini(call)
        } else {
            Route::Unknown
        }
    }

    /// The answer to a request whose body was read and whose overrides parsed.
    pub fn answer(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        body: &[u8],
        o: &Overrides,
    ) -> MockResponse {
        if *self != Route::Unknown && *method != Method::POST {
            return self.method_not_allowed(method, path);
        }
        match self {
            Route::OpenAi => openai::chat_completions(body, o),
            Route::Anthropic => anthropic::messages(body, o),
            Route::Gemini(call) => gemini::generate(call, query, body, o),
            Route::Unknown => openai::ApiError::unknown_url(method, path).into_response(),
        }
    }

    /// `413`: the body exceeds `limit` bytes.
    pub fn too_large(&self, limit: usize) -> MockResponse {
        match self {
            Route::Anthropic => anthropic::ApiError::too_large(limit).into_response(),
            Route::Gemini(_) => gemini::ApiError::too_large(limit).into_response(),
            Route::OpenAi | Route::Unknown => openai::ApiError::too_large(limit).into_response(),
        }
    }

    /// `400`: the body could not be read.
    pub fn unreadable(&self, message: String) -> MockResponse {
        match self {
            Route::Anthropic => anthropic::ApiError::invalid_request(message).into_response(),
            Route::Gemini(_) => {
                gemini::ApiError::new(StatusCode::BAD_REQUEST, message).into_response()
            }
            Route::OpenAi | Route::Unknown => {
                openai::ApiError::invalid_request(message, None).into_response()
            }
        }
    }

    /// `400`: a malformed `x-mock-*` header.
    pub fn bad_header(&self, bad: &BadHeader) -> MockResponse {
        match self {
            Route::Anthropic => anthropic::ApiError::bad_header(bad).into_response(),
            Route::Gemini(_) => gemini::ApiError::bad_header(bad).into_response(),
            Route::OpenAi | Route::Unknown => openai::ApiError::bad_header(bad).into_response(),
        }
    }

    /// `405`.
    pub fn method_not_allowed(&self, method: &Method, path: &str) -> MockResponse {
        match self {
            Route::Anthropic => {
                anthropic::ApiError::method_not_allowed(method, path).into_response()
            }
            Route::Gemini(_) => gemini::ApiError::method_not_allowed(method, path).into_response(),
            Route::OpenAi | Route::Unknown => {
                openai::ApiError::method_not_allowed(method, path).into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::of("/v1/chat/completions"), Route::OpenAi);
        assert_eq!(Route::of("/anthropic/v1/messages"), Route::Anthropic);
        assert_eq!(Route::of("/v1/messages/count_tokens"), Route::Unknown);
        assert!(matches!(
            Route::of("/v1beta/models/gemini-2.0-flash:streamGenerateContent"),
            Route::Gemini(gemini::Call { stream: true, .. })
        ));
        assert_eq!(Route::of("/v1/embeddings"), Route::Unknown);
    }
}
