//! Who is spending: the tenant (a configured header, else a salted hash of the API key, else the
//! default) and free-form attributes from configured headers. A raw API key never leaves this
//! module: only its hash is returned.

use crate::config::Config;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSource {
    Header,
    ApiKey,
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub tenant: String,
    pub source: TenantSource,
    /// (attribute name, value) for the configured attributes present on the request.
    pub attributes: Vec<(String, String)>,
}

/// Longest tenant or attribute value kept; longer values are cut.
pub const MAX_VALUE_LEN: usize = 128;

/// Resolves the attribution of a request from its headers (`header(name)` returns the value of a
/// lower-case header name, if present).
pub fn attribute(cfg: &Config, mut header: impl FnMut(&str) -> Option<Vec<u8>>) -> Attribution {
    let from_header = cfg
        .tenant
        .header
        .as_deref()
        .and_then(&mut header)
        .and_then(|v| clean_value(&v));
    let (tenant, source) = match from_header {
        Some(t) => (t, TenantSource::Header),
        None => match if cfg.tenant.from_api_key {
            api_key(&mut header)
        } else {
            None
        } {
            Some(key) => (
                api_key_tenant(&cfg.tenant.api_key_salt, &key),
                TenantSource::ApiKey,
            ),
            None => (cfg.tenant.default.clone(), TenantSource::Default),
        },
    };
    let attributes = cfg
        .attributes
        .iter()
        .filter_map(|(name, h)| {
            header(h)
                .and_then(|v| clean_value(&v))
                .map(|v| (name.clone(), v))
        })
        .collect();
    Attribution {
        tenant,
        source,
        attributes,
    }
}

/// The API key from `Authorization: Bearer …` or `x-api-key`.
fn api_key(header: &mut impl FnMut(&str) -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    let bearer = header("authorization").and_then(|v| {
        let v = v.trim_ascii();
        let scheme = v
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"bearer "));
        scheme.then(|| v.get(7..).unwrap_or_default().trim_ascii().to_vec())
    });
    bearer
        .or_else(|| header("x-api-key").map(|v| v.trim_ascii().to_vec()))
        .filter(|k| !k.is_empty())
}

/// `key-` and the first 12 hex digits of SHA-256(salt ‖ 0x00 ‖ key): stable per key, short, and
/// not reversible to the key.
pub fn api_key_tenant(salt: &str, key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(key);
    let digest = h.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(16);
    out.push_str("key-");
    for b in digest.iter().take(6) {
        for nibble in [b >> 4, b & 0xf] {
            out.push(char::from(
                HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// A header value as a tenant or attribute value: trimmed, visible ASCII only (others become
/// `_`), at most [`MAX_VALUE_LEN`] bytes; empty means absent.
pub fn clean_value(raw: &[u8]) -> Option<String> {
    let v: String = raw
        .trim_ascii()
        .iter()
        .take(MAX_VALUE_LEN)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '_' })
        .collect();
    (!v.is_empty()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn cfg(json: &str) -> Config {
        Config::parse(json.as_bytes()).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<Vec<u8>> {
        let map: HashMap<String, Vec<u8>> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn header_wins_then_key_then_default() {
        let c = cfg(r#"{"tenant": {"header": "x-tenant-id", "api_key_salt": "s"}}"#);
        let a = attribute(
            &c,
            headers(&[("x-tenant-id", " acme "), ("authorization", "Bearer sk-1")]),
        );
        assert_eq!(
            (a.tenant.as_str(), a.source),
            ("acme", TenantSource::Header)
        );
        let a = attribute(&c, headers(&[("authorization", "Bearer sk-secret-1")]));
        assert_eq!(a.source, TenantSource::ApiKey);
        assert_eq!(a.tenant, api_key_tenant("s", b"sk-secret-1"));
        let a = attribute(&c, headers(&[]));
        assert_eq!(
            (a.tenant.as_str(), a.source),
            ("anonymous", TenantSource::Default)
        );
    }

    #[test]
    fn key_hash_is_salted_short_and_hides_the_key() {
        let t = api_key_tenant("salt", b"sk-abcdef");
        assert_eq!(t.len(), 4 + 12);
        assert!(t.starts_with("key-") && t[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!t.contains("abcdef"));
        assert_ne!(t, api_key_tenant("other-salt", b"sk-abcdef"));
        assert_eq!(t, api_key_tenant("salt", b"sk-abcdef"));
        // SHA-256("salt\0sk-abcdef") computed independently with Python's hashlib.
        assert_eq!(t, "key-66b4e1e06d78");
    }

    #[test]
    fn x_api_key_and_case_insensitive_bearer() {
        let c = cfg(r#"{"tenant": {"api_key_salt": "s"}}"#);
        let a = attribute(&c, headers(&[("x-api-key", "sk-ant-1")]));
        assert_eq!(a.tenant, api_key_tenant("s", b"sk-ant-1"));
        let b = attribute(&c, headers(&[("authorization", "bearer sk-ant-1")]));
        assert_eq!(a.tenant, b.tenant);
        let none = attribute(&c, headers(&[("authorization", "Basic abc")]));
        assert_eq!(none.source, TenantSource::Default);
    }

    #[test]
    fn from_api_key_can_be_disabled() {
        let c = cfg(r#"{"tenant": {"from_api_key": false, "default": "shared"}}"#);
        let a = attribute(&c, headers(&[("authorization", "Bearer sk-1")]));
        assert_eq!(a.tenant, "shared");
    }

    #[test]
    fn attributes_are_cleaned_and_cut() {
        let c =
            cfg(r#"{"attributes": {"team": "x-team", "feature": "x-feature", "task": "x-task"}}"#);
        let long = "a".repeat(500);
        let a = attribute(
            &c,
            headers(&[
                ("x-team", "search ranking"),
                ("x-feature", &long),
                ("x-task", "  "),
            ]),
        );
        assert_eq!(
            a.attributes,
            vec![
                ("feature".to_string(), "a".repeat(MAX_VALUE_LEN)),
                ("team".to_string(), "search_ranking".to_string()),
            ]
        );
    }
}
