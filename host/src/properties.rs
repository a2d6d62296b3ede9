//! `proxy_get_property`: Envoy's attributes (`Context::getProperty`/`findValue` in
//! `source/extensions/common/wasm/context.cc`, wrappers in
//! `source/extensions/filters/common/expr/context.cc`).
//!
//! The path is NUL-separated segments. Values are encoded as Envoy's `serializeValue` does:
//! strings as bytes, integers as 8-byte little-endian, booleans as one byte, timestamps and
//! durations as int64 nanoseconds, maps as proxy-wasm pairs, messages as protobuf.
//!
//! As in Envoy, request attributes that come from the request headers (`request.path`,
//! `.method`, `.headers`, `.id`, ...) exist only while the filter holds the request headers
//! (`request_headers_` is set) or in `proxy_on_log`; once the headers were released they are
//! `NotFound`. The same goes for response headers.

use crate::headers::{serialize_pairs, HeaderMap};
use crate::status;
use crate::stream::{Half, HeadersPhase, HttpStream};
use crate::vm::VmState;

enum V {
    Str(String),
    Bytes(Vec<u8>),
    I64(i64),
    U64(u64),
    Bool(bool),
    Map(Vec<(String, V)>),
    /// A protobuf message: its fields for navigation, its encoding for the whole.
    Msg(Vec<(String, V)>, Vec<u8>),
}

impl V {
    fn encode(self) -> Vec<u8> {
        match self {
            V::Str(s) => s.into_bytes(),
            V::Bytes(b) | V::Msg(_, b) => b,
            V::I64(i) => i.to_le_bytes().to_vec(),
            V::U64(u) => u.to_le_bytes().to_vec(),
            V::Bool(b) => vec![u8::from(b)],
            V::Map(m) => {
                let pairs: Vec<(String, Vec<u8>)> =
                    m.into_iter().map(|(k, v)| (k, v.encode())).collect();
                serialize_pairs(&pairs)
            }
        }
    }

    fn field(self, key: &str) -> Option<V> {
        match self {
            V::Map(m) | V::Msg(m, _) => m.into_iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Resolves a property for the context hostcalls act on; `Err` is a proxy-wasm status.
pub(crate) fn get(st: &VmState, path: &[u8]) -> Result<Vec<u8>, u32> {
    if path.is_empty() {
        return Err(status::SERIALIZATION_FAILURE);
    }
    let segments: Vec<String> = path
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let stream = st.stream();
    if let Some(s) = stream {
        if let Some(v) = s.info.extra.get(&segments.join(".")) {
            return Ok(v.clone());
        }
    }
    let mut it = segments.iter();
    let first = it.next().ok_or(status::NOT_FOUND)?;
    let mut value = top(st, stream, first).ok_or(status::NOT_FOUND)?;
    for seg in it {
        value = value.field(seg).ok_or(status::NOT_FOUND)?;
    }
    Ok(value.encode())
}

fn top(st: &VmState, s: Option<&HttpStream>, name: &str) -> Option<V> {
    let opts = &st.shared.opts;
    match name {
        "plugin_name" => return Some(V::Str(opts.plugin_name.clone())),
        "plugin_root_id" => return Some(V::Str(opts.root_id.clone())),
        "plugin_vm_id" => return Some(V::Str(opts.vm_id.clone())),
        "node" => return Some(node(st)),
        "xds" => {
            let mut m = vec![("node".to_owned(), node(st))];
            if let Some(s) = s {
                m.extend(
                    s.info
                        .cluster_name
                        .clone()
                        .map(|c| ("cluster_name".to_owned(), V::Str(c))),
                );
                m.extend(
                    s.info
                        .route_name
                        .clone()
                        .map(|r| ("route_name".to_owned(), V::Str(r))),
                );
            }
            return Some(V::Map(m));
        }
        _ => {}
    }
    let s = s?;
    Some(match name {
        "request" => request(s),
        "response" => response(s),
        "source" => peer(&s.info.source),
        "destination" => peer(&s.info.destination),
        "upstream" if s.req.out_headers.is_some() => peer(&s.info.upstream),
        "connection" => V::Map(vec![
            ("id".to_owned(), V::U64(s.connection_id)),
            ("mtls".to_owned(), V::Bool(false)),
            ("requested_server_name".to_owned(), V::Str(String::new())),
        ]),
        "connection_id" => V::U64(s.connection_id),
        "cluster_name" => V::Str(s.info.cluster_name.clone()?),
        "route_name" => V::Str(s.info.route_name.clone()?),
        "filter_state" => V::Map(
            s.filter_state
                .iter()
                .map(|(k, v)| (k.clone(), V::Bytes(v.clone())))
                .collect(),
        ),
        // Anything else is looked up as filter state `wasm.<name>` (a CelState of bytes).
        other => V::Bytes(s.filter_state.get(&format!("wasm.{other}"))?.clone()),
    })
}

/// The headers Envoy's activation sees: held by the filter, or the final ones in `on_log`.
fn visible<'a>(
    s: &'a HttpStream,
    h: &'a Half,
    final_map: Option<&'a HeaderMap>,
) -> Option<&'a HeaderMap> {
    if h.headers_access {
        Some(&h.headers)
    } else if s.log_phase {
        final_map
    } else {
        None
    }
}

fn request(s: &HttpStream) -> V {
    let received = (s.req.phase != HeadersPhase::None).then_some(&s.req.headers);
    let headers = visible(s, &s.req, s.req.out_headers.as_ref().or(received));
    let mut m: Vec<(String, V)> = Vec::new();
    let mut put = |k: &str, v: Option<V>| {
        if let Some(v) = v {
            m.push((k.to_owned(), v));
        }
    };
    let hdr = |name: &str| {
        headers
            .and_then(|h| h.get(name))
            .map(|v| V::Str(v.to_owned()))
    };
    put("path", hdr(":path"));
    let path = headers.and_then(|h| h.get(":path")).unwrap_or_default();
    if headers.is_some() {
        put(
            "url_path",
            Some(V::Str(
                path.split('?').next().unwrap_or_default().to_owned(),
            )),
        );
        let query = path
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or_default())
            .unwrap_or_default();
        put("query", Some(V::Str(query.to_owned())));
    }
    put("host", hdr(":authority"));
    put("scheme", hdr(":scheme"));
    put("method", hdr(":method"));
    put("referer", hdr("referer"));
    put("useragent", hdr("user-agent"));
    put("id", hdr("x-request-id"));
    put("headers", Some(header_map(headers)));
    put("time", Some(V::I64(s.start_ns as i64)));
    put("protocol", Some(V::Str(s.info.protocol.clone())));
    put(
        "duration",
        s.end_ns
            .map(|e| V::I64(e.saturating_sub(s.start_ns) as i64)),
    );
    let content_length = headers
        .and_then(|h| h.get("content-length"))
        .and_then(|v| v.parse::<i64>().ok());
    put(
        "size",
        Some(V::I64(content_length.unwrap_or(s.req.bytes_in as i64))),
    );
    let header_bytes = headers.map(HeaderMap::byte_size).unwrap_or(0);
    put(
        "total_size",
        Some(V::I64((s.req.bytes_in + header_bytes) as i64)),
    );
    put("headers_bytes", Some(V::I64(header_bytes as i64)));
    V::Map(m)
}

