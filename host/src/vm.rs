//! One VM: its wasmtime store, the exports the host calls, and the host state hostcalls see.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::{Instance, InstancePre, Memory, Store, TypedFunc};

use crate::clock::Clock;
use crate::error::ConfigRejected;
use crate::logs::{LogLevel, LogSink};
use crate::metrics::{MetricIds, Metrics};
use crate::options::HostOptions;
use crate::shared::{SharedData, SharedQueues};
use crate::stream::{Dir, HttpStream, LocalReply};

/// What a hostcall asked for that Envoy runs after the VM call returns
/// (`addAfterVmCallAction` in Envoy's `Context::continueStream` etc.).
#[derive(Debug, Clone)]
pub(crate) enum Deferred {
    Continue(Dir),
    Close(Dir),
    LocalReply(LocalReply),
}

/// The stores every VM of a host shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub opts: Arc<HostOptions>,
    pub data: Arc<SharedData>,
    pub queues: Arc<SharedQueues>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<Clock>,
    pub logs: Arc<LogSink>,
}

/// Host state of one VM, reachable from hostcalls.
pub(crate) struct VmState {
    pub worker: usize,
    pub generation: u64,
    pub shared: Shared,
    pub memory: Option<Memory>,
    pub malloc: Option<TypedFunc<u32, u32>>,
    pub root_id: u32,
    /// Context of the callback running now (0 while `_initialize` runs).
    pub current: u32,
    /// Set by `proxy_set_effective_context` for the rest of the callback.
    pub effective: u32,
    pub streams: HashMap<u32, HttpStream>,
    /// The plugin configuration, readable during `proxy_on_configure` only.
    pub plugin_config: Option<Vec<u8>>,
    pub tick_period_ms: Option<u32>,
    pub metric_ids: MetricIds,
    pub deferred: Vec<(u32, Deferred)>,
    /// `send_local_response` makes the callback's result a stop (cpp-host `stopNextIteration`).
    pub stop_next: bool,
    pub rng: u64,
    /// Target for writes to a stream that vanished (never happens while driving one).
    pub scratch: crate::stream::Half,
}

impl VmState {
    /// The context hostcalls act on: the effective context if it is live, else the current one
    /// (cpp-host `contextOrEffectiveContext`).
    pub(crate) fn ctx(&self) -> u32 {
        if self.effective != 0
            && (self.effective == self.root_id || self.streams.contains_key(&self.effective))
        {
            self.effective
        } else {
            self.current
        }
    }

    pub(crate) fn stream(&self) -> Option<&HttpStream> {
        self.streams.get(&self.ctx())
    }

    pub(crate) fn stream_mut(&mut self) -> Option<&mut HttpStream> {
        let ctx = self.ctx();
        self.streams.get_mut(&ctx)
    }

    pub(crate) fn log(&self, level: LogLevel, message: String) {
        self.shared
            .logs
            .push(self.worker, self.generation, self.ctx(), level, message);
    }
}

#[derive(Default)]
pub(crate) struct Exports {
    pub on_context_create: Option<TypedFunc<(u32, u32), ()>>,
    pub on_vm_start: Option<TypedFunc<(u32, u32), u32>>,
    pub on_configure: Option<TypedFunc<(u32, u32), u32>>,
    pub on_tick: Option<TypedFunc<u32, ()>>,
    pub on_queue_ready: Option<TypedFunc<(u32, u32), ()>>,
    pub on_request_headers: Option<TypedFunc<(u32, u32, u32), u32>>,
    pub on_request_body: Option<TypedFunc<(u32, u32, u32), u32>>,
    pub on_request_trailers: Option<TypedFunc<(u32, u32), u32>>,
    pub on_response_headers: Option<TypedFunc<(u32, u32, u32), u32>>,
    pub on_response_body: Option<TypedFunc<(u32, u32, u32), u32>>,
    pub on_response_trailers: Option<TypedFunc<(u32, u32), u32>>,
    pub on_log: Option<TypedFunc<u32, ()>>,
    pub on_done: Option<TypedFunc<u32, u32>>,
    pub on_delete: Option<TypedFunc<u32, ()>>,
}

/// One worker's VM. It owns its store, so it can be moved to a thread of its own; everything it
/// shares with other workers sits behind `Arc`s.
pub struct Worker {
    pub(crate) store: Store<VmState>,
    pub(crate) exports: Exports,
    /// Why the VM died, if it did.
    pub(crate) dead: Option<String>,
    pub(crate) next_context_id: u32,
    /// Monotonic time of the next tick.
    pub(crate) next_tick_ns: Option<u64>,
    pub(crate) tick_period_seen: Option<u32>,
    /// A callback was skipped because the VM had died (reported as `HostError::VmDead`).
    pub(crate) hit_dead: bool,
}

