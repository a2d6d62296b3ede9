//! Body copies under the VM's copy budget (`max_copied_bytes_per_vm`): every copy the filter
//! makes of a request or response body is counted in [`Shared::copied`] and given back when the
//! stream's filter is dropped.

use super::{Metering, Shared};
use crate::config::Config;
use crate::host::{Body, Host, LogLevel};
use crate::providers::{Invalid, Problem};

/// Copies `len` bytes of the body buffered for this callback, if the VM's copy budget allows.
pub(super) fn copy_body(
    host: &mut impl Host,
    shared: &Shared,
    reserved: &mut usize,
    body: Body,
    len: usize,
) -> Option<Vec<u8>> {
    let in_use = shared.copied.get();
    if in_use.saturating_add(len) > shared.config.max_copied_bytes_per_vm {
        return None;
    }
    shared.copied.set(in_use + len);
    *reserved += len;
    Some(host.body(body, 0, len).unwrap_or_default())
}

/// A response copy; over the VM's budget the response is estimated instead (logged, counted).
pub(super) fn copy_response(
    host: &mut impl Host,
    shared: &Shared,
    reserved: &mut usize,
    len: usize,
    m: &mut Metering,
) -> Vec<u8> {
    if let Some(bytes) = copy_body(host, shared, reserved, Body::Response, len) {
        return bytes;
    }
    if !m.response_overflow {
        let (reason, detail) = over_budget(&shared.config);
        host.log(
            LogLevel::Warn,
            &format!(
                "tollbooth: response not read ({}): {detail}",
                reason.as_str()
            ),
        );
        shared.metrics.borrow_mut().invalid(host, reason.as_str());
    }
    m.response_overflow = true;
    Vec::new()
}

pub(super) fn over_budget(cfg: &Config) -> Problem {
    (
        Invalid::OverBudget,
        format!(
            "this VM already copies max_copied_bytes_per_vm ({}) of bodies",
            cfg.max_copied_bytes_per_vm
        ),
    )
}
