//! The members of a `chat.completion.chunk` (or legacy `text_completion`) object the stream
//! meter reads, taken in one pass without a `Value` tree (see [`crate::providers::json_view`]).

use crate::providers::json_view::{List, Members, NotNull, Object, Skip, Str, U64};
use serde::de::MapAccess;
use serde_json::Value;

/// A chunk object: `error` and `usage` as values (small, and rare but for one chunk), the rest
/// as the meter reads it.
#[derive(Default)]
pub(super) struct Chunk<'a> {
    pub error: Option<Value>,
    pub model: Str<'a>,
    pub service_tier: Str<'a>,
    pub usage: Option<Value>,
    pub choices: List<Object<Choice<'a>>>,
}

impl<'de> Members<'de> for Chunk<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "error" => self.error = Some(map.next_value()?),
            "model" => self.model = map.next_value()?,
            "service_tier" => self.service_tier = map.next_value()?,
            "usage" => self.usage = Some(map.next_value()?),
            "choices" => self.choices = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
pub(super) struct Choice<'a> {
    pub index: U64,
    pub finish_reason: Str<'a>,
    pub text: Str<'a>,
    pub delta: Object<Delta<'a>>,
}

impl<'de> Members<'de> for Choice<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "index" => self.index = map.next_value()?,
            "finish_reason" => self.finish_reason = map.next_value()?,
            "text" => self.text = map.next_value()?,
            "delta" => self.delta = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
pub(super) struct Delta<'a> {
    pub content: Str<'a>,
    pub refusal: Str<'a>,
    pub function_call: Object<Function<'a>>,
    pub tool_calls: List<Object<ToolCall<'a>>>,
}

impl<'de> Members<'de> for Delta<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "content" => self.content = map.next_value()?,
            "refusal" => self.refusal = map.next_value()?,
            "function_call" => self.function_call = map.next_value()?,
            "tool_calls" => self.tool_calls = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// A `function_call`, or a tool call's `function`.
#[derive(Default)]
pub(super) struct Function<'a> {
    pub name: Str<'a>,
    pub arguments: Str<'a>,
}

impl<'de> Members<'de> for Function<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "name" => self.name = map.next_value()?,
            "arguments" => self.arguments = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
pub(super) struct ToolCall<'a> {
    pub index: U64,
    pub function: Object<Function<'a>>,
}

impl<'de> Members<'de> for ToolCall<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "index" => self.index = map.next_value()?,
            "function" => self.function = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// What [`super::is_usage_only_chunk`] reads: whether `choices` is an array and how long, and
/// whether `usage` is present and not null.
#[derive(Default)]
pub(super) struct UsageOnly {
    pub choices: List<Skip>,
    pub usage: NotNull,
}

impl<'de> Members<'de> for UsageOnly {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "choices" => self.choices = map.next_value()?,
            "usage" => self.usage = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}
