//! Tests of the paired-run statistics `az_bench` decides the 5 % target with.

#[path = "../examples/support/paired.rs"]
mod paired;

use paired::{at_least, at_most, binomial_half_cdf, median, median_ci, MedianCi, Verdict};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[test]
fn binomial_cdf_matches_exact_counts() {
    // n = 10: C(10,0..=2) = 1, 10, 45 over 1024.
    assert!((binomial_half_cdf(10, 0) - 1.0 / 1024.0).abs() < 1e-12);
    assert!((binomial_half_cdf(10, 1) - 11.0 / 1024.0).abs() < 1e-12);
    assert!((binomial_half_cdf(10, 2) - 56.0 / 1024.0).abs() < 1e-12);
    assert!((binomial_half_cdf(10, 10) - 1.0).abs() < 1e-12);
    // Large n: no underflow to 0 or NaN, symmetric around n / 2.
    let half = binomial_half_cdf(2001, 1000);
    assert!((half - 0.5).abs() < 1e-9, "{half}");
}

#[test]
fn median_of_odd_even_and_bad_input() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[1.0, f64::NAN]), None);
}

/// The textbook sign-test intervals: 95 % needs 6 values (min..max, 96.9 %); 10 values give
/// the 2nd..9th (97.9 %); 20 give the 6th..15th (95.9 %).
#[test]
fn interval_uses_the_right_order_statistics() {
    let xs = |n: usize| (1..=n).rev().map(|i| i as f64).collect::<Vec<_>>();
    assert_eq!(median_ci(&xs(5), 0.05), None);
    let ci = median_ci(&xs(6), 0.05).expect("6 values");
    assert_eq!((ci.lo, ci.hi), (1.0, 6.0));
    assert!((ci.coverage - (1.0 - 2.0 / 64.0)).abs() < 1e-12);
    let ci = median_ci(&xs(10), 0.05).expect("10 values");
    assert_eq!((ci.lo, ci.hi, ci.median), (2.0, 9.0, 5.5));
    assert!((ci.coverage - (1.0 - 22.0 / 1024.0)).abs() < 1e-12);
    let ci = median_ci(&xs(20), 0.05).expect("20 values");
    assert_eq!((ci.lo, ci.hi), (6.0, 15.0));
    assert!(ci.coverage >= 0.95 && ci.coverage < 0.96, "{}", ci.coverage);
}

/// On a skewed distribution with a known median (exponential: ln 2), the interval contains the
/// median about as often as its stated coverage says.
#[test]
fn interval_covers_the_true_median_as_often_as_stated() {
    let mut rng = StdRng::seed_from_u64(11);
    let trials = 4000;
    for n in [8, 15, 31] {
        let mut hit = 0;
        let mut stated = 0.0;
        for _ in 0..trials {
            let xs: Vec<f64> = (0..n).map(|_| -(1.0 - rng.random::<f64>()).ln()).collect();
            let ci = median_ci(&xs, 0.05).expect("enough values");
            stated = ci.coverage;
            if ci.lo <= std::f64::consts::LN_2 && std::f64::consts::LN_2 <= ci.hi {
                hit += 1;
            }
        }
        let seen = hit as f64 / trials as f64;
        assert!(stated >= 0.95, "n {n}: stated {stated}");
        assert!(
            (seen - stated).abs() < 0.015,
            "n {n}: seen {seen}, stated {stated}"
        );
    }
}

#[test]
fn verdicts_need_the_whole_interval_on_one_side() {
    let ci = |lo, hi| MedianCi {
        median: (lo + hi) / 2.0,
        lo,
        hi,
        coverage: 0.95,
    };
    // Latency ratio (lower is better), 5 % tolerance.
    assert_eq!(at_most(&ci(0.90, 1.04), 0.05), Verdict::Met);
    assert_eq!(at_most(&ci(0.90, 1.06), 0.05), Verdict::Inconclusive);
    assert_eq!(at_most(&ci(1.06, 1.20), 0.05), Verdict::Missed);
    // Throughput ratio (higher is better).
    assert_eq!(at_least(&ci(0.96, 1.30), 0.05), Verdict::Met);
    assert_eq!(at_least(&ci(0.94, 1.30), 0.05), Verdict::Inconclusive);
    assert_eq!(at_least(&ci(0.80, 0.94), 0.05), Verdict::Missed);
    assert_eq!(Verdict::Inconclusive.as_str(), "inconclusive");
}
