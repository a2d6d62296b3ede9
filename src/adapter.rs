//! The proxy-wasm adapter: the only code that makes hostcalls. The SDK's dispatcher routes
//! callbacks to the root and HTTP contexts here; hostcalls go through [`sys`], which returns
//! every status as a value (the SDK's own wrappers panic on unexpected statuses, e.g. a header
//! read after the headers were released — proxy-wasm-rust-sdk issue #155).

mod sys;

use crate::config::Config;
use crate::filter::{HttpFilter, Shared};
use crate::host::{self, Body, Host, HostError, LogLevel, Map};
use crate::tokens::{Encoding, Tokenizer};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::rc::Rc;

proxy_wasm::main! {{
    std::panic::set_hook(Box::new(|info| {
        sys::log(LogLevel::Critical, &format!("tollbooth: panic: {info}"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

/// The [`Host`] made of real hostcalls.
struct WasmHost;

impl Host for WasmHost {
    fn log(&mut self, level: LogLevel, message: &str) {
        sys::log(level, message);
    }
    fn header(&mut self, map: Map, name: &str) -> Result<Option<Vec<u8>>, HostError> {
        sys::get_header(map_type(map), name)
    }
    fn set_header(&mut self, map: Map, name: &str, value: &str) -> Result<(), HostError> {
        sys::replace_header(map_type(map), name, value)
    }
    fn add_header(&mut self, map: Map, name: &str, value: &str) -> Result<(), HostError> {
        sys::add_header(map_type(map), name, value)
    }
    fn remove_header(&mut self, map: Map, name: &str) -> Result<(), HostError> {
        sys::remove_header(map_type(map), name)
    }
    fn body(&mut self, body: Body, start: usize, len: usize) -> Result<Vec<u8>, HostError> {
        let buffer = match body {
            Body::Request => sys::BUFFER_REQUEST_BODY,
            Body::Response => sys::BUFFER_RESPONSE_BODY,
        };
        sys::get_buffer(buffer, start, len)
    }
    fn set_body(
        &mut self,
        body: Body,
        start: usize,
        len: usize,
        data: &[u8],
    ) -> Result<(), HostError> {
        let buffer = match body {
            Body::Request => sys::BUFFER_REQUEST_BODY,
            Body::Response => sys::BUFFER_RESPONSE_BODY,
        };
        sys::set_buffer(buffer, start, len, data)
    }
    fn set_property(&mut self, path: &str, value: &[u8]) -> Result<(), HostError> {
        sys::set_property(path, value)
    }
    fn send_local_response(
        &mut self,
        status: u32,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), HostError> {
        sys::send_local_response(status, headers, body)
    }
    fn define_counter(&mut self, name: &str) -> Result<u32, HostError> {
        sys::define_counter(name)
    }
    fn increment_counter(&mut self, id: u32, delta: u64) -> Result<(), HostError> {
        sys::increment_metric(id, i64::try_from(delta).unwrap_or(i64::MAX))
    }
    fn define_gauge(&mut self, name: &str) -> Result<u32, HostError> {
        sys::define_gauge(name)
    }
    fn set_gauge(&mut self, id: u32, value: u64) -> Result<(), HostError> {
        sys::record_metric(id, value)
    }
    fn now_ns(&mut self) -> u64 {
        sys::now_ns()
    }
    fn shared_get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
        sys::get_shared_data(key)
    }
    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), HostError> {
        sys::set_shared_data(key, value, cas)
    }
}

fn map_type(map: Map) -> u32 {
    match map {
        Map::RequestHeaders => sys::MAP_REQUEST_HEADERS,
        Map::ResponseHeaders => sys::MAP_RESPONSE_HEADERS,
        Map::ResponseTrailers => sys::MAP_RESPONSE_TRAILERS,
    }
}

fn action(a: host::Action) -> Action {
    match a {
        host::Action::Continue => Action::Continue,
        host::Action::Pause => Action::Pause,
    }
}

/// One per VM: holds the compiled configuration and the loaded tokenizer.
#[derive(Default)]
struct Root {
    shared: Option<Rc<Shared>>,
    tokenizer: Option<Rc<Tokenizer>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        true
    }

    /// Compiles the plugin configuration. A bad one is rejected (Envoy then refuses the
    /// listener or WasmPlugin update) and the previous configuration stays in force.
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        let raw = match sys::get_buffer(
            sys::BUFFER_PLUGIN_CONFIGURATION,
            0,
            plugin_configuration_size,
        ) {
            Ok(raw) => raw,
            Err(e) => {
                sys::log(
                    LogLevel::Error,
                    &format!(
                        "tollbooth: cannot read the plugin configuration: status {}",
                        e.0
                    ),
                );
                return false;
            }
        };
        let config = match Config::parse(&raw) {
            Ok(c) => c,
            Err(e) => {
                sys::log(LogLevel::Error, &format!("tollbooth: {e}"));
                return false;
            }
        };
        let tokenizer = match &self.tokenizer {
            Some(t) => Rc::clone(t),
            None => match Tokenizer::load(&Encoding::ALL) {
                Ok(t) => Rc::new(t),
                Err(e) => {
                    sys::log(LogLevel::Error, &format!("tollbooth: tokenizer: {e}"));
                    return false;
                }
            },
        };
        self.tokenizer = Some(Rc::clone(&tokenizer));
        sys::log(
            LogLevel::Info,
            &format!(
                "tollbooth: configured: {} route(s), {} priced model(s), built-in prices as of {}",
                config.routes.len(),
                config.prices.len(),
                config.prices_as_of.as_deref().unwrap_or("(not used)")
            ),
        );
        if let Some(b) = &config.budgets {
            // The slots exist before any request of this VM needs them (see `quota::slot`).
            match crate::quota::create_slots(&mut WasmHost, &b.namespace, b.slots) {
                Ok(n) if n > 0 => sys::log(
                    LogLevel::Info,
                    &format!("tollbooth: budgets: {n} shared-data slot(s) created"),
                ),
                Ok(_) => {}
                Err(e) => {
                    sys::log(LogLevel::Error, &format!("tollbooth: budgets: {e}"));
                    return false;
                }
            }
            if let Err(e) = sys::set_tick_period(crate::budget::SWEEP_PERIOD_MS) {
                sys::log(
                    LogLevel::Warn,
                    &format!("tollbooth: budgets: no sweep timer: status {}", e.0),
                );
            }
        }
        let shared = Shared::new(config, tokenizer);
        let _ = crate::filter::warm::warm_up(&shared);
        self.shared = Some(Rc::new(shared));
        true
    }

    /// Drops budget state nobody needs any more (one VM per period does the work).
    fn on_tick(&mut self) {
        let Some(b) = self.shared.as_ref().and_then(|s| s.config.budgets.as_ref()) else {
            return;
        };
        let now_ms = sys::now_ns() / 1_000_000;
        match crate::budget::sweep(&mut WasmHost, b, now_ms) {
            Ok(Some(n)) if n > 0 => sys::log(
                LogLevel::Debug,
                &format!("tollbooth: budgets: swept {n} idle subject(s)"),
            ),
            Ok(_) => {}
            Err(e) => sys::log(LogLevel::Warn, &format!("tollbooth: budgets: sweep: {e}")),
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http {
            filter: HttpFilter::new(self.shared.clone()),
            host: WasmHost,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Http {
    filter: HttpFilter,
    host: WasmHost,
}

impl Context for Http {}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(
            self.filter
                .on_request_headers(&mut self.host, end_of_stream),
        )
    }
    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        action(
            self.filter
                .on_request_body(&mut self.host, body_size, end_of_stream),
        )
    }
    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        action(self.filter.on_request_trailers(&mut self.host))
    }
    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(
            self.filter
                .on_response_headers(&mut self.host, end_of_stream),
        )
    }
    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        action(
            self.filter
                .on_response_body(&mut self.host, body_size, end_of_stream),
        )
    }
    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        action(self.filter.on_response_trailers(&mut self.host))
    }
    fn on_log(&mut self) {
        self.filter.on_log(&mut self.host);
    }
}
