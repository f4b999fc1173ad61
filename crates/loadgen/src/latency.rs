//! A fixed-size, lock-free latency histogram shared by the players of one target: recording a
//! sample is one relaxed atomic add, with no allocation. Buckets are log-linear (64 per power
//! of two above 128 µs), so a percentile is exact below 128 µs and within 1/64 (1.6 %) above.
//! Like the other counters it is snapshotted when the window opens and when it closes.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Samples are clamped below 2^MAX_BITS µs (about 12.7 days).
const MAX_BITS: u32 = 40;
/// Number of buckets.
pub const BUCKETS: usize = SUB * (MAX_BITS as usize - SUB_BITS as usize + 1);

/// The bucket of `us` microseconds.
fn index(us: u64) -> usize {
    let us = us.min((1 << MAX_BITS) - 1);
    if us < 2 * SUB as u64 {
        return us as usize;
    }
    let e = 63 - us.leading_zeros() - SUB_BITS;
    SUB * e as usize + (us >> e) as usize
}

/// The lowest value and the width of bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    if i < 2 * SUB {
        return (i as u64, 1);
    }
    let e = (i / SUB - 1) as u32;
    let m = (i % SUB + SUB) as u64;
    (m << e, 1 << e)
}

/// The histogram.
#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl LatencyHistogram {
    /// Records one sample, in microseconds.
    pub fn record(&self, us: u64) {
        self.buckets[index(us)].fetch_add(1, Ordering::Relaxed);
    }

    /// Copies the counts.
    pub fn snapshot(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }
}

/// A latency distribution in milliseconds: count, mean, min, nearest-rank percentiles and max
/// (each the midpoint of its bucket). All zeros when `n` is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencyDist {
    /// Samples.
    pub n: u64,
    /// Mean (from bucket midpoints).
    pub mean: f64,
    /// Minimum.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

impl LatencyDist {
    /// The distribution of the samples recorded between two snapshots (`end - start`).
    pub fn between(start: &[u64], end: &[u64]) -> LatencyDist {
        let counts: Vec<u64> = end
            .iter()
            .enumerate()
            .map(|(i, &e)| e.saturating_sub(start.get(i).copied().unwrap_or(0)))
            .collect();
        let n: u64 = counts.iter().sum();
        if n == 0 {
            return LatencyDist::default();
        }
        let mid_ms = |i: usize| {
            let (lo, w) = bounds(i);
            (lo as f64 + (w - 1) as f64 / 2.0) / 1000.0
        };
        let rank = |p: f64| ((p / 100.0 * n as f64).ceil() as u64).clamp(1, n);
        let at_rank = |r: u64| {
            let mut seen = 0;
            for (i, &c) in counts.iter().enumerate() {
                seen += c;
                if seen >= r {
                    return mid_ms(i);
                }
            }
            0.0
        };
        let sum: f64 = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| c as f64 * mid_ms(i))
            .sum();
        LatencyDist {
            n,
            mean: sum / n as f64,
            min: at_rank(1),
            p50: at_rank(rank(50.0)),
            p95: at_rank(rank(95.0)),
            p99: at_rank(rank(99.0)),
            max: at_rank(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut last = 0;
        for us in (0..1_000_000u64).chain([1 << 39, u64::MAX]) {
            let i = index(us);
            assert!(i < BUCKETS);
            assert!(i == last || i == last + 1 || us >= 1 << 39, "{us}");
            last = i;
            let (lo, w) = bounds(i);
            let us = us.min((1 << MAX_BITS) - 1);
            assert!(lo <= us && us < lo + w, "{us} in bucket {i} = {lo}+{w}");
            assert!(w == 1 || (w as f64) / (lo as f64) <= 1.0 / 64.0);
        }
    }

    #[test]
    fn percentiles() {
        let h = LatencyHistogram::default();
        let start = h.snapshot();
        for ms in 1..=100u64 {
            h.record(ms * 1000);
        }
        let d = LatencyDist::between(&start, &h.snapshot());
        assert_eq!(d.n, 100);
        let close = |a: f64, b: f64| (a - b).abs() <= b / 64.0;
        assert!(close(d.min, 1.0) && close(d.p50, 50.0), "{d:?}");
        assert!(close(d.p95, 95.0) && close(d.p99, 99.0) && close(d.max, 100.0));
        assert!(close(d.mean, 50.5), "{d:?}");
        // Only what was recorded after `mid` counts.
        let mid = h.snapshot();
        h.record(7);
        let d = LatencyDist::between(&mid, &h.snapshot());
        assert_eq!((d.n, d.min, d.max), (1, 0.007, 0.007));
        assert_eq!(LatencyDist::between(&mid, &mid), LatencyDist::default());
    }
}
