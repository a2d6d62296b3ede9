//! Plugin configuration: the raw JSON document (serde, unknown fields rejected) compiled once in
//! `on_configure` into an immutable, validated [`Config`] shared by every HTTP context. Every
//! error names the field it is about, as a path (`prices.gpt-4o.input`).

use crate::pricing::PriceTable;
use crate::route::PathGlob;
use crate::tokens::Encoding;
use std::fmt;

mod budgets;
mod prices;
mod raw;
pub use budgets::{glob_match, usd_text, Budgets, LoopRule, Policy, RunRule, SpikeConfig};
use raw::{FailMode, RawConfig, RawRoute, RawTenant};

/// Which provider a route fronts; the API within it is found from the path
/// ([`crate::providers::detect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// OpenAI and OpenAI-compatible servers.
    OpenAi,
    Azure,
    Anthropic,
    /// Google Gemini API and Vertex AI.
    Gemini,
    Bedrock,
}

impl Provider {
    pub const ALL: [Provider; 5] = [
        Provider::OpenAi,
        Provider::Azure,
        Provider::Anthropic,
        Provider::Gemini,
        Provider::Bedrock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Azure => "azure",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gemini",
            Provider::Bedrock => "bedrock",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    pub path: PathGlob,
    /// `:authority` to match exactly (port ignored), or any host.
    pub host: Option<String>,
    /// `None`: detect the provider from the path (`auto`).
    pub provider: Option<Provider>,
}

#[derive(Debug, Clone)]
pub struct TenantConfig {
    pub header: Option<String>,
    pub from_api_key: bool,
    pub api_key_salt: String,
    pub default: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub routes: Vec<Route>,
    pub tenant: TenantConfig,
    /// (attribute name, request header), sorted by name.
    pub attributes: Vec<(String, String)>,
    /// Envoy ≥1.35 `allow_on_headers_stop_iteration`: response headers may wait for the body,
    /// so results are stamped as response headers instead of trailers.
    pub headers_wait_for_body: bool,
    pub header_prefix: String,
    pub upstream_headers: bool,
    /// End a metered SSE stream with a `: tollbooth {…}` comment line.
    pub sse_comment: bool,
    /// Property path for the filter state (Envoy key `wasm.<name>`); `None` disables it.
    pub filter_state: Option<String>,
    pub metrics_prefix: String,
    pub max_tenants: usize,
    pub max_models: usize,
    pub default_encoding: Encoding,
    pub encoding_overrides: Vec<(String, Encoding)>,
    /// The built-in table (unless `default_prices` is false), overridden per model by
    /// `litellm_prices`, then by `prices`.
    pub prices: PriceTable,
    /// The `as_of` date (`YYYY-MM-DD`) of the built-in table, when it is used.
    pub prices_as_of: Option<String>,
    /// Azure OpenAI deployment name → model name, for pricing and tokenizing.
    pub azure_deployments: Vec<(String, String)>,
    pub max_body_bytes: usize,
    /// Most the filter holds back with `Pause` (fail-closed request bodies, response bodies
    /// held for header stamping). Envoy fails a stream whose held data passes its
    /// `per_connection_buffer_limit_bytes` (default 1 MiB), so this must not exceed it.
    pub buffer_limit_bytes: usize,
    /// Most body bytes one VM copies at once, over all its streams.
    pub max_copied_bytes_per_vm: usize,
    pub fail_closed: bool,
    /// Budgets enforced on requests; `None` meters only.
    pub budgets: Option<Budgets>,
}

impl Config {
    /// The most body the filter may hold back at once.
    pub fn hold_limit(&self) -> usize {
        self.max_body_bytes.min(self.buffer_limit_bytes)
    }
}

/// A rejected configuration: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration: field `{}`: {}",
            self.field, self.message
        )
    }
}

