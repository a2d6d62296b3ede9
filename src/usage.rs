//! Token usage of one request, whoever counted it.

/// Where the token counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UsageSource {
    /// The provider reported usage in the response.
    Provider,
    /// The filter counted tokens itself (no usable usage in the response).
    #[default]
    Estimate,
    /// Nothing was billed: the provider answered with an error.
    None,
}

impl UsageSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::Provider => "provider",
            UsageSource::Estimate => "estimate",
            UsageSource::None => "none",
        }
    }
}

/// Token counts, normalised across providers: `input_tokens` is every prompt token the request
/// was billed for, cache reads (`cached_tokens`) and cache writes (`cache_write_5m_tokens`,
/// `cache_write_1h_tokens`) included; `output_tokens` includes `reasoning_tokens`. This is how
/// OpenAI reports usage; providers that report the parts separately (Anthropic's `input_tokens`
/// excludes cache reads and writes; Gemini's `candidatesTokenCount` excludes
/// `thoughtsTokenCount`) are summed into this form by their parsers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Prompt-cache reads (hits), part of `input_tokens`.
    pub cached_tokens: u64,
    /// Prompt-cache writes with a 5-minute lifetime (Anthropic's default), part of
    /// `input_tokens`.
    pub cache_write_5m_tokens: u64,
    /// Prompt-cache writes with a 1-hour lifetime, part of `input_tokens`.
    pub cache_write_1h_tokens: u64,
    pub reasoning_tokens: u64,
    pub source: UsageSource,
}

impl Usage {
    /// Input tokens billed at the plain input price: neither cache reads nor cache writes.
    pub fn uncached_input_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_sub(self.cached_tokens)
            .saturating_sub(self.cache_write_5m_tokens)
            .saturating_sub(self.cache_write_1h_tokens)
    }
}

/// Largest token count taken from a provider as real. Context windows are far below this; a
/// larger number is a broken or hostile response.
pub const MAX_PLAUSIBLE_TOKENS: u64 = 100_000_000;

/// Reads a usage number from JSON: a non-negative integer no larger than
/// [`MAX_PLAUSIBLE_TOKENS`]. A missing field is `Ok(None)`; negative, fractional, non-numeric or
/// absurd values are errors.
pub fn read_count(value: Option<&serde_json::Value>, field: &str) -> Result<Option<u64>, String> {
    read_count_named(value, || field)
}

/// [`read_count`], the field's name made only for an error message.
pub fn read_count_named<F: std::fmt::Display>(
    value: Option<&serde_json::Value>,
    field: impl FnOnce() -> F,
) -> Result<Option<u64>, String> {
    let Some(value) = value else { return Ok(None) };
    if value.is_null() {
        return Ok(None);
    }
    match value.as_u64() {
        Some(n) if n <= MAX_PLAUSIBLE_TOKENS => Ok(Some(n)),
        Some(n) => Err(format!("{} = {n} is implausibly large", field())),
        None => Err(format!(
            "{} = {value} is not a non-negative integer",
            field()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reads_counts_strictly() {
        assert_eq!(read_count(Some(&json!(12)), "x"), Ok(Some(12)));
        assert_eq!(read_count(None, "x"), Ok(None));
        assert_eq!(read_count(Some(&json!(null)), "x"), Ok(None));
        for bad in [
            json!(-1),
            json!(1.5),
            json!("12"),
            json!(1_000_000_000_000u64),
            json!(true),
        ] {
            assert!(
                read_count(Some(&bad), "x").is_err(),
                "{bad} should be rejected"
            );
        }
    }
}
