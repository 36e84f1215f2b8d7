//! Statistics over samples: nearest-rank percentiles and the summary the tables print.

use serde::Serialize;

/// The value below which `share` of the sorted samples fall (nearest rank).
pub fn percentile(sorted: &[f64], share: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Median, p90, min and max of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub median: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(samples: impl IntoIterator<Item = f64>) -> Option<Summary> {
        let mut sorted: Vec<f64> = samples.into_iter().collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            median: percentile(&sorted, 0.5),
            p90: percentile(&sorted, 0.9),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }
}

/// Latency percentiles of a load run, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latencies {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latencies {
    /// From samples in microseconds (sorted here); `None` without samples.
    pub fn of_micros(mut micros: Vec<u32>) -> Option<Latencies> {
        if micros.is_empty() {
            return None;
        }
        micros.sort_unstable();
        let ms: Vec<f64> = micros.iter().map(|&us| f64::from(us) / 1000.0).collect();
        Some(Latencies {
            count: ms.len(),
            p50: percentile(&ms, 0.5),
            p90: percentile(&ms, 0.9),
            p99: percentile(&ms, 0.99),
            max: ms[ms.len() - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 0.5), 50.0);
        assert_eq!(percentile(&samples, 0.99), 99.0);
        assert_eq!(percentile(&[3.0], 0.99), 3.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn summaries_and_latencies() {
        let s = Summary::of([4.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 2.0, 4.0));
        assert!(Summary::of([]).is_none());
        let l = Latencies::of_micros((1..=1000).rev().collect()).unwrap();
        assert_eq!((l.count, l.p50, l.p99, l.max), (1000, 0.5, 0.99, 1.0));
        assert!(Latencies::of_micros(Vec::new()).is_none());
    }
}
