use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// proxy-wasm log levels (`proxy_log`'s `level`, `proxy_get_log_level`'s answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

impl LogLevel {
    pub fn from_u32(v: u32) -> Option<LogLevel> {
        Some(match v {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            5 => LogLevel::Critical,
            _ => return None,
        })
    }
}

/// One line the guest logged (`proxy_log`, or a line written to WASI stdout/stderr, which
/// proxy-wasm-cpp-host logs at info/error), or a line the host logged about the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Increases by one per entry, across the whole host.
    pub seq: u64,
    pub worker: usize,
    /// Which generation of VMs (bumped by [`crate::Host::reload`]).
    pub generation: u64,
    /// The context the guest was running in (root context, or a stream's).
    pub context_id: u32,
    pub level: LogLevel,
    pub message: String,
}

impl LogLevel {
    /// The name Envoy's log lines use for the level.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }

    /// Parses a level name (`warn` and `warning` both work), case-insensitively.
    pub fn parse(name: &str) -> Option<LogLevel> {
        Some(match name.to_ascii_lowercase().as_str() {
            "trace" => LogLevel::Trace,
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warn" | "warning" => LogLevel::Warn,
            "error" | "err" => LogLevel::Error,
            "critical" => LogLevel::Critical,
            _ => return None,
        })
    }
}

/// A function that sees every entry as it is logged (e.g. to print it).
pub type LogTap = Arc<dyn Fn(&LogEntry) + Send + Sync>;

/// Collects log entries from every VM of a host.
pub struct LogSink {
    entries: Mutex<(u64, VecDeque<LogEntry>)>,
    echo: AtomicBool,
    max: usize,
    tap: Mutex<Option<LogTap>>,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink")
            .field("echo", &self.echo)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl LogSink {
    pub fn new(echo: bool, max: usize) -> Self {
        let echo =
            echo || std::env::var("TOLLBOOTH_HOST_LOG").is_ok_and(|v| !v.is_empty() && v != "0");
        LogSink {
            entries: Mutex::new((0, VecDeque::new())),
            echo: AtomicBool::new(echo),
            max: max.max(1),
            tap: Mutex::new(None),
        }
    }

    /// Calls `tap` with every entry logged from now on (`None` removes it).
    pub fn set_tap(&self, tap: Option<LogTap>) {
        *self.tap.lock().unwrap_or_else(|e| e.into_inner()) = tap;
    }

    pub fn set_echo(&self, on: bool) {
        self.echo.store(on, Ordering::Relaxed);
    }

    pub(crate) fn push(
        &self,
        worker: usize,
        generation: u64,
        context_id: u32,
        level: LogLevel,
        message: String,
    ) {
        if self.echo.load(Ordering::Relaxed) {
            eprintln!("[wasm w{worker} ctx{context_id} {level:?}] {message}");
        }
        let tap = self.tap.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (next, entries) = &mut *guard;
        *next += 1;
        let entry = LogEntry {
            seq: *next,
            worker,
            generation,
            context_id,
            level,
            message,
        };
        if let Some(tap) = tap {
            tap(&entry);
        }
        entries.push_back(entry);
        while entries.len() > self.max {
            entries.pop_front();
        }
    }

    /// A copy of every entry kept.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.lock().1.iter().cloned().collect()
    }

    /// Removes and returns every entry kept.
    pub fn take(&self) -> Vec<LogEntry> {
        self.lock().1.drain(..).collect()
    }

    /// The sequence number of the newest entry so far (0 if none).
    pub fn last_seq(&self) -> u64 {
        self.lock().0
    }

    /// Entries newer than `seq` that match `pred`.
    pub fn since(&self, seq: u64, pred: impl Fn(&LogEntry) -> bool) -> Vec<LogEntry> {
        self.lock()
            .1
            .iter()
            .filter(|e| e.seq > seq && pred(e))
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, VecDeque<LogEntry>)> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
