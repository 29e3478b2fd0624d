use super::*;

const MIN: u64 = 60_000;
const B: u64 = 15 * MIN;
/// A bucket-aligned start far from the epoch.
const T0: u64 = 1_000_000 * B;

fn w() -> Windows {
    Windows::new(B, 96, 30 * MIN)
}

#[test]
fn encode_is_monotone_rounds_up_and_is_close() {
    let mut prev = 0;
    for v in 0..300_000u64 {
        let c = encode(v);
        assert!(c >= prev, "not monotone at {v}");
        prev = c;
    }
    for v in (0..5000u64)
        .chain((0..60).map(|s| 3u64 << s))
        .chain([u64::MAX / 3])
    {
        let c = encode(v);
        let d = decode(c);
        assert!(d >= v || c == MAX_CODE, "{v} decoded to {d}");
        if c != MAX_CODE {
            assert!((d - v) as f64 <= v as f64 / 2048.0 + 1.0, "{v} -> {d}");
        }
    }
    assert_eq!(decode(encode(1_000)), 1_000);
    assert_ne!(encode(u64::MAX), EMPTY);
}

#[test]
fn demand_is_the_max_of_bucket_means() {
    let mut w = w();
    // Bucket 0: samples 100 and 300 -> mean 200. Bucket 1: 500 -> 500. Bucket 2: 50.
    for (t, v) in [(0, 100), (MIN, 300), (B, 500), (2 * B, 50)] {
        assert_eq!(
            w.record("t", 0, T0 + t, Some(v), Some(v * 2), false),
            SampleOutcome::Recorded
        );
    }
    let d = w.demand("t", 0, T0 + 2 * B).unwrap();
    assert_eq!(d.in_bytes_per_sec, 500);
    assert_eq!(d.out_bytes_per_sec, 1000);
    assert!(w.demand("t", 1, T0).is_none());
    assert!(w.demand("other", 0, T0).is_none());
}

#[test]
fn old_buckets_leave_the_window() {
    let mut w = w();
    w.record("t", 0, T0, Some(9_000), None, false);
    w.record("t", 0, T0 + B, Some(10), None, false);
    assert_eq!(w.demand("t", 0, T0 + B).unwrap().in_bytes_per_sec, 9_000);
    // 96 buckets later the 9000 bucket is outside the 24 h window.
    assert_eq!(w.demand("t", 0, T0 + 96 * B).unwrap().in_bytes_per_sec, 10);
    assert!(w.demand("t", 0, T0 + 97 * B).is_none());
    // A sample after a long silence must not resurrect the old ring slot.
    w.record("t", 0, T0 + 96 * B + MIN, Some(20), None, false);
    w.record("t", 0, T0 + 192 * B + MIN, Some(30), None, false);
    assert_eq!(w.demand("t", 0, T0 + 192 * B).unwrap().in_bytes_per_sec, 30);
}

#[test]
fn gap_buckets_are_cleared_in_the_ring() {
    let mut w = Windows::new(B, 4, 0);
    for i in 0..4 {
        w.record("t", 0, T0 + i * B, Some(1000), None, false);
    }
    // Jump 3 buckets: the slots for the skipped buckets held 1000 from a window ago.
    w.record("t", 0, T0 + 6 * B, Some(5), None, false);
    assert_eq!(w.demand("t", 0, T0 + 6 * B).unwrap().in_bytes_per_sec, 1000);
    w.record("t", 0, T0 + 7 * B, Some(5), None, false);
    // Window is buckets 4..=7: 4 and 5 had no samples, 6 and 7 are 5.
    assert_eq!(w.demand("t", 0, T0 + 7 * B).unwrap().in_bytes_per_sec, 5);
}

