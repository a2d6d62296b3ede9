//! The common case of a Chat Completions (or legacy Completions) response read in one pass,
//! without a `Value` tree: a JSON object whose `usage` is usable. Anything else (no usage, a
//! malformed one, a body that is not a JSON object) is left to the full reading, which
//! estimates or explains; where this gives an answer, it is the one the full reading gives.

use super::choices_finish_of;
use crate::providers::json_view::{List, Members, NotNull, Object, Skip, Str};
use crate::providers::ResponseInfo;
use crate::usage::{Usage, UsageSource, MAX_PLAUSIBLE_TOKENS};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

#[derive(Default)]
struct Response<'a> {
    model: Str<'a>,
    service_tier: Str<'a>,
    usage: Object<UsageView>,
    error: NotNull,
    choices: List<Object<Choice<'a>>>,
}

impl<'de> Members<'de> for Response<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "model" => self.model = map.next_value()?,
            "service_tier" => self.service_tier = map.next_value()?,
            "usage" => self.usage = map.next_value()?,
            "error" => self.error = map.next_value()?,
            "choices" => self.choices = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// A choice, for its `finish_reason` only.
#[derive(Default)]
struct Choice<'a> {
    finish_reason: Str<'a>,
}

impl<'de> Members<'de> for Choice<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "finish_reason" => self.finish_reason = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// The response's usage, model, tier and finish when it is a JSON object with a usable
/// `usage`; `None` otherwise.
pub(crate) fn with_usage(body: &[u8]) -> Option<ResponseInfo> {
    // The full reading explains an empty or non-UTF-8 body; serde_json checks the strings it
    // reads, this the bytes between them too.
    std::str::from_utf8(body).ok()?;
    let Ok(Object(Some(resp))) = serde_json::from_slice::<Object<Response<'_>>>(body) else {
        return None;
    };
    let usage = resp.usage.0?.usage()?;
    let reasons = resp.choices.0.iter().flatten().filter_map(|c| {
        let reason = c.0.as_ref()?.finish_reason.as_deref()?;
        Some(reason).filter(|r| !r.is_empty())
    });
    Some(ResponseInfo {
        usage,
        model: resp
            .model
            .as_deref()
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        problem: None,
        service_tier: resp.service_tier.as_deref().map(str::to_string),
        finish: choices_finish_of(reasons, resp.error.0),
    })
}

/// A `usage` object as [`super::provider_usage`] reads it.
#[derive(Default)]
struct UsageView {
    prompt: Count,
    completion: Count,
    cached: Object<Details>,
    reasoning: Object<Details>,
    cache_hits: Count,
}

impl<'de> Members<'de> for UsageView {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "prompt_tokens" => self.prompt = map.next_value()?,
            "completion_tokens" => self.completion = map.next_value()?,
            "prompt_tokens_details" => self.cached = map.next_value()?,
            "completion_tokens_details" => self.reasoning = map.next_value()?,
            "prompt_cache_hit_tokens" => self.cache_hits = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

impl UsageView {
    /// The usage, when [`super::provider_usage`] would accept it (its counts are read in the
    /// same order, so a bad count it never reads does not matter here either); `None` when it
    /// would give an error.
    fn usage(&self) -> Option<Usage> {
        let input = self.prompt.get()?;
        let output = self.completion.get()?;
        let cached = self.cached.0.as_ref().map_or(Count::Absent, |d| d.cached);
        let cached = match cached.get()? {
            Some(n) => n,
            None => self.cache_hits.get()?.unwrap_or(0),
        };
        let reasoning = self
            .reasoning
            .0
            .as_ref()
            .map_or(Count::Absent, |d| d.reasoning);
        let reasoning = reasoning.get()?.unwrap_or(0);
        let (input, output) = (input?, output?);
        if cached > input || reasoning > output {
            return None;
        }
        Some(Usage {
            input_tokens: input,
            output_tokens: output,
            cached_tokens: cached,
            reasoning_tokens: reasoning,
            source: UsageSource::Provider,
            ..Usage::default()
        })
    }
}

/// `prompt_tokens_details` (its `cached_tokens` is read) or `completion_tokens_details` (its
/// `reasoning_tokens`).
#[derive(Default)]
struct Details {
    cached: Count,
    reasoning: Count,
}

impl<'de> Members<'de> for Details {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "cached_tokens" => self.cached = map.next_value()?,
            "reasoning_tokens" => self.reasoning = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// A token count as [`crate::usage::read_count`] reads it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Count {
    /// Absent or null.
    #[default]
    Absent,
    Plausible(u64),
    /// Anything else: an error for `read_count`.
    Bad,
}

impl Count {
    /// `Some(Ok)` as `read_count` gives it; `None` for its errors.
    fn get(self) -> Option<Option<u64>> {
        match self {
            Count::Absent => Some(None),
            Count::Plausible(n) => Some(Some(n)),
            Count::Bad => None,
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CountVisitor)
    }
}

struct CountVisitor;

fn plausible(v: u64) -> Count {
    if v <= MAX_PLAUSIBLE_TOKENS {
        Count::Plausible(v)
    } else {
        Count::Bad
    }
}

impl<'de> Visitor<'de> for CountVisitor {
    type Value = Count;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_u64<E>(self, v: u64) -> Result<Count, E> {
        Ok(plausible(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Count, E> {
        Ok(u64::try_from(v).map_or(Count::Bad, plausible))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Count, E> {
        Ok(Count::Bad)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Count, E> {
        Ok(Count::Bad)
    }
    fn visit_str<E>(self, _: &str) -> Result<Count, E> {
        Ok(Count::Bad)
    }
    fn visit_unit<E>(self) -> Result<Count, E> {
        Ok(Count::Absent)
    }
    fn visit_none<E>(self) -> Result<Count, E> {
        Ok(Count::Absent)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Count::Bad)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Count::Bad)
    }
}

#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod tests;
