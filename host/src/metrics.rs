//! Metrics: one store per host, like Envoy's global stats store. The same name defined in
//! several VMs (or again after a reload) is one stat; metric ids are per VM
//! (Envoy `Context::defineMetric`, `source/extensions/common/wasm/context.cc`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Envoy puts every `proxy_define_metric` name under this prefix (`custom_stat_namespace_`).
pub const ENVOY_CUSTOM_STAT_PREFIX: &str = "wasmcustom.";

/// The name Envoy's stats (e.g. `/stats`) show for a metric the filter defined as `name`.
pub fn envoy_stat_name(name: &str) -> String {
    format!("{ENVOY_CUSTOM_STAT_PREFIX}{name}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    /// proxy-wasm `MetricType`.
    pub fn from_abi(v: u32) -> Option<MetricKind> {
        match v {
            0 => Some(MetricKind::Counter),
            1 => Some(MetricKind::Gauge),
            2 => Some(MetricKind::Histogram),
            _ => None,
        }
    }

    pub(crate) fn abi(self) -> u32 {
        match self {
            MetricKind::Counter => 0,
            MetricKind::Gauge => 1,
            MetricKind::Histogram => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricValue {
    Counter(u64),
    Gauge(u64),
    /// Every recorded value, in order.
    Histogram(Vec<u64>),
}

impl MetricValue {
    pub fn kind(&self) -> MetricKind {
        match self {
            MetricValue::Counter(_) => MetricKind::Counter,
            MetricValue::Gauge(_) => MetricKind::Gauge,
            MetricValue::Histogram(_) => MetricKind::Histogram,
        }
    }
}

/// One stat.
#[derive(Debug)]
pub(crate) enum Stat {
    Counter(AtomicU64),
    Gauge(AtomicU64),
    Histogram(Mutex<Vec<u64>>),
}

impl Stat {
    /// Counter add (Envoy counters wrap like its atomics do).
    pub(crate) fn add(&self, v: u64) {
        match self {
            Stat::Counter(c) | Stat::Gauge(c) => {
                c.fetch_add(v, Ordering::Relaxed);
            }
            Stat::Histogram(h) => h.lock().unwrap_or_else(|e| e.into_inner()).push(v),
        }
    }

    pub(crate) fn sub(&self, v: u64) {
        if let Stat::Counter(c) | Stat::Gauge(c) = self {
            c.fetch_sub(v, Ordering::Relaxed);
        }
    }

    pub(crate) fn set(&self, v: u64) {
        if let Stat::Counter(c) | Stat::Gauge(c) = self {
            c.store(v, Ordering::Relaxed);
        }
    }

    pub(crate) fn value(&self) -> MetricValue {
        match self {
            Stat::Counter(c) => MetricValue::Counter(c.load(Ordering::Relaxed)),
            Stat::Gauge(g) => MetricValue::Gauge(g.load(Ordering::Relaxed)),
            Stat::Histogram(h) => {
                MetricValue::Histogram(h.lock().unwrap_or_else(|e| e.into_inner()).clone())
            }
        }
    }
}

/// The host's stats store.
#[derive(Debug, Default)]
pub struct Metrics {
    stats: Mutex<BTreeMap<(String, MetricKind), Arc<Stat>>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stat for `(name, kind)`, created at zero on first use.
    pub(crate) fn define(&self, name: &str, kind: MetricKind) -> Arc<Stat> {
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats
            .entry((name.to_owned(), kind))
            .or_insert_with(|| {
                Arc::new(match kind {
                    MetricKind::Counter => Stat::Counter(AtomicU64::new(0)),
                    MetricKind::Gauge => Stat::Gauge(AtomicU64::new(0)),
                    MetricKind::Histogram => Stat::Histogram(Mutex::new(Vec::new())),
                })
            })
            .clone()
    }

    /// Every stat by name (without Envoy's `wasmcustom.` prefix). If one name was defined with
    /// several kinds (Envoy keeps them apart), the later kinds appear as `name (gauge)` etc.
    pub fn snapshot(&self) -> BTreeMap<String, MetricValue> {
        let stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = BTreeMap::new();
        for ((name, kind), stat) in stats.iter() {
            let key = if out.contains_key(name) {
                format!("{name} ({kind:?})").to_lowercase()
            } else {
                name.clone()
            };
            out.insert(key, stat.value());
        }
        out
    }

    /// Like [`Metrics::snapshot`], with names as Envoy shows them (`wasmcustom.<name>`).
    pub fn envoy_snapshot(&self) -> BTreeMap<String, MetricValue> {
        self.snapshot()
            .into_iter()
            .map(|(k, v)| (envoy_stat_name(&k), v))
            .collect()
    }

    pub fn counter(&self, name: &str) -> Option<u64> {
        match self.value(name, MetricKind::Counter)? {
            MetricValue::Counter(v) => Some(v),
            _ => None,
        }
    }

    pub fn gauge(&self, name: &str) -> Option<u64> {
        match self.value(name, MetricKind::Gauge)? {
            MetricValue::Gauge(v) => Some(v),
            _ => None,
        }
    }

    pub fn histogram(&self, name: &str) -> Option<Vec<u64>> {
        match self.value(name, MetricKind::Histogram)? {
            MetricValue::Histogram(v) => Some(v),
            _ => None,
        }
    }

    fn value(&self, name: &str, kind: MetricKind) -> Option<MetricValue> {
        let stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.get(&(name.to_owned(), kind)).map(|s| s.value())
    }
}

/// A VM's metric ids. Like Envoy (`Wasm::nextCounterMetricId` etc.), the low two bits of an id
/// carry the proxy-wasm `MetricType` and ids go up by 4, so `proxy_increment_metric` on a
/// histogram id is `BadArgument` and an unknown counter id `NotFound`.
#[derive(Debug, Default)]
pub(crate) struct MetricIds {
    next: [u32; 3],
    ids: std::collections::HashMap<u32, Arc<Stat>>,
}

pub(crate) const METRIC_TYPE_MASK: u32 = 0x3;

impl MetricIds {
    pub(crate) fn define(&mut self, metrics: &Metrics, name: &str, kind: MetricKind) -> u32 {
        let slot = kind.abi() as usize;
        self.next[slot] += 1;
        let id = (self.next[slot] << 2) | kind.abi();
        self.ids.insert(id, metrics.define(name, kind));
        id
    }

    pub(crate) fn get(&self, id: u32) -> Option<&Arc<Stat>> {
        self.ids.get(&id)
    }
}
