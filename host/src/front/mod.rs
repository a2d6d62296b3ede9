//! The HTTP front: real HTTP/1.1 traffic through the filter, the way Envoy runs it.
//!
//! An acceptor hands each connection to one of N worker threads, round-robin; each worker owns
//! one VM and serves its connections on a current-thread runtime. Requests and responses are
//! streamed: whatever the filter releases goes to the peer at once. The `tollbooth-host` binary
//! is [`cli`] plus [`Front`]; tests can start a [`Front`] in-process too.

pub mod access_log;
mod admin;
pub mod cli;
mod conn;
mod http1;
mod proxy;
mod request;
mod respond;
mod time;
mod upstream;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::{ConfigRejected, Host, HostOptions, LogEntry, LogLevel, StopMode};
use access_log::AccessLog;
use worker::{Settings, WorkerHandle};

/// Prints a log line the way the front does: `[worker N] [level] message` on stderr.
pub(crate) fn say(worker: usize, level: LogLevel, message: &str) {
    eprintln!("[worker {worker}] [{}] {message}", level.name());
}

/// How to run a front.
#[derive(Debug, Clone)]
pub struct FrontOptions {
    pub wasm: PathBuf,
    /// The plugin configuration, passed to `proxy_on_configure` as is.
    pub config: Vec<u8>,
    pub listen: SocketAddr,
    pub upstream: SocketAddr,
    pub workers: usize,
    pub stop_mode: StopMode,
    pub admin: Option<SocketAddr>,
    /// A file to append to, or `-` for stdout.
    pub access_log: Option<String>,
    /// Envoy's per-stream buffer limit; `None` keeps the host's default (1 MiB).
    pub buffer_limit: Option<usize>,
    /// Filter log lines below this level are not printed (and `proxy_get_log_level` says it).
    pub log_level: LogLevel,
    /// Envoy's stream idle timeout (default 5 minutes).
    pub idle_timeout: Duration,
}

impl FrontOptions {
    pub fn new(wasm: impl Into<PathBuf>, listen: SocketAddr, upstream: SocketAddr) -> Self {
        FrontOptions {
            wasm: wasm.into(),
            config: Vec::new(),
            listen,
            upstream,
            workers: 2,
            stop_mode: StopMode::Default,
            admin: None,
            access_log: None,
            buffer_limit: None,
            log_level: LogLevel::Info,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Why a front did not start.
#[derive(Debug)]
pub enum StartError {
    /// The filter rejected the configuration (the binary exits with status 2).
    Rejected(ConfigRejected),
    Other(anyhow::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Rejected(r) => write!(f, "{r}"),
            StartError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for StartError {}

impl From<std::io::Error> for StartError {
    fn from(e: std::io::Error) -> Self {
        StartError::Other(e.into())
    }
}

/// A running front. Dropping it without [`Front::shutdown`] leaves its threads running.
pub struct Front {
    /// The address it listens on (the real port when 0 was asked for).
    pub listen: SocketAddr,
    pub admin: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
    host: Host,
}

fn print_entry(level: LogLevel) -> impl Fn(&LogEntry) + Send + Sync + 'static {
    move |e: &LogEntry| {
        if e.level >= level {
            say(e.worker, e.level, &e.message);
        }
    }
}

impl Front {
    /// Loads and configures the filter in one VM per worker, binds the listeners, and starts
    /// the threads. Returns once everything accepts connections.
    pub fn start(opts: FrontOptions) -> Result<Front, StartError> {
        let mut host_opts = HostOptions {
            workers: opts.workers.max(1),
            stop_mode: opts.stop_mode,
            log_level: opts.log_level,
            echo_logs: false,
            max_log_entries: 1000,
            ..HostOptions::default()
        };
        if let Some(limit) = opts.buffer_limit {
            host_opts.buffer_limit = Some(limit);
        }
        let mut host = Host::load(&opts.wasm, host_opts).map_err(StartError::Other)?;
        host.clock().set_live(true);
        let sink = Arc::clone(host.log_sink());
        sink.set_echo(false);
        let print = print_entry(opts.log_level);
        for e in sink.entries() {
            print(&e);
        }
        sink.set_tap(Some(Arc::new(print)));
        host.configure(&opts.config).map_err(StartError::Rejected)?;

        let listener = std::net::TcpListener::bind(opts.listen)?;
        let admin_listener = opts.admin.map(std::net::TcpListener::bind).transpose()?;
        let listen = listener.local_addr()?;
        let admin = admin_listener
            .as_ref()
            .map(std::net::TcpListener::local_addr)
            .transpose()?;
        let access_log = opts
            .access_log
            .as_deref()
            .map(AccessLog::open)
            .transpose()
            .map_err(|e| StartError::Other(anyhow::anyhow!("access log: {e}")))?;
        let settings = Arc::new(Settings {
            upstream: opts.upstream,
            access_log,
            idle_timeout: opts.idle_timeout,
            log_level: opts.log_level,
            clock: Arc::clone(host.clock()),
        });
        let (shutdown, rx) = watch::channel(false);
        let mut threads = Vec::new();
        let mut senders = Vec::new();
        for vm in host.take_workers() {
            let WorkerHandle { tx, thread } = worker::spawn(vm, Arc::clone(&settings), rx.clone())?;
            senders.push(tx);
            threads.push(thread);
        }
        let admin_state = admin::Admin {
            metrics: Arc::clone(host.metrics_store()),
            logs: sink,
        };
        threads.push(acceptor(
            listener,
            admin_listener,
            admin_state,
            senders,
            rx,
        )?);
        Ok(Front {
            listen,
            admin,
            shutdown,
            threads,
            host,
        })
    }

    /// The host the workers came from: its metrics, logs, shared data and clock are live.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Stops accepting, ends the workers (open streams are dropped) and waits for the threads.
    pub fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// The acceptor thread: hands connections to the workers round-robin, and serves the admin.
fn acceptor(
    listener: std::net::TcpListener,
    admin_listener: Option<std::net::TcpListener>,
    admin_state: admin::Admin,
    workers: Vec<mpsc::UnboundedSender<std::net::TcpStream>>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<JoinHandle<()>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    listener.set_nonblocking(true)?;
    if let Some(a) = &admin_listener {
        a.set_nonblocking(true)?;
    }
    std::thread::Builder::new()
        .name("acceptor".to_owned())
        .spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                if let Some(a) =
                    admin_listener.and_then(|a| tokio::net::TcpListener::from_std(a).ok())
                {
                    tokio::spawn(admin::serve(a, admin_state));
                }
                let mut next = 0usize;
                loop {
                    tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => {
                                let Ok(stream) = stream.into_std() else { continue };
                                if let Some(tx) = workers.get(next % workers.len().max(1)) {
                                    let _ = tx.send(stream);
                                }
                                next = next.wrapping_add(1);
                            }
                            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                        },
                        _ = shutdown.changed() => break,
                    }
                }
            });
        })
}