impl Worker {
    pub(crate) fn new(
        pre: &InstancePre<VmState>,
        shared: Shared,
        worker: usize,
        generation: u64,
    ) -> anyhow::Result<Worker> {
        let seed = shared
            .opts
            .random_seed
            .unwrap_or_else(|| shared.clock.now_ns() ^ 0x9e37_79b9_7f4a_7c15);
        let state = VmState {
            worker,
            generation,
            shared,
            memory: None,
            malloc: None,
            root_id: 1,
            current: 0,
            effective: 0,
            streams: HashMap::new(),
            plugin_config: None,
            tick_period_ms: None,
            metric_ids: MetricIds::default(),
            deferred: Vec::new(),
            stop_next: false,
            rng: seed.wrapping_add(worker as u64),
            scratch: Default::default(),
        };
        let mut store = Store::new(pre.module().engine(), state);
        let instance = pre.instantiate(&mut store).map_err(anyhow::Error::from)?;
        let exports = Self::exports(&instance, &mut store);
        let mut w = Worker {
            store,
            exports,
            dead: None,
            next_context_id: 1,
            next_tick_ns: None,
            tick_period_seen: None,
            hit_dead: false,
        };
        w.start(&instance)?;
        Ok(w)
    }

    fn exports(instance: &Instance, store: &mut Store<VmState>) -> Exports {
        macro_rules! get {
            ($name:literal) => {
                instance.get_typed_func(&mut *store, $name).ok()
            };
        }
        let memory = instance.get_memory(&mut *store, "memory");
        // cpp-host `WasmBase::getFunctions`: `malloc`, else `proxy_on_memory_allocate`.
        let malloc = instance
            .get_typed_func::<u32, u32>(&mut *store, "malloc")
            .or_else(|_| {
                instance.get_typed_func::<u32, u32>(&mut *store, "proxy_on_memory_allocate")
            })
            .ok();
        store.data_mut().memory = memory;
        store.data_mut().malloc = malloc;
        Exports {
            on_context_create: get!("proxy_on_context_create"),
            on_vm_start: get!("proxy_on_vm_start"),
            on_configure: get!("proxy_on_configure"),
            on_tick: get!("proxy_on_tick"),
            on_queue_ready: get!("proxy_on_queue_ready"),
            on_request_headers: get!("proxy_on_request_headers"),
            on_request_body: get!("proxy_on_request_body"),
            on_request_trailers: get!("proxy_on_request_trailers"),
            on_response_headers: get!("proxy_on_response_headers"),
            on_response_body: get!("proxy_on_response_body"),
            on_response_trailers: get!("proxy_on_response_trailers"),
            on_log: get!("proxy_on_log"),
            on_done: get!("proxy_on_done"),
            on_delete: get!("proxy_on_delete"),
        }
    }

    /// `_initialize` (WASI reactor) or `_start` (command), then the root context and
    /// `proxy_on_vm_start` (cpp-host `WasmBase::initialize`, `ContextBase::onStart`).
    fn start(&mut self, instance: &Instance) -> anyhow::Result<()> {
        let init = instance
            .get_typed_func::<(), ()>(&mut self.store, "_initialize")
            .or_else(|_| instance.get_typed_func::<(), ()>(&mut self.store, "_start"))
            .ok();
        if let Some(f) = init {
            self.call(0, |s| f.call(s, ()))
                .map_err(|e| anyhow::anyhow!("module initialization trapped: {e}"))?;
        }
        let root = self.alloc_context_id();
        self.store.data_mut().root_id = root;
        if let Some(f) = self.exports.on_context_create.clone() {
            self.call(root, |s| f.call(s, (root, 0)))
                .map_err(|e| anyhow::anyhow!("root context creation trapped: {e}"))?;
        }
        if let Some(f) = self.exports.on_vm_start.clone() {
            let size = self.store.data().shared.opts.vm_config.len() as u32;
            let ok = self
                .call(root, |s| f.call(s, (root, size)))
                .map_err(|e| anyhow::anyhow!("proxy_on_vm_start trapped: {e}"))?;
            if ok == 0 {
                anyhow::bail!(
                    "proxy_on_vm_start returned false (Envoy: \"Failed to start base Wasm\")"
                );
            }
        }
        self.after_call();
        Ok(())
    }

    pub(crate) fn alloc_context_id(&mut self) -> u32 {
        let id = self.next_context_id;
        self.next_context_id += 1;
        id
    }