fn response(s: &HttpStream) -> V {
    let headers = visible(s, &s.resp, s.resp.out_headers.as_ref());
    let trailers = if s.resp.trailers_access {
        s.resp.trailers.as_ref()
    } else if s.log_phase {
        s.resp.out_trailers.as_ref()
    } else {
        None
    };
    let mut m: Vec<(String, V)> = Vec::new();
    if let Some(code) = s.response_code {
        m.push(("code".to_owned(), V::I64(i64::from(code))));
    }
    if let Some(d) = &s.response_code_details {
        m.push(("code_details".to_owned(), V::Str(d.clone())));
    }
    let grpc = trailers
        .and_then(|t| t.get("grpc-status"))
        .or_else(|| headers.and_then(|h| h.get("grpc-status")));
    if let Some(g) = grpc.and_then(|g| g.parse::<i64>().ok()) {
        m.push(("grpc_status".to_owned(), V::I64(g)));
    }
    let sent = s.resp.taken.body + s.resp.out_body.len();
    let hb = headers.map(HeaderMap::byte_size).unwrap_or(0);
    let tb = trailers.map(HeaderMap::byte_size).unwrap_or(0);
    m.push(("headers".to_owned(), header_map(headers)));
    m.push(("trailers".to_owned(), header_map(trailers)));
    m.push(("size".to_owned(), V::I64(sent as i64)));
    m.push(("total_size".to_owned(), V::I64((sent + hb + tb) as i64)));
    m.push(("headers_bytes".to_owned(), V::I64(hb as i64)));
    m.push(("flags".to_owned(), V::I64(0)));
    V::Map(m)
}

/// A header map as a CEL map: one key per name, repeated values joined by ",".
fn header_map(h: Option<&HeaderMap>) -> V {
    let mut out: Vec<(String, V)> = Vec::new();
    if let Some(h) = h {
        for (k, _) in h.iter() {
            if !out.iter().any(|(seen, _)| seen == k) {
                out.push((k.to_owned(), V::Str(h.joined(k).unwrap_or_default())));
            }
        }
    }
    V::Map(out)
}

fn peer(addr: &str) -> V {
    let port = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<i64>().ok());
    let mut m = vec![("address".to_owned(), V::Str(addr.to_owned()))];
    if let Some(p) = port {
        m.push(("port".to_owned(), V::I64(p)));
    }
    V::Map(m)
}

/// Envoy's `envoy.config.core.v3.Node` with `id` (field 1) and `cluster` (field 2).
fn node(st: &VmState) -> V {
    let opts = &st.shared.opts;
    let mut proto = Vec::new();
    for (tag, s) in [(0x0a_u8, &opts.node_id), (0x12, &opts.node_cluster)] {
        if s.is_empty() {
            continue;
        }
        proto.push(tag);
        let mut len = s.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                proto.push(byte);
                break;
            }
            proto.push(byte | 0x80);
        }
        proto.extend_from_slice(s.as_bytes());
    }
    V::Msg(
        vec![
            ("id".to_owned(), V::Str(opts.node_id.clone())),
            ("cluster".to_owned(), V::Str(opts.node_cluster.clone())),
        ],
        proto,
    )
}
