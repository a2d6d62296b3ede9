//! A worker thread: one VM, a current-thread runtime, and the connections the acceptor hands it
//! (a connection stays on its worker, as in Envoy).

use std::cell::{RefCell, RefMut};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};

use super::access_log::AccessLog;
use super::upstream::Upstream;
use super::{conn, say};
use crate::{Clock, HostError, LogLevel, Worker};

/// What every worker is set up with.
pub(crate) struct Settings {
    pub upstream: SocketAddr,
    pub access_log: Option<AccessLog>,
    pub idle_timeout: Duration,
    pub log_level: LogLevel,
    pub clock: Arc<Clock>,
}

/// One worker's state, shared by its connection tasks (all on the worker's thread).
pub(crate) struct WorkerCtx {
    pub index: usize,
    vm: RefCell<Worker>,
    /// Woken after every filter callback on this worker: one stream's callback (or a tick) may
    /// release data of another stream.
    pub notify: Notify,
    pub upstream: Rc<Upstream>,
    pub settings: Arc<Settings>,
}

impl WorkerCtx {
    /// The VM. Never held across an await (the runtime is single-threaded, so a borrow is
    /// always released before another task runs).
    pub fn vm(&self) -> RefMut<'_, Worker> {
        self.vm.borrow_mut()
    }

    /// Runs filter callbacks, then lets the other streams of this worker look for output.
    pub fn call(&self, f: impl FnOnce(&mut Worker) -> Result<(), HostError>) {
        let r = f(&mut self.vm());
        self.note(r);
        self.after();
    }

    /// Queue notifications, and a wake-up for the other streams.
    pub fn after(&self) {
        self.vm().deliver_queue_ready();
        self.notify.notify_waiters();
    }

    /// A crash is already logged by the host (and the stream answered 503, as Envoy would);
    /// anything else is a front bug worth a debug line.
    pub fn note(&self, r: Result<(), HostError>) {
        match r {
            Ok(()) | Err(HostError::VmCrashed { .. } | HostError::VmDead { .. }) => {}
            Err(e) => self.log(LogLevel::Debug, &format!("stream step failed: {e}")),
        }
    }

    pub fn log(&self, level: LogLevel, message: &str) {
        if level >= self.settings.log_level {
            say(self.index, level, message);
        }
    }
}

pub(crate) struct WorkerHandle {
    pub tx: mpsc::UnboundedSender<std::net::TcpStream>,
    pub thread: JoinHandle<()>,
}

pub(crate) fn spawn(
    vm: Worker,
    settings: Arc<Settings>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<WorkerHandle> {
    let index = vm.worker_index();
    let (tx, mut rx) = mpsc::unbounded_channel::<std::net::TcpStream>();
    let thread = std::thread::Builder::new()
        .name(format!("worker-{index}"))
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    say(index, LogLevel::Critical, &format!("no runtime: {e}"));
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                let ctx = Rc::new(WorkerCtx {
                    index,
                    vm: RefCell::new(vm),
                    notify: Notify::new(),
                    upstream: Upstream::new(settings.upstream),
                    settings,
                });
                tokio::task::spawn_local(housekeeping(Rc::clone(&ctx)));
                loop {
                    tokio::select! {
                        next = rx.recv() => match next {
                            Some(stream) => {
                                let _ = stream.set_nonblocking(true);
                                match tokio::net::TcpStream::from_std(stream) {
                                    Ok(s) => {
                                        tokio::task::spawn_local(conn::serve(Rc::clone(&ctx), s));
                                    }
                                    Err(e) => ctx.log(LogLevel::Warn, &format!("accept: {e}")),
                                }
                            }
                            None => break,
                        },
                        _ = shutdown.changed() => break,
                    }
                }
            });
        })?;
    Ok(WorkerHandle { tx, thread })
}

/// Fires the VM's ticks on time (Envoy's per-worker tick timer) and delivers queue
/// notifications other workers caused.
async fn housekeeping(ctx: Rc<WorkerCtx>) {
    let clock = Arc::clone(&ctx.settings.clock);
    loop {
        let (changed, next) = {
            let mut vm = ctx.vm();
            let before = vm.next_tick();
            vm.fire_due_ticks();
            let queued = vm.deliver_queue_ready();
            (before != vm.next_tick() || queued > 0, vm.next_tick())
        };
        if changed {
            ctx.notify.notify_waiters();
        }
        let now = clock.monotonic_ns();
        let wait = next
            .map(|t| Duration::from_nanos(t.saturating_sub(now)))
            .unwrap_or(Duration::MAX)
            .min(Duration::from_millis(100));
        tokio::time::sleep(wait).await;
    }
}
