//! The common case of a Chat Completions (or legacy Completions) response read in one pass,
//! without a `Value` tree: a JSON object whose `usage` is usable. Anything else (no usage, a
//! malformed one, a body that is not a JSON object) is left to the full reading, which
//! estimates or explains; where this gives an answer, it is the one the full reading gives.

use super::{choices_finish_of, provider_usage};
use crate::providers::json_view::{List, Members, NotNull, Object, Skip, Str};
use crate::providers::ResponseInfo;
use serde::de::MapAccess;
use serde_json::Value;

#[derive(Default)]
struct Response<'a> {
    model: Str<'a>,
    service_tier: Str<'a>,
    usage: Option<Value>,
    error: NotNull,
    choices: List<Object<Choice<'a>>>,
}

impl<'de> Members<'de> for Response<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "model" => self.model = map.next_value()?,
            "service_tier" => self.service_tier = map.next_value()?,
            "usage" => self.usage = Some(map.next_value()?),
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
    let usage = provider_usage(resp.usage.as_ref().filter(|u| !u.is_null())?).ok()?;
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

#[cfg(test)]
mod tests;
