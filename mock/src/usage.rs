//! Provider-neutral token accounting for the mock.
//!
//! The numbers are *not* real tokenizer counts: they are a simple, documented
//! function of the request so that tests can predict them exactly (see the crate
//! docs for the rules). Each API module (`openai`, `anthropic`, `gemini`) turns a
//! [`UsageCounts`] (and, for Anthropic, a [`CacheWrite`]) into its own wire shape.

/// Fixed per-message overhead added to the prompt count (mimics the few tokens
/// of role/separator framing real chat tokenizers add per message).
pub const PER_MESSAGE_OVERHEAD: u64 = 7;

/// Token counts in provider-neutral form.
///
/// `completion` *includes* `reasoning` (as OpenAI reports it), and `cached` is a
/// subset of `prompt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsageCounts {
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
    pub reasoning: u64,
}

impl UsageCounts {
    /// `prompt + completion`, saturating.
    pub fn total(&self) -> u64 {
        self.prompt.saturating_add(self.completion)
    }
}

/// Number of whitespace-separated words in `text`.
pub fn words(text: &str) -> u64 {
    u64::try_from(text.split_whitespace().count()).unwrap_or(u64::MAX)
}

/// Default prompt count: for every message, its words plus
/// [`PER_MESSAGE_OVERHEAD`].
pub fn prompt_tokens<'a>(message_texts: impl IntoIterator<Item = &'a str>) -> u64 {
    message_texts
        .into_iter()
        .map(|t| words(t).saturating_add(PER_MESSAGE_OVERHEAD))
        .fold(0u64, u64::saturating_add)
}

/// True for OpenAI reasoning-model names: an `o` followed by a digit
/// (`o1`, `o3`, `o4-mini`, …). A `provider/` prefix is ignored.
pub fn is_reasoning_model(model: &str) -> bool {
    let name = model.rsplit('/').next().unwrap_or(model);
    let mut chars = name.chars();
    chars.next() == Some('o') && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// Default usage for a request whose messages have the given texts and whose
/// reply is `reply`, for `model`.
///
/// * prompt = Σ (words(message) + 7)
/// * completion = words(reply) + 1 (+ reasoning)
/// * reasoning = 2 × words(reply) for reasoning models, else 0
/// * cached = 0
pub fn default_usage<'a>(
    model: &str,
    message_texts: impl IntoIterator<Item = &'a str>,
    reply: &str,
) -> UsageCounts {
    let reply_words = words(reply);
    let reasoning = if is_reasoning_model(model) {
        reply_words.saturating_mul(2)
    } else {
        0
    };
    UsageCounts {
        prompt: prompt_tokens(message_texts),
        completion: reply_words.saturating_add(1).saturating_add(reasoning),
        cached: 0,
        reasoning,
    }
}

/// Parses the `x-mock-usage` exact form `P,C[,CACHED[,REASONING]]`
/// (non-negative integers, spaces around commas allowed).
pub fn parse_exact(spec: &str) -> Result<UsageCounts, String> {
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    if !(2..=4).contains(&parts.len()) {
        return Err(format!(
            "expected P,C[,CACHED[,REASONING]] or `omit`, got {spec:?}"
        ));
    }
    let mut nums = [0u64; 4];
    for (slot, part) in nums.iter_mut().zip(&parts) {
        *slot = part
            .parse::<u64>()
            .map_err(|e| format!("{part:?} is not a non-negative integer: {e}"))?;
    }
    Ok(UsageCounts {
        prompt: nums[0],
        completion: nums[1],
        cached: nums[2],
        reasoning: nums[3],
    })
}

/// Prompt tokens written to the prompt cache (`x-mock-cache-write: N5M[,N1H]`),
/// by cache lifetime. They are part of [`UsageCounts::prompt`]; only the
/// Anthropic API reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheWrite {
    pub ttl_5m: u64,
    pub ttl_1h: u64,
}

impl CacheWrite {
    /// Both lifetimes together, saturating.
    pub fn total(&self) -> u64 {
        self.ttl_5m.saturating_add(self.ttl_1h)
    }
}

