//! [`Host`]: a plugin loaded into W worker VMs, with the stores they share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::InstancePre;

use crate::clock::Clock;
use crate::error::{ConfigRejected, HostError};
use crate::headers::HeaderMap;
use crate::logs::{LogEntry, LogSink};
use crate::metrics::{MetricValue, Metrics};
use crate::options::HostOptions;
use crate::shared::{SharedData, SharedQueues};
use crate::stream::{StreamId, StreamInfo, StreamView};
use crate::vm::{Shared, VmState, Worker};

/// Where the module comes from.
#[derive(Debug, Clone)]
pub enum WasmSource {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

impl From<&Path> for WasmSource {
    fn from(p: &Path) -> Self {
        WasmSource::Path(p.to_owned())
    }
}
impl From<PathBuf> for WasmSource {
    fn from(p: PathBuf) -> Self {
        WasmSource::Path(p)
    }
}
impl From<&PathBuf> for WasmSource {
    fn from(p: &PathBuf) -> Self {
        WasmSource::Path(p.clone())
    }
}
impl From<&str> for WasmSource {
    /// A file path.
    fn from(p: &str) -> Self {
        WasmSource::Path(p.into())
    }
}
impl From<Vec<u8>> for WasmSource {
    fn from(b: Vec<u8>) -> Self {
        WasmSource::Bytes(b)
    }
}
impl From<&[u8]> for WasmSource {
    fn from(b: &[u8]) -> Self {
        WasmSource::Bytes(b.to_vec())
    }
}

/// A proxy-wasm plugin running in `workers` VMs, as an Envoy with that many worker threads
/// would run it.
pub struct Host {
    pub(crate) workers: Vec<Worker>,
    pub(crate) shared: Shared,
    pre: InstancePre<VmState>,
    generation: u64,
    stubbed: Vec<String>,
}

impl Host {
    /// Compiles (or takes from the cache) the module, starts one VM per worker (`_initialize`,
    /// root context, `proxy_on_vm_start`). Call [`Host::configure`] next, as Envoy does.
    pub fn load(wasm: impl Into<WasmSource>, opts: HostOptions) -> anyhow::Result<Host> {
        let bytes = match wasm.into() {
            WasmSource::Bytes(b) => b,
            WasmSource::Path(p) => {
                std::fs::read(&p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?
            }
        };
        anyhow::ensure!(opts.workers > 0, "at least one worker is needed");
        let module = crate::module_cache::module(&bytes)?;
        let (linker, stubbed) = crate::abi::linker(module.engine(), &module, opts.strict_imports)?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| anyhow::anyhow!("linking: {e:#}"))?;
        let shared = Shared {
            logs: Arc::new(LogSink::new(opts.echo_logs, opts.max_log_entries)),
            opts: Arc::new(opts),
            data: Arc::new(SharedData::new()),
            queues: Arc::new(SharedQueues::default()),
            metrics: Arc::new(Metrics::new()),
            clock: Arc::new(Clock::new()),
        };
        let mut host = Host {
            workers: Vec::new(),
            shared,
            pre,
            generation: 0,
            stubbed,
        };
        host.workers = host.start_workers(0)?;
        Ok(host)
    }

    fn start_workers(&self, generation: u64) -> anyhow::Result<Vec<Worker>> {
        (0..self.shared.opts.workers)
            .map(|i| Worker::new(&self.pre, self.shared.clone(), i, generation))
            .collect()
    }

    /// `proxy_on_configure` on every worker's root context. A `false` (or a crash) rejects
    /// the configuration; the error carries what the filter logged meanwhile.
    pub fn configure(&mut self, plugin_config: &[u8]) -> Result<(), ConfigRejected> {
        for w in &mut self.workers {
            w.configure(plugin_config)?;
        }
        self.pump_queues();
        Ok(())
    }

