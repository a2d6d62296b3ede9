//! Repeated measurements: runs alternate between the variants compared (filter, pass-through,
//! sizes), so a change of machine load during the run hits all of them alike; the median of
//! each is kept.

use std::time::{Duration, Instant};

/// How many times to measure: at least `min` runs each, more up to `max` while the whole
/// comparison stays within `budget`.
#[derive(Debug, Clone, Copy)]
pub struct Reps {
    pub warmup: usize,
    pub min: usize,
    pub max: usize,
    pub budget: Duration,
}

impl Reps {
    pub const fn new(warmup: usize, min: usize, max: usize, budget_ms: u64) -> Self {
        Reps {
            warmup,
            min,
            max,
            budget: Duration::from_millis(budget_ms),
        }
    }
}

pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    let n = samples.len();
    match (samples.get(n / 2), n % 2) {
        (Some(&hi), 1) => hi,
        (Some(&hi), _) => match n.checked_sub(1).and_then(|i| samples.get(i / 2)) {
            Some(&lo) => (lo + hi) / 2,
            None => hi,
        },
        (None, _) => Duration::ZERO,
    }
}

/// A variant to measure: each call runs it once and returns the time that counts.
pub type Probe<'a> = Box<dyn FnMut() -> anyhow::Result<Duration> + 'a>;

/// Runs the probes in rounds (each once per round, in order) after `reps.warmup` unmeasured
/// rounds; the median time of each.
pub fn interleaved(reps: Reps, probes: &mut [Probe<'_>]) -> anyhow::Result<Vec<Duration>> {
    for _ in 0..reps.warmup {
        for p in probes.iter_mut() {
            p()?;
        }
    }
    let mut samples: Vec<Vec<Duration>> = probes.iter().map(|_| Vec::new()).collect();
    let start = Instant::now();
    for round in 0..reps.max.max(1) {
        if round >= reps.min.max(1) && start.elapsed() > reps.budget {
            break;
        }
        for (p, s) in probes.iter_mut().zip(samples.iter_mut()) {
            s.push(p()?);
        }
    }
    Ok(samples.iter_mut().map(|s| median(s)).collect())
}

/// Signed difference `a - b` in seconds (medians of noisy figures can cross).
pub fn diff(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() - b.as_secs_f64()
}

/// A duration in seconds, printed in the unit that suits it.
pub fn human(secs: f64) -> String {
    let a = secs.abs();
    if a >= 1.0 {
        format!("{secs:.2} s")
    } else if a >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else if a >= 1e-6 {
        format!("{:.1} µs", secs * 1e6)
    } else {
        format!("{:.0} ns", secs * 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(
            median(&mut [ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
        assert_eq!(median(&mut []), Duration::ZERO);
        assert_eq!(human(0.0123), "12.30 ms");
        assert_eq!(human(-0.000_002_5), "-2.5 µs");
    }

    #[test]
    fn interleaved_runs_every_probe_within_bounds() {
        let mut a = 0;
        let mut b = 0;
        let mut probes: Vec<Probe<'_>> = vec![
            Box::new(|| {
                a += 1;
                Ok(Duration::from_micros(10))
            }),
            Box::new(|| {
                b += 1;
                Ok(Duration::from_micros(20))
            }),
        ];
        let m = interleaved(Reps::new(1, 3, 5, 10_000), &mut probes).unwrap();
        drop(probes);
        assert_eq!(
            m,
            vec![Duration::from_micros(10), Duration::from_micros(20)]
        );
        assert_eq!((a, b), (6, 6));
    }
}