/// Parses `x-mock-cache-write`: `N5M[,N1H]` (non-negative integers).
pub fn parse_cache_write(spec: &str) -> Result<CacheWrite, String> {
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    let num = |part: &str| {
        part.parse::<u64>()
            .map_err(|e| format!("{part:?} is not a non-negative integer: {e}"))
    };
    match parts.as_slice() {
        [m5] => Ok(CacheWrite {
            ttl_5m: num(m5)?,
            ttl_1h: 0,
        }),
        [m5, h1] => Ok(CacheWrite {
            ttl_5m: num(m5)?,
            ttl_1h: num(h1)?,
        }),
        _ => Err(format!("expected N5M[,N1H], got {spec:?}")),
    }
}

/// Appends `"key":<raw>` verbatim (even if it is not valid JSON) as the last
/// member of the object that closes `depth` levels deep at the end of the
/// serialised `json`: depth 1 is the outer object, depth 2 an object that is
/// the outer object's last member, …
///
/// `json` must end with `depth` closing braces and the object must already
/// have a member (the mock only splices into its own non-empty objects).
pub fn splice_member(json: &mut String, depth: usize, key: &str, raw: &str) {
    let closing = "}".repeat(depth);
    if json.ends_with(&closing) {
        json.truncate(json.len().saturating_sub(depth));
        json.push_str(",\"");
        json.push_str(key);
        json.push_str("\":");
        json.push_str(raw);
        json.push_str(&closing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_and_overhead() {
        assert_eq!(words("  hello   big\tworld\n"), 3);
        assert_eq!(words(""), 0);
        assert_eq!(prompt_tokens(["be brief", "hi there you"]), 2 + 7 + 3 + 7);
        assert_eq!(prompt_tokens([]), 0);
    }

    #[test]
    fn reasoning_models() {
        for m in ["o1", "o3", "o4-mini", "openai/o3-pro"] {
            assert!(is_reasoning_model(m), "{m}");
        }
        for m in ["gpt-4o", "omni", "o", "", "gpt-4o-mini"] {
            assert!(!is_reasoning_model(m), "{m}");
        }
    }

    #[test]
    fn default_usage_rules() {
        let u = default_usage("gpt-4o", ["hello world"], "one two three");
        assert_eq!(
            u,
            UsageCounts {
                prompt: 9,
                completion: 4,
                cached: 0,
                reasoning: 0
            }
        );
        assert_eq!(u.total(), 13);
        let r = default_usage("o3", ["hello world"], "one two three");
        assert_eq!(r.reasoning, 6);
        assert_eq!(r.completion, 3 + 1 + 6);
    }

    #[test]
    fn exact_spec() {
        assert_eq!(
            parse_exact("10, 5").ok(),
            Some(UsageCounts {
                prompt: 10,
                completion: 5,
                cached: 0,
                reasoning: 0
            })
        );
        assert_eq!(
            parse_exact("10,5,3,2").ok(),
            Some(UsageCounts {
                prompt: 10,
                completion: 5,
                cached: 3,
                reasoning: 2
            })
        );
        for bad in ["", "1", "1,2,3,4,5", "-1,2", "1.5,2", "a,b"] {
            assert!(parse_exact(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_write_spec() {
        assert_eq!(
            parse_cache_write(" 7 ").ok(),
            Some(CacheWrite {
                ttl_5m: 7,
                ttl_1h: 0
            })
        );
        let w = parse_cache_write("7, 3").unwrap();
        assert_eq!((w.ttl_5m, w.ttl_1h, w.total()), (7, 3, 10));
        for bad in ["", "1,2,3", "-1", "x,1"] {
            assert!(parse_cache_write(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn splices_at_depth() {
        let mut one = String::from("{\"a\":1}");
        splice_member(&mut one, 1, "usage", "oops");
        assert_eq!(one, "{\"a\":1,\"usage\":oops}");
        let mut two = String::from("{\"m\":{\"a\":1}}");
        splice_member(&mut two, 2, "usage", "{\"x\":-1}");
        assert_eq!(two, "{\"m\":{\"a\":1,\"usage\":{\"x\":-1}}}");
    }
}
