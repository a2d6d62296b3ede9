//! The HTTP front (`tollbooth-host` binary and `tollbooth_host::front`) with the probe filter,
//! an in-process upstream and a raw HTTP/1.1 client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../host/support.rs"]
mod probe;

mod admin;
mod binary;
mod held;
mod streaming;
mod support;
