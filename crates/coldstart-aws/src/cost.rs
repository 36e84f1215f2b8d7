//! What a run cost, from what Lambda billed: GB-seconds (Billed Duration times memory size) and
//! requests, at Lambda's published on-demand prices.
//!
//! Prices: <https://aws.amazon.com/lambda/pricing/>, US East (N. Virginia), the first tier of
//! monthly usage: x86_64 $0.0000166667 and arm64 $0.0000133334 per GB-second, $0.20 per million
//! requests. Other regions differ by a few percent; the free tier is not subtracted; CloudWatch
//! Logs (a few kB per invocation) and S3 (the packages, once) are left out as negligible.

use std::fmt;

use packaging::Architecture;
use serde::Serialize;

/// USD per GB-second, x86_64.
pub const X86_64_PER_GB_SECOND: f64 = 0.000_016_666_7;
/// USD per GB-second, arm64.
pub const ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// USD per request.
pub const PER_REQUEST: f64 = 0.20 / 1_000_000.0;
/// Where the prices come from, recorded with every estimate.
pub const PRICES: &str = "https://aws.amazon.com/lambda/pricing/ (US East (N. Virginia), first tier; x86_64 $0.0000166667/GB-s, arm64 $0.0000133334/GB-s, $0.20 per 1M requests; free tier not subtracted)";

/// What a run used: every invocation and its billed duration at its memory size.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    pub requests: u64,
    pub gb_seconds_x86_64: f64,
    pub gb_seconds_arm64: f64,
}

impl Usage {
    /// One request sent (counted whether or not its report is read).
    pub fn invoked(&mut self) {
        self.requests += 1;
    }

    /// An invocation's billed duration at `memory_mb`.
    pub fn billed(&mut self, architecture: Architecture, memory_mb: u32, billed_ms: u64) {
        let gb_seconds = billed_ms as f64 / 1000.0 * f64::from(memory_mb) / 1024.0;
        match architecture {
            Architecture::X86_64 => self.gb_seconds_x86_64 += gb_seconds,
            Architecture::Arm64 => self.gb_seconds_arm64 += gb_seconds,
        }
    }

    /// The estimate at the published prices.
    pub fn cost(&self) -> Cost {
        let compute = self.gb_seconds_x86_64 * X86_64_PER_GB_SECOND
            + self.gb_seconds_arm64 * ARM64_PER_GB_SECOND;
        let requests = self.requests as f64 * PER_REQUEST;
        Cost {
            usage: self.clone(),
            compute_usd: compute,
            requests_usd: requests,
            total_usd: compute + requests,
            prices: PRICES,
        }
    }
}

/// The estimate, as printed and written to the JSON file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub usage: Usage,
    pub compute_usd: f64,
    pub requests_usd: f64,
    pub total_usd: f64,
    pub prices: &'static str,
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests, {:.3} GB-s x86_64 + {:.3} GB-s arm64: about ${:.6} (compute ${:.6}, \
             requests ${:.6}) at Lambda's list prices",
            self.usage.requests,
            self.usage.gb_seconds_x86_64,
            self.usage.gb_seconds_arm64,
            self.total_usd,
            self.compute_usd,
            self.requests_usd
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb_seconds_and_requests_at_the_published_prices() {
        let mut usage = Usage::default();
        // 1024 MB for 1 s is one GB-second; 512 MB for 2 s is another.
        for (architecture, memory, billed) in [
            (Architecture::X86_64, 1024, 1000),
            (Architecture::X86_64, 512, 2000),
            (Architecture::Arm64, 128, 8000),
        ] {
            usage.invoked();
            usage.billed(architecture, memory, billed);
        }
        assert_eq!(usage.requests, 3);
        assert_eq!(usage.gb_seconds_x86_64, 2.0);
        assert_eq!(usage.gb_seconds_arm64, 1.0);
        let cost = usage.cost();
        let expected = 2.0 * 0.000_016_666_7 + 0.000_013_333_4 + 3.0 * 0.000_000_2;
        assert!((cost.total_usd - expected).abs() < 1e-12, "{cost}");
        assert!(
            cost.to_string()
                .starts_with("3 requests, 2.000 GB-s x86_64 + 1.000 GB-s arm64")
        );
    }
}