    /// A plugin reload: fresh VMs configured with `plugin_config`, keeping shared data,
    /// metrics, clock and logs. Open streams of the old VMs are dropped. If the new
    /// configuration is rejected the old VMs stay, as Envoy keeps the old plugin.
    pub fn reload(&mut self, plugin_config: &[u8]) -> anyhow::Result<()> {
        let generation = self.generation + 1;
        let mut fresh = self.start_workers(generation)?;
        for w in &mut fresh {
            w.configure(plugin_config)?;
        }
        self.generation = generation;
        self.workers = fresh;
        Ok(())
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    pub fn worker(&self, i: usize) -> Option<&Worker> {
        self.workers.get(i)
    }

    pub fn worker_mut(&mut self, i: usize) -> Option<&mut Worker> {
        self.workers.get_mut(i)
    }

    /// Hands the workers out, e.g. to run each on a thread of its own. They keep sharing this
    /// host's shared data, metrics, clock and logs.
    pub fn take_workers(&mut self) -> Vec<Worker> {
        std::mem::take(&mut self.workers)
    }

    pub fn shared_data(&self) -> &Arc<SharedData> {
        &self.shared.data
    }

    /// The metrics store.
    pub fn metrics_store(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// Every metric by name (without Envoy's `wasmcustom.` prefix).
    pub fn metrics(&self) -> BTreeMap<String, MetricValue> {
        self.shared.metrics.snapshot()
    }

    pub fn counter(&self, name: &str) -> Option<u64> {
        self.shared.metrics.counter(name)
    }

    pub fn gauge(&self, name: &str) -> Option<u64> {
        self.shared.metrics.gauge(name)
    }

    pub fn histogram(&self, name: &str) -> Option<Vec<u64>> {
        self.shared.metrics.histogram(name)
    }

    pub fn clock(&self) -> &Arc<Clock> {
        &self.shared.clock
    }

    pub fn log_sink(&self) -> &Arc<LogSink> {
        &self.shared.logs
    }

    pub fn logs(&self) -> Vec<LogEntry> {
        self.shared.logs.entries()
    }

    pub fn take_logs(&self) -> Vec<LogEntry> {
        self.shared.logs.take()
    }

    pub fn options(&self) -> &HostOptions {
        &self.shared.opts
    }

    /// Imports the module has that the host does not implement (stubbed with
    /// `Unimplemented`; Envoy would refuse to load such a module).
    pub fn stubbed_imports(&self) -> &[String] {
        &self.stubbed
    }

    /// Linear memory of a worker's VM, in bytes.
    pub fn vm_memory_bytes(&self, worker: usize) -> usize {
        self.workers
            .get(worker)
            .map(Worker::memory_bytes)
            .unwrap_or(0)
    }

    /// Why a worker's VM died, if it did.
    pub fn crashed(&self, worker: usize) -> Option<&str> {
        self.workers.get(worker).and_then(Worker::crashed)
    }

    /// Moves the clock forward by `d`, firing `proxy_on_tick` on every VM whose tick period
    /// elapsed, in time order, with the clock at each tick's time.
    pub fn advance(&mut self, d: Duration) {
        let clock = self.shared.clock.clone();
        let target = clock
            .monotonic_ns()
            .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        while let Some(due) = self
            .workers
            .iter()
            .filter_map(Worker::next_tick)
            .min()
            .filter(|t| *t <= target)
        {
            let now = clock.monotonic_ns();
            if due > now {
                clock.advance(Duration::from_nanos(due - now));
            }
            for w in &mut self.workers {
                if w.next_tick() == Some(due) {
                    w.fire_tick();
                }
            }
            self.pump_queues();
        }
        let now = clock.monotonic_ns();
        if target > now {
            clock.advance(Duration::from_nanos(target - now));
        }
    }

    /// Delivers `proxy_on_queue_ready` for queues something was enqueued on.
    pub(crate) fn pump_queues(&mut self) {
        for _ in 0..64 {
            let ready = self.shared.queues.take_ready();
            if ready.is_empty() {
                return;
            }
            for (worker, root, token) in ready {
                if let Some(w) = self.workers.get_mut(worker) {
                    w.queue_ready(root, token);
                }
            }
        }
    }

    fn w(&mut self, id: StreamId) -> Result<&mut Worker, HostError> {
        self.workers
            .get_mut(id.worker)
            .ok_or(HostError::NoWorker(id.worker))
    }

    fn after<T>(&mut self, r: T) -> T {
        self.pump_queues();
        r
    }

    /// Opens an HTTP stream on `worker` with default connection facts.
    pub fn open(&mut self, worker: usize) -> Result<StreamId, HostError> {
        self.open_with(worker, StreamInfo::default())
    }

    pub fn open_with(&mut self, worker: usize, info: StreamInfo) -> Result<StreamId, HostError> {
        let r = self
            .workers
            .get_mut(worker)
            .ok_or(HostError::NoWorker(worker))?
            .open(info);
        self.after(r)
    }

    pub fn request_headers(
        &mut self,
        id: StreamId,
        headers: impl Into<HeaderMap>,
        end_of_stream: bool,
    ) -> Result<(), HostError> {
        let r = self
            .w(id)?
            .request_headers(id, headers.into(), end_of_stream);
        self.after(r)
    }

    pub fn request_body(
        &mut self,
        id: StreamId,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<(), HostError> {
        let r = self.w(id)?.request_body(id, chunk, end_of_stream);
        self.after(r)
    }

    pub fn request_trailers(
        &mut self,
        id: StreamId,
        trailers: impl Into<HeaderMap>,
    ) -> Result<(), HostError> {
        let r = self.w(id)?.request_trailers(id, trailers.into());
        self.after(r)
    }

    /// Response headers from the upstream, including `:status`.
    pub fn response_headers(
        &mut self,
        id: StreamId,
        headers: impl Into<HeaderMap>,
        end_of_stream: bool,
    ) -> Result<(), HostError> {
        let r = self
            .w(id)?
            .response_headers(id, headers.into(), end_of_stream);
        self.after(r)
    }

    pub fn response_body(
        &mut self,
        id: StreamId,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<(), HostError> {
        let r = self.w(id)?.response_body(id, chunk, end_of_stream);
        self.after(r)
    }

    pub fn response_trailers(
        &mut self,
        id: StreamId,
        trailers: impl Into<HeaderMap>,
    ) -> Result<(), HostError> {
        let r = self.w(id)?.response_trailers(id, trailers.into());
        self.after(r)
    }

    /// Envoy's stream idle timeout (408) for a stream the filter holds.
    pub fn idle_timeout(&mut self, id: StreamId) -> Result<(), HostError> {
        let r = self.w(id)?.idle_timeout(id);
        self.after(r)
    }

    /// `proxy_on_log`, `proxy_on_done`, `proxy_on_delete`; returns the final view.
    pub fn finish(&mut self, id: StreamId) -> Result<StreamView, HostError> {
        let r = self.w(id)?.finish(id);
        self.after(r)
    }

    pub fn stream(&self, id: StreamId) -> Result<StreamView, HostError> {
        self.workers
            .get(id.worker)
            .ok_or(HostError::NoWorker(id.worker))?
            .view(id)
    }

    /// The stream's filter state (`wasm.<path>` keys).
    pub fn filter_state(&self, id: StreamId) -> Result<BTreeMap<String, Vec<u8>>, HostError> {
        Ok(self.stream(id)?.filter_state)
    }
}
