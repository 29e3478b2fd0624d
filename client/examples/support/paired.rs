//! Statistics for paired A/B benchmark runs on a noisy machine (issue 11: "no worse than 5 %").
//!
//! Each pair runs both modes back to back (ABBA order), so machine load that drifts between
//! pairs hits both sides of a pair alike; the figure compared is the ratio within a pair. The
//! median of those ratios gets a distribution-free confidence interval from order statistics
//! (the sign test's interval): with `n` pairs, the `k`-th smallest and `k`-th largest ratio,
//! `k` the largest with `P(Binomial(n, 1/2) <= k - 1) <= alpha / 2`. It needs only independent
//! pairs with a continuous distribution (no normality, no resampling, exact coverage of at
//! least `1 - alpha`), and it holds for the ratio as for its logarithm (a monotone map), so
//! "AZ-aware / default" and "default / AZ-aware" give mirrored bounds.
//!
//! Shared by `az_bench` (via `#[path]`) and its test `client/tests/paired_stats.rs`.

/// A confidence interval of a median.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianCi {
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
    /// The interval's exact coverage (at least the confidence asked for).
    pub coverage: f64,
}

/// `P(Binomial(n, 1/2) <= k)`, summed in log space so that large `n` does not underflow.
pub fn binomial_half_cdf(n: usize, k: usize) -> f64 {
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_pmf = ln_half_n; // i = 0: C(n, 0) / 2^n
    let mut sum = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            ln_pmf += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        sum += ln_pmf.exp();
    }
    sum.min(1.0)
}

/// The median of `xs` (the mean of the two middle values for an even count); `None` if empty
/// or if any value is NaN.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The sign-test confidence interval of the median of `xs` at confidence `1 - alpha`; `None`
/// when there are too few values for that confidence (95 % needs at least 6) or a NaN.
pub fn median_ci(xs: &[f64], alpha: f64) -> Option<MedianCi> {
    let median = median(xs)?;
    let n = xs.len();
    // The largest k (1-based) with P(B <= k - 1) <= alpha / 2.
    let mut k = 0;
    while k < n / 2 && binomial_half_cdf(n, k) <= alpha / 2.0 {
        k += 1;
    }
    if k == 0 {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    Some(MedianCi {
        median,
        lo: v[k - 1],
        hi: v[n - k],
        coverage: 1.0 - 2.0 * binomial_half_cdf(n, k - 1),
    })
}

/// What an interval says about a ratio (candidate / baseline) against a tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The whole interval is on the good side of the tolerance.
    Met,
    /// The whole interval is on the bad side of the tolerance.
    Missed,
    /// The interval straddles the tolerance: the runs cannot tell.
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// A ratio where higher is better (throughput): met when the lower bound is at least
/// `1 - tolerance`, missed when the upper bound is below it.
pub fn at_least(ci: &MedianCi, tolerance: f64) -> Verdict {
    let limit = 1.0 - tolerance;
    if ci.lo >= limit {
        Verdict::Met
    } else if ci.hi < limit {
        Verdict::Missed
    } else {
        Verdict::Inconclusive
    }
}

/// A ratio where lower is better (latency): met when the upper bound is at most
/// `1 + tolerance`, missed when the lower bound is above it.
pub fn at_most(ci: &MedianCi, tolerance: f64) -> Verdict {
    let limit = 1.0 + tolerance;
    if ci.hi <= limit {
        Verdict::Met
    } else if ci.lo > limit {
        Verdict::Missed
    } else {
        Verdict::Inconclusive
    }
}
