//! Per-request behaviour overrides, read from `x-mock-*` request headers.
//!
//! These apply to every API the mock speaks; see the crate docs for the table.

use std::time::Duration;

use hyper::header::{HeaderMap, HeaderValue};
use hyper::StatusCode;

use crate::usage::{self, CacheWrite, UsageCounts};

/// Longest accepted `x-mock-delay-ms` / `x-mock-chunk-delay-ms`, so a typo
/// cannot hang a test run.
pub const MAX_DELAY_MS: u64 = 60_000;
/// Pause between chunks when `x-mock-chunk-bytes` is set and
/// `x-mock-chunk-delay-ms` is not.
pub const DEFAULT_CHUNK_DELAY: Duration = Duration::from_millis(5);

/// How the usage object of a successful response is produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UsageMode {
    /// Computed from the request by the documented default rules.
    #[default]
    Computed,
    /// No usage object at all (`x-mock-usage: omit`).
    Omit,
    /// Exact numbers (`x-mock-usage: P,C[,CACHED[,REASONING]]`).
    Exact(UsageCounts),
    /// Spliced into the body verbatim, unvalidated (`x-mock-usage-raw`).
    Raw(String),
}

/// All overrides of one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overrides {
    pub usage: UsageMode,
    pub status: Option<StatusCode>,
    pub content_type: Option<HeaderValue>,
    pub delay: Option<Duration>,
    pub chunk_bytes: Option<usize>,
    pub chunk_delay: Option<Duration>,
    pub content: Option<String>,
    /// `x-mock-stream-cut`: drop the connection after this many pieces.
    pub stream_cut: Option<usize>,
    /// `x-mock-cache-write`: prompt tokens reported as written to the cache
    /// (Anthropic only; part of the prompt count).
    pub cache_write: Option<CacheWrite>,
}

/// A malformed `x-mock-*` header: the mock answers 400 naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHeader {
    pub header: &'static str,
    pub reason: String,
}

pub const USAGE: &str = "x-mock-usage";
pub const USAGE_RAW: &str = "x-mock-usage-raw";
pub const STATUS: &str = "x-mock-status";
pub const CONTENT_TYPE: &str = "x-mock-content-type";
pub const DELAY_MS: &str = "x-mock-delay-ms";
pub const CHUNK_BYTES: &str = "x-mock-chunk-bytes";
pub const CHUNK_DELAY_MS: &str = "x-mock-chunk-delay-ms";
pub const CONTENT: &str = "x-mock-content";
pub const STREAM_CUT: &str = "x-mock-stream-cut";
pub const CACHE_WRITE: &str = "x-mock-cache-write";

impl Overrides {
    /// Reads the overrides from request headers.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, BadHeader> {
        let mut o = Overrides::default();
        if let Some(raw) = text(headers, USAGE_RAW) {
            o.usage = UsageMode::Raw(raw);
        } else if let Some(spec) = text(headers, USAGE) {
            o.usage = if spec.trim().eq_ignore_ascii_case("omit") {
                UsageMode::Omit
            } else {
                UsageMode::Exact(usage::parse_exact(&spec).map_err(|reason| BadHeader {
                    header: USAGE,
                    reason,
                })?)
            };
        }
        if let Some(code) = number(headers, STATUS)? {
            o.status = Some(
                u16::try_from(code)
                    .ok()
                    .filter(|c| (200..=599).contains(c))
                    .and_then(|c| StatusCode::from_u16(c).ok())
                    .ok_or_else(|| BadHeader {
                        header: STATUS,
                        reason: format!("{code} is not a status in 200..=599"),
                    })?,
            );
        }
        if let Some(ct) = headers.get(CONTENT_TYPE) {
            o.content_type = Some(ct.clone());
        }
        o.delay = delay(headers, DELAY_MS)?;
        o.chunk_delay = delay(headers, CHUNK_DELAY_MS)?;
        if let Some(n) = number(headers, CHUNK_BYTES)? {
            o.chunk_bytes =
                Some(
                    usize::try_from(n)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| BadHeader {
                            header: CHUNK_BYTES,
                            reason: format!("{n} is not a positive chunk size"),
                        })?,
                );
        }
        o.content = text(headers, CONTENT);
        if let Some(n) = number(headers, STREAM_CUT)? {
            o.stream_cut = Some(usize::try_from(n).map_err(|e| BadHeader {
                header: STREAM_CUT,
                reason: format!("{n} is too large: {e}"),
            })?);
        }
        if let Some(spec) = text(headers, CACHE_WRITE) {
            o.cache_write = Some(usage::parse_cache_write(&spec).map_err(|reason| BadHeader {
                header: CACHE_WRITE,
                reason,
            })?);
        }
        Ok(o)
    }
}

