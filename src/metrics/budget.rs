//! Budget and goodput metrics:
//!
//! - `<prefix>.tenant.<tenant>.limit.<limit>.refused_requests` and `….shadow_refusals`, where
//!   `<limit>` is `requests_per_minute`, `tokens_per_day`, `usd_per_month`, `run_max_usd`,
//!   `loop`, `spike`, `model`…;
//! - `<prefix>.tenant.<tenant>.spikes`: spend spikes detected (once per tenant and minute);
//! - `<prefix>.tenant.<tenant>.outcome.<outcome>.goodput_requests` and
//!   `….goodput_cost_micro_usd`, where
//!   `<outcome>` is `good` (2xx, finished by a stop or a tool call) or the waste: `error`,
//!   `length`, `content_filter`, `aborted`, `other`;
//! - gauge `<prefix>.tenant.<tenant>.cost_per_good_request_micro_usd` (all workers' average,
//!   kept in shared data; only with budgets configured);
//! - `<prefix>.budget.cas_retries` (lost compare-and-swap races) and `<prefix>.budget.errors`
//!   (shared-data failures).

use super::{add_in, series_of, tag_value, Recorder, GOODPUT_FIELDS};
use crate::host::{Host, LogLevel};

impl Recorder {
    fn tenant_base(&mut self, tenant: &str) -> String {
        let t = self.tenants.tag(tenant, true);
        format!("{}.tenant.{t}", self.prefix)
    }

    pub fn budget_refused(&mut self, host: &mut impl Host, tenant: &str, limit: &str) {
        let base = self.tenant_base(tenant);
        let name = format!("{base}.limit.{}.refused_requests", tag_value(limit));
        self.add(host, &name, 1);
    }

    pub fn budget_shadowed(&mut self, host: &mut impl Host, tenant: &str, limit: &str) {
        let base = self.tenant_base(tenant);
        let name = format!("{base}.limit.{}.shadow_refusals", tag_value(limit));
        self.add(host, &name, 1);
    }

    pub fn spike(&mut self, host: &mut impl Host, tenant: &str) {
        let name = format!("{}.spikes", self.tenant_base(tenant));
        self.add(host, &name, 1);
    }

    /// One finished request's outcome (`good` or a kind of waste) and its cost.
    pub fn goodput(&mut self, host: &mut impl Host, tenant: &str, outcome: &str, cost_pico: u128) {
        let tenant = self.tenants.tag(tenant, true);
        let outcome = tag_value(outcome);
        let prefix = &self.prefix;
        let Some(series) = series_of(&mut self.goodput, &tenant, &outcome, || {
            format!("{prefix}.tenant.{tenant}.outcome.{outcome}")
        }) else {
            return;
        };
        add_in(host, series, &GOODPUT_FIELDS, 0, 1);
        let micros = series.carry.add(cost_pico);
        add_in(host, series, &GOODPUT_FIELDS, 1, micros);
    }

    pub fn cost_per_good_request(&mut self, host: &mut impl Host, tenant: &str, micro_usd: u64) {
        let name = format!(
            "{}.cost_per_good_request_micro_usd",
            self.tenant_base(tenant)
        );
        let id = match self.gauges.get(&name) {
            Some(id) => *id,
            None => match host.define_gauge(&name) {
                Ok(id) => {
                    self.gauges.insert(name.clone(), id);
                    id
                }
                Err(e) => {
                    return host.log(
                        LogLevel::Warn,
                        &format!("tollbooth: define metric {name}: status {}", e.0),
                    )
                }
            },
        };
        if let Err(e) = host.set_gauge(id, micro_usd) {
            host.log(
                LogLevel::Warn,
                &format!("tollbooth: record metric {name}: status {}", e.0),
            );
        }
    }

    pub fn budget_races(&mut self, host: &mut impl Host, lost: u32) {
        let name = format!("{}.budget.cas_retries", self.prefix);
        self.add(host, &name, u64::from(lost));
    }

    pub fn budget_error(&mut self, host: &mut impl Host) {
        let name = format!("{}.budget.errors", self.prefix);
        self.add(host, &name, 1);
    }
}
