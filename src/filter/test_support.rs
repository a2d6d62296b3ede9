//! Set-up shared by the filter's fake-host tests.

use super::{HttpFilter, Shared};
use crate::config::Config;
use crate::fake::FakeHost;
use crate::tokens::tests::tokenizer;
use crate::tokens::{Encoding, Tokenizer};
use std::rc::Rc;

/// Per-VM state for `json`. Tests share one loaded tokenizer per thread; `Shared` wants an
/// `Rc`, so a handle is loaded once per thread from the same encodings.
pub(super) fn shared(json: &str) -> Rc<Shared> {
    thread_local!(static TOK: Rc<Tokenizer> = Rc::new(Tokenizer::load(&Encoding::ALL).unwrap()));
    let _ = tokenizer();
    Rc::new(Shared::new(
        Config::parse(json.as_bytes()).unwrap(),
        TOK.with(Rc::clone),
    ))
}

/// A header map from pairs.
pub(super) fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A response trailer the filter added.
pub(super) fn trailer<'a>(host: &'a FakeHost, name: &str) -> Option<&'a str> {
    host.response_trailers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A filter that has seen a JSON POST to `path` with `body`, whole; the request headers are
/// still the filter's to change.
pub(super) fn requested(cfg: &str, path: &str, body: impl AsRef<[u8]>) -> (FakeHost, HttpFilter) {
    let body = body.as_ref();
    let mut host = FakeHost {
        request_headers: headers(&[
            (":method", "POST"),
            (":path", path),
            ("content-type", "application/json"),
        ]),
        ..FakeHost::default()
    };
    let mut f = HttpFilter::new(Some(shared(cfg)));
    f.on_request_headers(&mut host, false);
    host.request_body = body.to_vec();
    f.on_request_body(&mut host, body.len(), true);
    (host, f)
}

/// `data` gzip-compressed.
pub(super) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
