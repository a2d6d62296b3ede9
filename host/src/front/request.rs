//! Turning a client's request head into what the filter sees, and header hygiene shared by
//! both directions.

use super::http1::{BodyDecoder, RequestHead};
use crate::HeaderMap;

/// Connection-level headers that are never forwarded (RFC 9110 §7.6.1).
pub(crate) fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection" | "keep-alive" | "transfer-encoding" | "te" | "upgrade" | "trailer"
    ) || name.starts_with("proxy-")
}

/// Splits a comma-separated header value into lower-cased tokens.
pub(crate) fn tokens(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
}

/// Header pairs minus hop-by-hop ones and the ones `connection` names.
pub(crate) fn end_to_end<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    let headers: Vec<(&str, &str)> = headers.into_iter().collect();
    let named: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| tokens(v).collect::<Vec<_>>())
        .collect();
    headers
        .into_iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !hop_by_hop(&k) && !named.contains(&k)
        })
        .collect()
}

/// A request as the filter gets it, and how the client wants the exchange handled.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub headers: HeaderMap,
    /// How the body is framed; `None`: no body.
    pub body: Option<BodyDecoder>,
    pub method: String,
    pub path: String,
    pub http10: bool,
    /// The client accepts trailers (`TE: trailers`).
    pub te_trailers: bool,
    /// The client asked to close the connection after this exchange.
    pub close: bool,
    /// `Expect: 100-continue`: Envoy answers `100 Continue` itself and drops the header.
    pub expect_continue: bool,
}

/// Rejections Envoy's HTTP/1 codec answers before any filter runs.
pub(crate) type Reject = (u16, &'static str);

pub(crate) fn prepare(head: RequestHead) -> Result<Prepared, Reject> {
    let get_all = |name: &str| -> Vec<&str> {
        head.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let http10 = head.minor == 0;
    let te: Vec<String> = get_all("transfer-encoding")
        .into_iter()
        .flat_map(|v| tokens(v).collect::<Vec<_>>())
        .collect();
    let lengths = get_all("content-length");
    let body = if !te.is_empty() {
        if te.last().map(String::as_str) != Some("chunked") {
            return Err((501, "unsupported transfer encoding"));
        }
        if !lengths.is_empty() {
            return Err((400, "content-length and transfer-encoding"));
        }
        Some(BodyDecoder::chunked())
    } else if let Some(first) = lengths.first() {
        let n: u64 = first
            .parse()
            .ok()
            .filter(|_| first.bytes().all(|b| b.is_ascii_digit()))
            .ok_or((400, "bad content-length"))?;
        if lengths.iter().any(|l| l != first) {
            return Err((400, "conflicting content-length"));
        }
        (n > 0).then_some(BodyDecoder::Length(n))
    } else {
        None
    };
    let connection: Vec<String> = get_all("connection")
        .into_iter()
        .flat_map(|v| tokens(v).collect::<Vec<_>>())
        .collect();
    let te_trailers = get_all("te")
        .into_iter()
        .any(|v| tokens(v).any(|t| t == "trailers"));
    let expect_continue = get_all("expect")
        .into_iter()
        .any(|v| v.eq_ignore_ascii_case("100-continue"));

    // Absolute-form targets carry the authority themselves.
    let (authority, path) = match head.target.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => (Some(rest[..i].to_owned()), rest[i..].to_owned()),
            None => (Some(rest.to_owned()), "/".to_owned()),
        },
        None => (None, head.target.clone()),
    };
    let authority = match authority.or_else(|| get_all("host").first().map(|h| h.to_string())) {
        Some(a) => a,
        None if http10 => String::new(),
        None => return Err((400, "missing host header")),
    };

    let mut headers = HeaderMap::new();
    headers.add(":authority", &authority);
    headers.add(":path", &path);
    headers.add(":method", &head.method);
    let pairs = head.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    for (k, v) in end_to_end(pairs) {
        if k != "host" && k != "expect" {
            headers.add(k, v);
        }
    }
    Ok(Prepared {
        headers,
        body,
        method: head.method,
        path,
        http10,
        te_trailers,
        close: connection.iter().any(|t| t == "close") || http10,
        expect_continue,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(target: &str, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "POST".into(),
            target: target.into(),
            minor: 1,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_filter_sees_pseudo_headers_and_no_hop_by_hop_ones() {
        let p = prepare(head(
            "/v1/chat?x=1",
            &[
                ("host", "api:8"),
                ("connection", "keep-alive, x-hop"),
                ("x-hop", "1"),
                ("te", "trailers"),
                ("transfer-encoding", "chunked"),
                ("expect", "100-continue"),
                ("x-tenant-id", "acme"),
            ],
        ))
        .unwrap();
        let names: Vec<&str> = p.headers.iter().map(|(k, _)| k).collect();
        assert_eq!(names, [":authority", ":path", ":method", "x-tenant-id"]);
        assert_eq!(p.headers.get(":authority"), Some("api:8"));
        assert_eq!(p.headers.get(":path"), Some("/v1/chat?x=1"));
        assert!(p.te_trailers && p.expect_continue && !p.close);
        assert!(matches!(p.body, Some(BodyDecoder::Chunked { .. })));
    }

    #[test]
    fn framing_errors_are_rejected_like_envoy() {
        let bad = |h: &[(&str, &str)]| prepare(head("/", h)).map(|_| ()).unwrap_err().0;
        assert_eq!(bad(&[("host", "h"), ("transfer-encoding", "gzip")]), 501);
        assert_eq!(
            bad(&[
                ("host", "h"),
                ("transfer-encoding", "chunked"),
                ("content-length", "3")
            ]),
            400
        );
        assert_eq!(bad(&[("host", "h"), ("content-length", "-1")]), 400);
        assert_eq!(bad(&[("content-length", "1")]), 400);
        let p = prepare(head("http://up:1/a", &[("content-length", "0")])).unwrap();
        assert_eq!(p.headers.get(":authority"), Some("up:1"));
        assert!(p.body.is_none());
    }
}
