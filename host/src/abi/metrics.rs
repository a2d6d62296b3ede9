//! Metrics (Envoy `Context::defineMetric`, `incrementMetric`, `recordMetric`, `getMetric`).

use super::mem::{self, Ctx};
use super::Defs;
use crate::metrics::{MetricKind, METRIC_TYPE_MASK};
use crate::status;

pub(super) fn add(d: &mut Defs<'_>) -> anyhow::Result<()> {
    d.env(
        "proxy_define_metric",
        |mut c: Ctx<'_>, kind: u32, n: u32, n_len: u32, ret: u32| -> u32 {
            let Some(name) = mem::read_str(&c, n, n_len) else {
                return status::INVALID_MEMORY_ACCESS;
            };
            let Some(kind) = MetricKind::from_abi(kind) else {
                return status::BAD_ARGUMENT;
            };
            let st = c.data_mut();
            let metrics = st.shared.metrics.clone();
            let id = st.metric_ids.define(&metrics, &name, kind);
            if mem::write_u32(&mut c, ret, id) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            }
        },
    )?;
    // Counters take only positive increments (0 or less is BadArgument); gauges go both ways;
    // histograms cannot be incremented.
    d.env(
        "proxy_increment_metric",
        |c: Ctx<'_>, id: u32, offset: i64| -> u32 {
            let st = c.data();
            match MetricKind::from_abi(id & METRIC_TYPE_MASK) {
                Some(MetricKind::Counter) => match st.metric_ids.get(id) {
                    Some(stat) if offset > 0 => {
                        stat.add(offset as u64);
                        status::OK
                    }
                    Some(_) => status::BAD_ARGUMENT,
                    None => status::NOT_FOUND,
                },
                Some(MetricKind::Gauge) => match st.metric_ids.get(id) {
                    Some(stat) => {
                        if offset > 0 {
                            stat.add(offset as u64);
                        } else {
                            stat.sub(offset.unsigned_abs());
                        }
                        status::OK
                    }
                    None => status::NOT_FOUND,
                },
                _ => status::BAD_ARGUMENT,
            }
        },
    )?;
    // Counter: add; gauge: set; histogram: record.
    d.env(
        "proxy_record_metric",
        |c: Ctx<'_>, id: u32, value: u64| -> u32 {
            let st = c.data();
            let Some(stat) = st.metric_ids.get(id) else {
                return status::NOT_FOUND;
            };
            match MetricKind::from_abi(id & METRIC_TYPE_MASK) {
                Some(MetricKind::Gauge) => stat.set(value),
                _ => stat.add(value),
            }
            status::OK
        },
    )?;
    d.env(
        "proxy_get_metric",
        |mut c: Ctx<'_>, id: u32, ret: u32| -> u32 {
            let value = {
                let st = c.data();
                match MetricKind::from_abi(id & METRIC_TYPE_MASK) {
                    Some(MetricKind::Counter | MetricKind::Gauge) => {
                        match st.metric_ids.get(id).map(|s| s.value()) {
                            Some(crate::MetricValue::Counter(v) | crate::MetricValue::Gauge(v)) => {
                                v
                            }
                            _ => return status::NOT_FOUND,
                        }
                    }
                    _ => return status::BAD_ARGUMENT,
                }
            };
            if mem::write_u64(&mut c, ret, value) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            }
        },
    )?;
    Ok(())
}
