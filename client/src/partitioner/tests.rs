use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

const STICKY: Duration = Duration::from_millis(10);

/// Topic "t" with partition `i` led in `azs[i]` (`None`: no leader).
fn topic_t(azs: &[Option<&'static str>]) -> LeaderMap {
    LeaderMap::from_parts([("t", numbered(azs.iter().copied()))])
}

/// `(partition, leader AZ)` pairs, partitions numbered from 0.
fn numbered(
    azs: impl IntoIterator<Item = Option<&'static str>>,
) -> Vec<(i32, Option<&'static str>)> {
    azs.into_iter()
        .enumerate()
        .map(|(p, az)| (p as i32, az))
        .collect()
}

/// Six partitions: 0 and 3 led in az-a, 1 and 4 in az-b, 2 in az-c, 5 without a leader.
fn six() -> LeaderMap {
    let (a, b, c) = (Some("az-a"), Some("az-b"), Some("az-c"));
    topic_t(&[a, b, c, a, b, None])
}

fn partitioner(az: Option<&str>) -> AzPartitioner {
    let mut p = AzPartitioner::new(az.map(str::to_string), STICKY).with_seed(0);
    p.update(six());
    p
}

#[test]
fn unkeyed_records_stay_on_partitions_led_in_the_az() {
    let mut p = partitioner(Some("az-b"));
    let t0 = Instant::now();
    for i in 0..100 {
        let route = p.route("t", None, t0 + Duration::from_millis(i * 3));
        assert!(matches!(route, Route::Local(1 | 4)), "{route:?}");
    }
}

#[test]
fn keyed_records_are_left_to_the_key_hash() {
    let mut p = partitioner(Some("az-b"));
    assert_eq!(p.route("t", Some(b"k"), Instant::now()), Route::Hashed);
    // An empty key is a key: it hashes like any other.
    assert_eq!(p.route("t", Some(b""), Instant::now()), Route::Hashed);
    assert_eq!(Route::Hashed.partition(), None);
}

#[test]
fn falls_back_to_all_partitions_and_says_why() {
    let now = Instant::now();
    assert_eq!(
        partitioner(None).route("t", None, now),
        Route::Fallback(Fallback::AzUnknown)
    );
    assert_eq!(
        partitioner(Some("az-b")).route("other", None, now),
        Route::Fallback(Fallback::TopicUnknown)
    );
    let fallback = partitioner(Some("az-d")).route("t", None, now);
    assert_eq!(fallback, Route::Fallback(Fallback::NoLocalLeader));
    assert_eq!(fallback.partition(), None);
}

#[test]
fn sticks_to_one_partition_for_the_window_then_rotates() {
    let mut p = partitioner(Some("az-a"));
    let t0 = Instant::now();
    let first = p.route("t", None, t0);
    assert_eq!(p.route("t", None, t0 + Duration::from_millis(9)), first);
    let second = p.route("t", None, t0 + Duration::from_millis(10));
    assert_ne!(second, first);
    assert_eq!(p.route("t", None, t0 + Duration::from_millis(20)), first);
}

#[test]
fn follows_a_leader_change_at_once() {
    let mut p = partitioner(Some("az-a"));
    let t0 = Instant::now();
    assert_eq!(p.route("t", None, t0), Route::Local(0));
    // Partition 0's leadership moves to az-c; partition 4's comes to az-a.
    let (a, b, c) = (Some("az-a"), Some("az-b"), Some("az-c"));
    p.update(topic_t(&[c, b, c, a, a, None]));
    // Within the sticky window, yet partition 0 is left at once.
    let mut seen = Vec::new();
    for i in 0..40 {
        match p.route("t", None, t0 + Duration::from_millis(1 + i * 5)) {
            Route::Local(part) => seen.push(part),
            other => panic!("{other:?}"),
        }
    }
    assert!(seen.iter().all(|part| [3, 4].contains(part)), "{seen:?}");
    assert!(seen.contains(&3) && seen.contains(&4), "{seen:?}");
    // All leadership leaves az-a: back to all partitions.
    p.update(LeaderMap::from_parts([("t", vec![(0, Some("az-b"))])]));
    assert_eq!(
        p.route("t", None, t0 + Duration::from_secs(1)),
        Route::Fallback(Fallback::NoLocalLeader)
    );
}

/// Random leader maps: per partition, a leader AZ among a, b, c, or none.
fn leader_map() -> impl Strategy<Value = Vec<Option<u8>>> {
    prop::collection::vec(prop::option::weighted(0.9, 0u8..3), 1..40)
}

fn az_name(i: u8) -> &'static str {
    ["az-a", "az-b", "az-c"][usize::from(i)]
}

proptest! {
    /// Unkeyed: always a partition led in the producer's AZ when there is one, else the
    /// fallback. Keyed: always left to the key hash.
    #[test]
    fn every_route_is_local_hashed_or_an_explained_fallback(
        leaders in leader_map(),
        own in 0u8..4,
        steps in prop::collection::vec((0u64..30, any::<bool>()), 1..200),
        seed in any::<usize>(),
    ) {
        let parts = numbered(leaders.iter().map(|az| az.map(az_name)));
        let own_az = (own < 3).then(|| az_name(own));
        let local: Vec<i32> = parts
            .iter()
            .filter(|(_, az)| own_az.is_some() && *az == own_az)
            .map(|(p, _)| *p)
            .collect();
        let mut p = AzPartitioner::new(own_az.map(str::to_string), STICKY).with_seed(seed);
        p.update(LeaderMap::from_parts([("t", parts)]));
        let mut now = Instant::now();
        for (ms, keyed) in steps {
            now += Duration::from_millis(ms);
            let key: Option<&[u8]> = keyed.then_some(b"key".as_slice());
            match p.route("t", key, now) {
                Route::Hashed => prop_assert!(keyed),
                Route::Local(part) => prop_assert!(!keyed && local.contains(&part)),
                Route::Fallback(why) => {
                    prop_assert!(!keyed && local.is_empty());
                    let expected = if own_az.is_none() { Fallback::AzUnknown } else { Fallback::NoLocalLeader };
                    prop_assert_eq!(why, expected);
                }
            }
        }
    }

    /// Over many sticky windows, every local partition gets an equal share (within one window).
    #[test]
    fn local_partitions_share_evenly_over_time(
        leaders in leader_map(),
        windows in 1usize..300,
        seed in any::<usize>(),
    ) {
        let parts = numbered(leaders.iter().map(|az| az.map(az_name)));
        let local = parts.iter().filter(|(_, az)| *az == Some("az-a")).count();
        prop_assume!(local > 0);
        let mut p = AzPartitioner::new(Some("az-a".into()), STICKY).with_seed(seed);
        p.update(LeaderMap::from_parts([("t", parts)]));
        let t0 = Instant::now();
        let mut counts = std::collections::HashMap::<i32, usize>::new();
        for w in 0..windows {
            if let Route::Local(part) = p.route("t", None, t0 + STICKY * w as u32) {
                *counts.entry(part).or_default() += 1;
            }
        }
        let max = counts.values().copied().max().unwrap_or(0);
        let min = if counts.len() < local { 0 } else { counts.values().copied().min().unwrap_or(0) };
        prop_assert!(max - min <= 1, "{counts:?} over {local} local partitions");
    }
}
