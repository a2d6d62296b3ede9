use crate::logs::LogLevel;

/// What `Pause` from a headers callback means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopMode {
    /// Envoy's default for ABI 0.2.*: `Pause` becomes `StopAllIterationAndWatermark`, so no body
    /// callbacks run until the filter resumes the stream (proxy-wasm-cpp-host
    /// `ContextBase::convertVmCallResultToFilterHeadersStatus`, issue #143).
    #[default]
    Default,
    /// `allow_on_headers_stop_iteration: true` (Envoy >= 1.35, cpp-host PR #434): `Pause` stays
    /// `StopIteration`; body callbacks arrive while the headers wait and may still change them.
    AllowOnHeadersStopIteration,
}

/// How a [`crate::Host`] is set up; mirrors the fields of Envoy's wasm `PluginConfig`.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// Worker threads, hence VMs (Envoy runs one VM per worker).
    pub workers: usize,
    /// `vm_config.vm_id`: shared data is scoped by it.
    pub vm_id: String,
    /// `root_id`.
    pub root_id: String,
    /// `name` of the plugin (`plugin_name` property).
    pub plugin_name: String,
    /// The Envoy node id (`node.id`, `xds.node.id`).
    pub node_id: String,
    /// The Envoy node cluster (`node.cluster`).
    pub node_cluster: String,
    pub stop_mode: StopMode,
    /// Envoy's log level, answered by `proxy_get_log_level`.
    pub log_level: LogLevel,
    /// `vm_config.configuration`, readable during `proxy_on_vm_start`.
    pub vm_config: Vec<u8>,
    /// `fail_open`: when the VM has crashed, let traffic through instead of answering 503.
    pub fail_open: bool,
    /// Envoy's per-stream buffer limit (`per_connection_buffer_limit_bytes`, default 1 MiB).
    /// Body data a filter holds with `Pause` beyond it ends the stream: 413 for requests, 500
    /// (or a reset, once headers went out) for responses. `None` disables the check.
    pub buffer_limit: Option<usize>,
    /// Echo every log line to stderr (also switched on by `TOLLBOOTH_HOST_LOG=1`).
    pub echo_logs: bool,
    /// Refuse modules with imports the host does not implement, as Envoy does (it fails to link
    /// them). By default such imports are stubbed and return `Unimplemented`.
    pub strict_imports: bool,
    /// Keep at most this many log entries (oldest dropped first).
    pub max_log_entries: usize,
    /// Seed for WASI `random_get`; `None` seeds from the system clock.
    pub random_seed: Option<u64>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            workers: 1,
            vm_id: "tollbooth".to_owned(),
            root_id: "tollbooth".to_owned(),
            plugin_name: "tollbooth".to_owned(),
            node_id: "sidecar~10.0.0.1~app-0.default~default.svc.cluster.local".to_owned(),
            node_cluster: "app.default".to_owned(),
            stop_mode: StopMode::Default,
            log_level: LogLevel::Info,
            vm_config: Vec::new(),
            fail_open: false,
            buffer_limit: Some(1024 * 1024),
            echo_logs: false,
            strict_imports: false,
            max_log_entries: 100_000,
            random_seed: None,
        }
    }
}

impl HostOptions {
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    pub fn stop_mode(mut self, mode: StopMode) -> Self {
        self.stop_mode = mode;
        self
    }
}
