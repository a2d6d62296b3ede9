//! Probe filter for tollbooth-host's own tests.
//!
//! Every behaviour is switched on per request by an `x-probe-*` request header, so one module
//! covers all host tests. What the probe observes is written to filter state (`set_property`,
//! read back by tests as `wasm.probe_*`) or to response headers, never asserted here.
//!
//! Properties: `x-probe-property: request.path` is read in the request headers callback,
//! `x-probe-resp-property` in the response headers callback and `x-probe-log-property` in
//! `on_log`; raw values land in `wasm.probe_property` / `_resp_property` / `_log_property`.
//!
//! Plugin configuration is `key=value` lines: `reject=<reason>` makes `on_configure` fail after
//! logging the reason; `tick_ms=<n>` sets the tick period. Each tick counts `probe.ticks` and
//! resumes every stream the probe paused.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType, Status};
use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const REQUEST_HEADERS: u32 = 0;
const RESPONSE_HEADERS: u32 = 2;

// Raw imports: the SDK wrappers panic on statuses they do not expect, and the probe wants to
// report those statuses instead. `proxy_probe_nonexistent` is no proxy-wasm function at all; it
// checks that the host stubs unknown imports.
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_replace_header_map_value(
        map_type: u32,
        key: *const u8,
        key_len: usize,
        value: *const u8,
        value_len: usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key: *const u8,
        key_len: usize,
        ret_ptr: *mut *mut u8,
        ret_len: *mut usize,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_probe_nonexistent(x: u32) -> u32;
    #[link_name = "proxy_log"]
    fn raw_proxy_log(level: u32, message: *const u8, len: usize) -> u32;
}

thread_local! {
    static PAUSED_REQUESTS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static PAUSED_RESPONSES: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(ProbeRoot) });
}}

fn raw_replace(map: u32, key: &str, value: &str) -> u32 {
    unsafe {
        proxy_replace_header_map_value(map, key.as_ptr(), key.len(), value.as_ptr(), value.len())
    }
}

fn raw_get(map: u32, key: &str) -> u32 {
    let mut ptr: *mut u8 = std::ptr::null_mut();
    let mut len: usize = 0;
    let status =
        unsafe { proxy_get_header_map_value(map, key.as_ptr(), key.len(), &mut ptr, &mut len) };
    if !ptr.is_null() {
        // The host allocated it with proxy_on_memory_allocate; give it back to the allocator.
        drop(unsafe { Vec::from_raw_parts(ptr, len, len) });
    }
    status
}

fn split_pair(v: &str) -> (&str, &str) {
    v.split_once('=').unwrap_or((v, ""))
}