    /// Calls into the guest for context `ctx`. A trap kills the VM: the error is its message.
    pub(crate) fn call<R>(
        &mut self,
        ctx: u32,
        f: impl FnOnce(&mut Store<VmState>) -> wasmtime::Result<R>,
    ) -> Result<R, String> {
        if let Some(why) = &self.dead {
            return Err(why.clone());
        }
        let seq = self.store.data().shared.logs.last_seq();
        let (saved_current, saved_effective) = {
            let st = self.store.data_mut();
            let saved = (st.current, st.effective);
            st.current = ctx;
            st.effective = 0;
            st.stop_next = false;
            saved
        };
        let result = f(&mut self.store);
        let st = self.store.data_mut();
        st.current = saved_current;
        st.effective = saved_effective;
        result.map_err(|e| {
            let worker = st.worker;
            let mut message = format!("{e:#}");
            // The SDK's panic hook logs the panic at Critical before aborting: quote it.
            let logs = st
                .shared
                .logs
                .since(seq, |l| l.worker == worker && l.level == LogLevel::Critical);
            if let Some(last) = logs.last() {
                message = format!("{} ({message})", last.message);
            }
            st.log(LogLevel::Critical, format!("VM crashed: {message}"));
            self.dead = Some(message.clone());
            message
        })
    }

    /// `proxy_on_configure` on the root context with `config` readable as plugin configuration.
    pub fn configure(&mut self, config: &[u8]) -> Result<(), ConfigRejected> {
        let worker = self.store.data().worker;
        let seq = self.store.data().shared.logs.last_seq();
        let root = self.store.data().root_id;
        let Some(f) = self.exports.on_configure.clone() else {
            return Ok(());
        };
        self.store.data_mut().plugin_config = Some(config.to_vec());
        let result = self.call(root, |s| f.call(s, (root, config.len() as u32)));
        self.store.data_mut().plugin_config = None;
        self.after_call();
        let logs = || {
            self.store
                .data()
                .shared
                .logs
                .since(seq, |l| l.worker == worker)
                .into_iter()
                .map(|l| l.message)
                .collect()
        };
        match result {
            Ok(0) => Err(ConfigRejected {
                worker,
                logs: logs(),
                crashed: None,
            }),
            Ok(_) => Ok(()),
            Err(e) => Err(ConfigRejected {
                worker,
                logs: logs(),
                crashed: Some(e),
            }),
        }
    }

    /// Runs work that VM calls left: deferred actions and tick (re)scheduling.
    pub(crate) fn after_call(&mut self) {
        let period = self.store.data().tick_period_ms;
        if period != self.tick_period_seen {
            self.tick_period_seen = period;
            let now = self.store.data().shared.clock.monotonic_ns();
            // Envoy re-arms the timer for a full period whenever the period is set.
            self.next_tick_ns = period
                .filter(|p| *p > 0)
                .map(|p| now + u64::from(p) * 1_000_000);
        }
        self.run_deferred();
    }

    /// Monotonic time (ns) of the next tick, if a tick period is set.
    pub fn next_tick(&self) -> Option<u64> {
        if self.dead.is_some() {
            return None;
        }
        self.next_tick_ns
    }

    /// Fires `proxy_on_tick` for every tick due at the clock's current monotonic time. A worker
    /// that runs on its own thread calls this from its event loop.
    pub fn fire_due_ticks(&mut self) {
        loop {
            let now = self.store.data().shared.clock.monotonic_ns();
            match self.next_tick() {
                Some(due) if due <= now => self.fire_tick(),
                _ => break,
            }
        }
    }

    /// Fires one tick and schedules the next one a period after it (Envoy re-enables the timer
    /// in `Wasm::tickHandler` before calling `onTick`).
    pub(crate) fn fire_tick(&mut self) {
        let Some(due) = self.next_tick_ns else { return };
        let period = u64::from(self.tick_period_seen.unwrap_or(0)) * 1_000_000;
        self.next_tick_ns = if period > 0 { Some(due + period) } else { None };
        let root = self.store.data().root_id;
        if let Some(f) = self.exports.on_tick.clone() {
            let _ = self.call(root, |s| f.call(s, root));
        }
        self.after_call();
    }

    /// Delivers `proxy_on_queue_ready`.
    pub(crate) fn queue_ready(&mut self, root: u32, token: u32) {
        if let Some(f) = self.exports.on_queue_ready.clone() {
            let _ = self.call(root, |s| f.call(s, (root, token)));
            self.after_call();
        }
    }

    /// Size of the VM's linear memory in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.store
            .data()
            .memory
            .map(|m| m.data_size(&self.store))
            .unwrap_or(0)
    }

    /// Why the VM died, if it did.
    pub fn crashed(&self) -> Option<&str> {
        self.dead.as_deref()
    }

    pub fn worker_index(&self) -> usize {
        self.store.data().worker
    }
}