/// The header as text (UTF-8, lossily), if present.
fn text(headers: &HeaderMap, name: &'static str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn number(headers: &HeaderMap, name: &'static str) -> Result<Option<u64>, BadHeader> {
    match text(headers, name) {
        None => Ok(None),
        Some(s) => s.trim().parse::<u64>().map(Some).map_err(|e| BadHeader {
            header: name,
            reason: format!("{s:?} is not a non-negative integer: {e}"),
        }),
    }
}

fn delay(headers: &HeaderMap, name: &'static str) -> Result<Option<Duration>, BadHeader> {
    match number(headers, name)? {
        Some(ms) if ms > MAX_DELAY_MS => Err(BadHeader {
            header: name,
            reason: format!("{ms} exceeds the maximum of {MAX_DELAY_MS} ms"),
        }),
        other => Ok(other.map(Duration::from_millis)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn none_means_defaults() {
        assert_eq!(
            Overrides::from_headers(&HeaderMap::new()),
            Ok(Overrides::default())
        );
    }

    #[test]
    fn parses_everything() {
        let o = Overrides::from_headers(&headers(&[
            (USAGE, "3,4,1,2"),
            (STATUS, "429"),
            (CONTENT_TYPE, "text/plain"),
            (DELAY_MS, "10"),
            (CHUNK_BYTES, "7"),
            (CONTENT, "hi there"),
            (STREAM_CUT, "3"),
            (CACHE_WRITE, "5,6"),
        ]));
        let o = o.unwrap();
        assert_eq!(
            o.usage,
            UsageMode::Exact(UsageCounts {
                prompt: 3,
                completion: 4,
                cached: 1,
                reasoning: 2
            })
        );
        assert_eq!(o.status, Some(StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(o.content_type, Some(HeaderValue::from_static("text/plain")));
        assert_eq!(o.delay, Some(Duration::from_millis(10)));
        assert_eq!(o.chunk_bytes, Some(7));
        assert_eq!(o.content.as_deref(), Some("hi there"));
        assert_eq!(o.stream_cut, Some(3));
        assert_eq!(
            o.cache_write,
            Some(CacheWrite {
                ttl_5m: 5,
                ttl_1h: 6
            })
        );
    }

    #[test]
    fn raw_wins_and_omit() {
        let o = Overrides::from_headers(&headers(&[(USAGE, "1,2"), (USAGE_RAW, "{\"x\":-1}")]));
        assert_eq!(o.unwrap().usage, UsageMode::Raw("{\"x\":-1}".into()));
        let o = Overrides::from_headers(&headers(&[(USAGE, " OMIT ")]));
        assert_eq!(o.unwrap().usage, UsageMode::Omit);
    }

    #[test]
    fn rejects_malformed() {
        for (name, value) in [
            (USAGE, "1"),
            (STATUS, "abc"),
            (STATUS, "99"),
            (STATUS, "700"),
            (DELAY_MS, "-5"),
            (DELAY_MS, "60001"),
            (CHUNK_BYTES, "0"),
            (STREAM_CUT, "-1"),
            (CACHE_WRITE, "1,2,3"),
        ] {
            let err = Overrides::from_headers(&headers(&[(name, value)])).unwrap_err();
            assert_eq!(err.header, name, "{name}: {value}");
        }
    }
}
