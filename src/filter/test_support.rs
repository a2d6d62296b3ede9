//! Set-up shared by the filter's fake-host tests.

use super::Shared;
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