#[test]
fn reassigning_samples_and_the_cool_down_are_ignored() {
    let mut w = w();
    w.record("t", 0, T0, Some(100), None, false);
    assert_eq!(
        w.record("t", 0, T0 + MIN, Some(90_000), None, true),
        SampleOutcome::Reassigning
    );
    assert_eq!(
        w.record("t", 0, T0 + 20 * MIN, Some(80_000), None, false),
        SampleOutcome::CoolingDown
    );
    assert_eq!(
        w.record("t", 0, T0 + 31 * MIN, Some(120), None, false),
        SampleOutcome::Recorded
    );
    assert_eq!(
        w.demand("t", 0, T0 + 31 * MIN).unwrap().in_bytes_per_sec,
        120
    );
    w.mark_reassigning("t", 0, T0 + 40 * MIN);
    assert_eq!(
        w.record("t", 0, T0 + 50 * MIN, Some(1), None, false),
        SampleOutcome::CoolingDown
    );
}

#[test]
fn late_samples_are_dropped() {
    let mut w = w();
    w.record("t", 0, T0 + B, Some(100), None, false);
    assert_eq!(
        w.record("t", 0, T0, Some(100_000), None, false),
        SampleOutcome::Late
    );
    assert_eq!(w.demand("t", 0, T0 + B).unwrap().in_bytes_per_sec, 100);
}

#[test]
fn memory_is_compact_per_partition() {
    let mut w = w();
    w.reserve(1000);
    for p in 0..1000 {
        w.record("t", p, T0, Some(1), Some(1), false);
    }
    let per = w.heap_bytes() / 1000;
    // 96 x 2 buckets x 2 bytes = 384, plus bookkeeping.
    assert!((384..520).contains(&per), "{per} bytes per partition");
}

#[test]
fn extreme_rates_and_times_saturate_instead_of_panicking() {
    // Two samples at u64::MAX in one bucket: the sum used to overflow (a panic in debug, a
    // wrap to a tiny demand in release).
    let mut w = w();
    w.record("t", 0, T0, Some(u64::MAX), Some(u64::MAX), false);
    w.record("t", 0, T0 + 1, Some(u64::MAX), Some(u64::MAX), false);
    let d = w.demand("t", 0, T0 + 1).unwrap();
    assert_eq!(d.in_bytes_per_sec, decode(MAX_CODE));
    // A reassigning sample stamped at the end of time: the cool-down end used to overflow.
    w.record("t", 1, u64::MAX - 5, Some(1), None, true);
    assert_eq!(
        w.record("t", 1, u64::MAX - 1, Some(1), None, false),
        SampleOutcome::CoolingDown
    );
    // A query at the end of time.
    assert_eq!(w.demand("t", 0, u64::MAX), None);
    let mut one = Windows::new(1, 1, u64::MAX);
    one.record("t", 0, u64::MAX - 1, Some(5), None, false);
    assert_eq!(one.demand("t", 0, u64::MAX), None, "a full window ago");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn extreme() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            Just(u64::MAX),
            Just(u64::MAX - 1),
            Just(u64::MAX / 2),
            any::<u64>(),
            0u64..10_000_000,
        ]
    }

    proptest! {
        /// Whatever the rates, times and shapes, recording, querying and pruning never panic
        /// (overflow panics in debug builds, which tests use), and no demand wraps past the
        /// largest storable rate.
        #[test]
        fn window_arithmetic_never_panics(
            bucket_ms in prop_oneof![Just(1u64), Just(u64::MAX), 1u64..10_000_000],
            n in 1usize..8,
            cooldown in extreme(),
            samples in proptest::collection::vec(
                (extreme(), proptest::option::of(extreme()), proptest::option::of(extreme()),
                 any::<bool>(), 0i32..3),
                1..20,
            ),
            query in extreme(),
        ) {
            let mut w = Windows::new(bucket_ms, n, cooldown);
            for (ts, inb, outb, reassigning, p) in samples {
                w.record("t", p, ts, inb, outb, reassigning);
                if let Some(d) = w.demand("t", p, query) {
                    prop_assert!(d.in_bytes_per_sec <= decode(MAX_CODE));
                    prop_assert!(d.out_bytes_per_sec <= decode(MAX_CODE));
                }
            }
            let _ = w.retain(|_, p| p != 1);
            let _ = w.demand("t", 0, query);
        }
    }
}
