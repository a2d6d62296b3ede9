use std::fmt;

/// Errors from driving the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// The guest trapped (a panic in the Rust SDK aborts, which traps) during this call. The VM
    /// is dead from now on: like Envoy, the host answers its streams with 503 (or lets them
    /// through with `fail_open`). The stream that was running got that 503.
    VmCrashed { worker: usize, message: String },
    /// The VM had crashed before this call; the stream was failed as Envoy would.
    VmDead { worker: usize },
    /// No such worker.
    NoWorker(usize),
    /// No such stream (finished, or from before a reload).
    NoStream,
    /// The call makes no sense in the stream's state (e.g. body after end of stream).
    InvalidState(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::VmCrashed { worker, message } => {
                write!(f, "VM crashed on worker {worker}: {message}")
            }
            HostError::VmDead { worker } => {
                write!(f, "VM on worker {worker} is dead (crashed earlier)")
            }
            HostError::NoWorker(w) => write!(f, "no worker {w}"),
            HostError::NoStream => write!(f, "no such stream"),
            HostError::InvalidState(s) => write!(f, "invalid stream state: {s}"),
        }
    }
}

impl std::error::Error for HostError {}

/// `proxy_on_configure` returned false on some worker (or the VM crashed during it). Envoy
/// rejects the configuration and logs it; `logs` holds what the filter logged during the call,
/// which is where a filter explains why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRejected {
    pub worker: usize,
    pub logs: Vec<String>,
    pub crashed: Option<String>,
}

impl fmt::Display for ConfigRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin configuration rejected by worker {}", self.worker)?;
        if let Some(c) = &self.crashed {
            write!(f, " (VM crashed: {c})")?;
        }
        if !self.logs.is_empty() {
            write!(f, ": {}", self.logs.join(" | "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigRejected {}