fn join(sizes: &[usize]) -> String {
    sizes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

struct ProbeRoot;

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn on_vm_start(&mut self, _: usize) -> bool {
        log::info!("probe: vm started");
        true
    }

    fn on_configure(&mut self, _: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&config).into_owned();
        for line in text.lines() {
            let (key, value) = split_pair(line);
            match key.trim() {
                "reject" => {
                    log::error!("probe: configuration rejected: {}", value.trim());
                    return false;
                }
                "tick_ms" => {
                    let ms: u64 = value.trim().parse().unwrap_or(0);
                    self.set_tick_period(Duration::from_millis(ms));
                }
                _ => {}
            }
        }
        log::info!("probe: configured");
        true
    }

    fn on_tick(&mut self) {
        if let Ok(id) = hostcalls::define_metric(MetricType::Counter, "probe.ticks") {
            let _ = hostcalls::increment_metric(id, 1);
        }
        for id in PAUSED_REQUESTS.with(|p| std::mem::take(&mut *p.borrow_mut())) {
            if hostcalls::set_effective_context(id).is_ok() {
                let _ = hostcalls::resume_http_request();
            }
        }
        for id in PAUSED_RESPONSES.with(|p| std::mem::take(&mut *p.borrow_mut())) {
            if hostcalls::set_effective_context(id).is_ok() {
                let _ = hostcalls::resume_http_response();
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(ProbeHttp {
            id: context_id,
            ..ProbeHttp::default()
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

#[derive(Default)]
struct ProbeHttp {
    id: u32,
    opts: Vec<(String, String)>,
    req_body_sizes: Vec<usize>,
    resp_body_sizes: Vec<usize>,
    property: Option<String>,
}

impl ProbeHttp {
    fn opt(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn state(&self, name: &str, value: &[u8]) {
        self.set_property(vec![name], Some(value));
    }

    fn metric(&self, kind: MetricType, name: &str) -> Option<u32> {
        hostcalls::define_metric(kind, name).ok()
    }

    fn shared_incr(&self, key: &str) {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let (value, cas) = self.get_shared_data(key);
            let n: u64 = value
                .and_then(|v| String::from_utf8(v).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            match self.set_shared_data(key, Some((n + 1).to_string().as_bytes()), cas) {
                Ok(()) => break,
                Err(Status::CasMismatch) if attempts < 10 => continue,
                Err(e) => {
                    log::error!("probe: shared set failed: {:?}", e);
                    break;
                }
            }
        }
        self.state("probe_shared_attempts", attempts.to_string().as_bytes());
    }

    /// Reads the property named by header `opt` (dot-separated path), stores the raw value in
    /// filter state `state` and returns it rendered for a header.
    fn read_property(&self, opt: &str, state: &str) -> Option<String> {
        let path = self.opt(opt)?.to_owned();
        let value = self.get_property(path.split('.').collect());
        let shown = match &value {
            None => "<missing>".to_owned(),
            Some(v) => match std::str::from_utf8(v) {
                Ok(s) if !s.contains('\0') => s.to_owned(),
                _ => v.iter().map(|b| format!("{b:02x}")).collect(),
            },
        };
        if let Some(v) = value {
            self.state(state, &v);
        }
        Some(shown)
    }
}

impl Context for ProbeHttp {}

impl HttpContext for ProbeHttp {
    fn on_http_request_headers(&mut self, _: usize, _eos: bool) -> Action {
        self.opts = self
            .get_http_request_headers()
            .into_iter()
            .filter(|(k, _)| k.starts_with("x-probe-"))
            .collect();
        if self.opt("x-probe-panic").is_some() {
            panic!("probe: panic requested");
        }
        if let Some(msg) = self.opt("x-probe-log") {
            log::info!("probe: {msg}");
        }
        if self.opt("x-probe-unknown-import").is_some() {
            let status = unsafe { proxy_probe_nonexistent(7) };
            self.state("probe_unknown_import", status.to_string().as_bytes());
        }
        if self.opt("x-probe-bad-pointer").is_some() {
            // A pointer past the end of linear memory: the host must refuse, not crash.
            let status = unsafe { raw_proxy_log(2, 0xffff_fff0_usize as *const u8, 64) };
            self.state("probe_bad_pointer", status.to_string().as_bytes());
        }
        if let Some(key) = self.opt("x-probe-shared-incr").map(str::to_owned) {
            self.shared_incr(&key);
        }
        if let Some(name) = self.opt("x-probe-metric") {
            if let Some(id) = self.metric(MetricType::Counter, name) {
                let _ = hostcalls::increment_metric(id, 1);
            }
        }
        if let Some(v) = self.opt("x-probe-metric-incr") {
            let (name, offset) = split_pair(v);
            if let Some(id) = self.metric(MetricType::Counter, name) {
                let status = unsafe { proxy_increment_metric(id, offset.parse().unwrap_or(0)) };
                self.state("probe_metric_status", status.to_string().as_bytes());
            }
        }
        for (header, kind) in [
            ("x-probe-gauge", MetricType::Gauge),
            ("x-probe-histogram", MetricType::Histogram),
        ] {
            if let Some(v) = self.opt(header) {
                let (name, value) = split_pair(v);
                if let Some(id) = self.metric(kind, name) {
                    let _ = hostcalls::record_metric(id, value.parse().unwrap_or(0));
                }
            }
        }
        if let Some(v) = self.opt("x-probe-set-property") {
            let (name, value) = split_pair(v);
            self.state(name, value.as_bytes());
        }
        if let Some(v) = self.opt("x-probe-upstream-header") {
            let (name, value) = split_pair(v);
            self.add_http_request_header(name, value);
        }
        if self.opt("x-probe-time").is_some() {
            let host = self
                .get_current_time()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let wasi = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            self.state("probe_time", host.to_string().as_bytes());
            self.state("probe_wasi_time", wasi.to_string().as_bytes());
        }
        self.property = self.read_property("x-probe-property", "probe_property");
        if let Some(code) = self.opt("x-probe-local-reply") {
            let code = code.parse().unwrap_or(403);
            self.send_http_response(code, vec![("x-probe-local", "1")], Some(b"denied by probe"));
            return Action::Pause;
        }
        if self.opt("x-probe-close").is_some() {
            self.reset_http_request();
            return Action::Pause;
        }
        if self.opt("x-probe-pause-headers").is_some() {
            let id = self.id;
            PAUSED_REQUESTS.with(|p| p.borrow_mut().push(id));
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, eos: bool) -> Action {
        self.req_body_sizes.push(body_size);
        self.state(
            "probe_req_body_sizes",
            join(&self.req_body_sizes).as_bytes(),
        );
        if self.opt("x-probe-late-header").is_some() {
            let set = raw_replace(REQUEST_HEADERS, "x-late", "1");
            let get = raw_get(REQUEST_HEADERS, ":path");
            self.state(
                "probe_late_req",
                format!("replace={set},get={get}").as_bytes(),
            );
        }
        if self.opt("x-probe-pause-headers").is_some() {
            // Only allowed while the headers still wait (allow_on_headers_stop_iteration).
            let status = raw_replace(REQUEST_HEADERS, "x-probe-body-seen", &body_size.to_string());
            self.state("probe_body_header_status", status.to_string().as_bytes());
        }
        if self.opt("x-probe-body-pause").is_some() && !eos {
            return Action::Pause;
        }
        if eos && self.opt("x-probe-body-pause").is_some() {
            let body = self.get_http_request_body(0, body_size).unwrap_or_default();
            self.state("probe_req_body", &body);
            if let Some(r) = self.opt("x-probe-body-replace") {
                self.set_http_request_body(0, body_size, r.as_bytes());
            }
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _eos: bool) -> Action {
        let status = self.get_http_response_header(":status").unwrap_or_default();
        self.set_http_response_header("x-probe-saw-response-headers", Some(&status));
        if let Some(shown) = self.property.take() {
            self.set_http_response_header("x-probe-property", Some(&shown));
        }
        if let Some(shown) = self.read_property("x-probe-resp-property", "probe_resp_property") {
            self.set_http_response_header("x-probe-resp-property", Some(&shown));
        }
        // Trailers follow only a chunked HTTP/1.1 response (Envoy's codec), so a filter that
        // will add them drops content-length while the headers are still its to change.
        // `x-probe-keep-length` keeps it, to show the trailers are then dropped.
        if self.opt("x-probe-set-trailer").is_some() && self.opt("x-probe-keep-length").is_none() {
            self.set_http_response_header("content-length", None);
        }
        if self.opt("x-probe-pause-resp-headers").is_some() {
            let id = self.id;
            PAUSED_RESPONSES.with(|p| p.borrow_mut().push(id));
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, eos: bool) -> Action {
        self.resp_body_sizes.push(body_size);
        self.state(
            "probe_resp_body_sizes",
            join(&self.resp_body_sizes).as_bytes(),
        );
        if self.opt("x-probe-late-header").is_some() {
            let set = raw_replace(RESPONSE_HEADERS, "x-late", "1");
            self.state("probe_late_resp", format!("replace={set}").as_bytes());
        }
        if self.opt("x-probe-resp-body-pause").is_some() && !eos {
            return Action::Pause;
        }
        if eos {
            if self.opt("x-probe-resp-body-pause").is_some() {
                let body = self
                    .get_http_response_body(0, body_size)
                    .unwrap_or_default();
                self.state("probe_resp_body", &body);
                if let Some(r) = self.opt("x-probe-resp-body-replace") {
                    self.set_http_response_body(0, body_size, r.as_bytes());
                }
            }
            if let Some(v) = self.opt("x-probe-set-trailer").map(str::to_owned) {
                let (name, value) = split_pair(&v);
                self.add_http_response_trailer(name, value);
            }
        }
        Action::Continue
    }

    fn on_http_response_trailers(&mut self, n: usize) -> Action {
        self.state("probe_resp_trailers", n.to_string().as_bytes());
        Action::Continue
    }

    fn on_log(&mut self) {
        let status = self.get_http_response_header(":status").unwrap_or_default();
        self.state("probe_log_status", status.as_bytes());
        self.read_property("x-probe-log-property", "probe_log_property");
    }
}
