use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The host's clock, shared by every VM of a host. By default it only moves when told to, so
/// tests are deterministic: `proxy_get_current_time_nanoseconds` and WASI
/// `clock_time_get(REALTIME)` read the wall clock, WASI `clock_time_get(MONOTONIC)` the
/// monotonic one. In live mode ([`Clock::set_live`]) both follow the system clocks, as they do
/// in Envoy; `set` and `advance` then shift them.
#[derive(Debug)]
pub struct Clock {
    /// Frozen: the wall-clock time. Live: the offset (wrapping) added to the system time.
    realtime_ns: AtomicU64,
    /// Frozen: the monotonic time. Live: the offset (wrapping) added to `origin.elapsed()`.
    monotonic_ns: AtomicU64,
    live: AtomicBool,
    origin: Instant,
}

fn system_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Clock {
    /// Starts at the current system time, frozen.
    pub fn new() -> Self {
        Self::at(system_ns())
    }

    /// Starts at `realtime_ns` nanoseconds since the Unix epoch.
    pub fn at(realtime_ns: u64) -> Self {
        Clock {
            realtime_ns: AtomicU64::new(realtime_ns),
            monotonic_ns: AtomicU64::new(1_000_000_000),
            live: AtomicBool::new(false),
            origin: Instant::now(),
        }
    }

    /// Live mode follows the system clocks from the current readings on; switching it off
    /// freezes the clock where it is.
    pub fn set_live(&self, on: bool) {
        if on == self.is_live() {
            return;
        }
        let (real, mono) = (self.now_ns(), self.monotonic_ns());
        if on {
            let elapsed = nanos(self.origin.elapsed());
            self.realtime_ns
                .store(real.wrapping_sub(system_ns()), Ordering::SeqCst);
            self.monotonic_ns
                .store(mono.wrapping_sub(elapsed), Ordering::SeqCst);
        } else {
            self.realtime_ns.store(real, Ordering::SeqCst);
            self.monotonic_ns.store(mono, Ordering::SeqCst);
        }
        self.live.store(on, Ordering::SeqCst);
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    /// Wall-clock time in nanoseconds since the Unix epoch.
    pub fn now_ns(&self) -> u64 {
        let v = self.realtime_ns.load(Ordering::SeqCst);
        if self.is_live() {
            system_ns().wrapping_add(v)
        } else {
            v
        }
    }

    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.now_ns())
    }

    /// Monotonic time in nanoseconds (arbitrary origin).
    pub fn monotonic_ns(&self) -> u64 {
        let v = self.monotonic_ns.load(Ordering::SeqCst);
        if self.is_live() {
            nanos(self.origin.elapsed()).wrapping_add(v)
        } else {
            v
        }
    }

    /// Sets the wall clock (the monotonic clock is left alone, as when NTP steps the time).
    pub fn set(&self, realtime_ns: u64) {
        let v = if self.is_live() {
            realtime_ns.wrapping_sub(system_ns())
        } else {
            realtime_ns
        };
        self.realtime_ns.store(v, Ordering::SeqCst);
    }

    pub fn set_time(&self, t: SystemTime) {
        let ns = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        self.set(u64::try_from(ns).unwrap_or(u64::MAX));
    }

    /// Moves both clocks forward. Ticks do not fire; use [`crate::Host::advance`] for that.
    pub fn advance(&self, d: Duration) {
        let ns = nanos(d);
        self.realtime_ns.fetch_add(ns, Ordering::SeqCst);
        self.monotonic_ns.fetch_add(ns, Ordering::SeqCst);
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_mode_follows_system_time_and_keeps_offsets() {
        let c = Clock::at(5);
        assert_eq!(c.now_ns(), 5);
        c.set_live(true);
        assert!(c.now_ns() < 1_000_000_000, "continues from 5ns");
        c.set(system_ns());
        let m0 = c.monotonic_ns();
        std::thread::sleep(Duration::from_millis(20));
        assert!(c.monotonic_ns() >= m0 + 20_000_000);
        assert!(c.now_ns().abs_diff(system_ns()) < 1_000_000_000);
        c.advance(Duration::from_secs(10));
        assert!(c.now_ns() > system_ns() + 9_000_000_000);
        c.set_live(false);
        let frozen = c.now_ns();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.now_ns(), frozen);
    }
}