fn err(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Envoy's default `per_connection_buffer_limit_bytes`.
pub const DEFAULT_BUFFER_LIMIT_BYTES: usize = 1024 * 1024;
pub const DEFAULT_MAX_COPIED_BYTES_PER_VM: usize = 64 * 1024 * 1024;
const MAX_MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;
pub const DEFAULT_ROUTE: &str = "/**";

impl Config {
    /// Parses and validates the plugin configuration. An empty document means all defaults.
    pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}".as_slice()
        } else {
            bytes
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let raw: RawConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "(document)".to_string()
            } else {
                path
            };
            err(field, e.inner().to_string())
        })?;
        compile(raw)
    }

    /// The route a request belongs to, if it is LLM traffic.
    pub fn route(&self, path: &str, authority: Option<&str>) -> Option<&Route> {
        let host = authority.map(authority_host);
        self.routes.iter().find(|r| {
            r.path.matches(path)
                && r.host
                    .as_deref()
                    .is_none_or(|want| host.is_some_and(|h| h.eq_ignore_ascii_case(want)))
        })
    }
}

fn compile(raw: RawConfig) -> Result<Config, ConfigError> {
    let routes = compile_routes(raw.routes)?;
    if raw.fail_mode == FailMode::Closed {
        // Detection goes by path alone: under a catch-all route, another service's POST to a
        // path that merely ends like an LLM endpoint (`/api/v1/messages`) would be refused.
        if let Some(i) = routes
            .iter()
            .position(|r| r.path.is_catch_all() && r.host.is_none() && r.provider.is_none())
        {
            return Err(err(
                "fail_mode",
                format!(
                    "`closed` needs routes that cover only LLM traffic, but routes[{i}] (the default when none are given) is `/**` with no host and no provider: give it a host, a provider, or narrower paths"
                ),
            ));
        }
    }
    let tenant = compile_tenant(raw.tenant)?;
    let mut attributes = Vec::new();
    for (name, header) in raw.attributes {
        let field = format!("attributes.{name}");
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(err(field, "attribute names use a-z, 0-9, '_' and '-'"));
        }
        if name == "tenant" {
            return Err(err(
                field,
                "`tenant` is reserved (it would overwrite the tenant header)",
            ));
        }
        attributes.push((name, value_header(&field, &header)?));
    }
    let header_prefix = raw.stamp.header_prefix.to_ascii_lowercase();
    if header_prefix.is_empty() || !header_prefix.bytes().all(is_token_char) {
        return Err(err(
            "stamp.header_prefix",
            "must be non-empty and contain only header-name characters",
        ));
    }
    let filter_state = match raw.stamp.filter_state.as_str() {
        "" => None,
        name if name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') =>
        {
            Some(name.to_string())
        }
        _ => {
            return Err(err(
                "stamp.filter_state",
                "use letters, digits, '_', '-' and '.'",
            ))
        }
    };
    let metrics_prefix = raw.metrics.prefix;
    if metrics_prefix.is_empty()
        || !metrics_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(err(
            "metrics.prefix",
            "must be non-empty and use letters, digits and '_'",
        ));
    }
    if !(1..=10_000).contains(&raw.metrics.max_tenants) {
        return Err(err("metrics.max_tenants", "must be between 1 and 10000"));
    }
    if !(1..=10_000).contains(&raw.metrics.max_models) {
        return Err(err("metrics.max_models", "must be between 1 and 10000"));
    }
    let default_encoding = raw
        .tokenizer
        .default_encoding
        .parse()
        .map_err(|m: String| err("tokenizer.default_encoding", m))?;
    let mut encoding_overrides = Vec::new();
    for (model, enc) in raw.tokenizer.models {
        let enc = enc
            .parse()
            .map_err(|m: String| err(format!("tokenizer.models.{model}"), m))?;
        encoding_overrides.push((model, enc));
    }
    let (prices, prices_as_of) =
        prices::compile(raw.prices, &raw.litellm_prices, raw.default_prices)?;
    let max_body_bytes = byte_limit(
        "max_body_bytes",
        raw.max_body_bytes,
        DEFAULT_MAX_BODY_BYTES,
        MAX_MAX_BODY_BYTES,
    )?;
    let max_copied_bytes_per_vm = byte_limit(
        "max_copied_bytes_per_vm",
        raw.max_copied_bytes_per_vm,
        DEFAULT_MAX_COPIED_BYTES_PER_VM,
        1 << 30,
    )?;
    let buffer_limit_bytes = byte_limit(
        "buffer_limit_bytes",
        raw.buffer_limit_bytes,
        DEFAULT_BUFFER_LIMIT_BYTES,
        MAX_MAX_BODY_BYTES,
    )?;
    let budgets = raw
        .budgets
        .map(|b| budgets::compile(b, &attributes))
        .transpose()?;
    Ok(Config {
        routes,
        tenant,
        attributes,
        headers_wait_for_body: raw.allow_on_headers_stop_iteration,
        header_prefix,
        upstream_headers: raw.stamp.upstream_headers,
        sse_comment: raw.stamp.sse_comment,
        filter_state,
        metrics_prefix,
        max_tenants: usize::try_from(raw.metrics.max_tenants).unwrap_or(100),
        max_models: usize::try_from(raw.metrics.max_models).unwrap_or(200),
        default_encoding,
        encoding_overrides,
        prices,
        prices_as_of,
        azure_deployments: raw.azure.deployments.into_iter().collect(),
        max_body_bytes,
        buffer_limit_bytes,
        max_copied_bytes_per_vm,
        fail_closed: raw.fail_mode == FailMode::Closed,
        budgets,
    })
}

fn byte_limit(
    field: &str,
    value: Option<u64>,
    default: usize,
    max: u64,
) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(usize::try_from(n).unwrap_or(default)),
        Some(_) => Err(err(field, format!("must be between 1 and {max}"))),
    }
}

fn compile_routes(raw: Option<Vec<RawRoute>>) -> Result<Vec<Route>, ConfigError> {
    let raw = raw.unwrap_or_else(|| {
        vec![RawRoute {
            path: DEFAULT_ROUTE.into(),
            host: None,
            provider: None,
        }]
    });
    if raw.is_empty() {
        return Err(err("routes", "needs at least one route"));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let path = PathGlob::parse(&r.path).map_err(|m| err(format!("routes[{i}].path"), m))?;
            let provider = match r.provider.as_deref() {
                None | Some("auto") => None,
                Some(name) => match Provider::ALL.into_iter().find(|p| p.as_str() == name) {
                    Some(p) => Some(p),
                    None => {
                        return Err(err(
                            format!("routes[{i}].provider"),
                            format!("unknown provider `{name}` (known: auto, openai, azure, anthropic, gemini, bedrock)"),
                        ))
                    }
                },
            };
            let host = r.host.map(|h| h.to_ascii_lowercase());
            Ok(Route {
                path,
                host,
                provider,
            })
        })
        .collect()
}

fn compile_tenant(raw: RawTenant) -> Result<TenantConfig, ConfigError> {
    let header = raw
        .header
        .map(|h| value_header("tenant.header", &h))
        .transpose()?;
    if raw.default.is_empty()
        || raw.default.len() > 128
        || !raw.default.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(err(
            "tenant.default",
            "must be 1 to 128 visible ASCII characters",
        ));
    }
    Ok(TenantConfig {
        header,
        from_api_key: raw.from_api_key,
        api_key_salt: raw.api_key_salt.unwrap_or_default(),
        default: raw.default,
    })
}

/// The host part of an `:authority`: without the port, IPv6 brackets kept (`[::1]:8080`).
fn authority_host(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .and_then(|i| authority.get(..=i))
            .unwrap_or(authority);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// RFC 9110 token characters, as allowed in header names.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn header_name(field: &str, name: &str) -> Result<String, ConfigError> {
    if name.is_empty() || !name.bytes().all(is_token_char) {
        return Err(err(field, format!("`{name}` is not a valid header name")));
    }
    Ok(name.to_ascii_lowercase())
}

/// Headers that carry credentials: their values must never become a tenant or attribute
/// (they would be stamped, logged and forwarded).
const CREDENTIAL_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
    "set-cookie",
];

/// A header whose value the filter may stamp: valid, and not a credential.
fn value_header(field: &str, name: &str) -> Result<String, ConfigError> {
    let name = header_name(field, name)?;
    if CREDENTIAL_HEADERS.contains(&name.as_str()) {
        return Err(err(
            field,
            format!("`{name}` carries credentials; its value would be stamped and logged"),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests;
