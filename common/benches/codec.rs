//! Codec throughput: decode a realistic 4,000-replica full record, reported in replica-stats per
//! second (criterion's element throughput), and print its encoded size.
//!
//! `cargo bench -p kmedic-common --bench codec`

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kmedic_common::codec;
use std::hint::black_box;

const REPLICAS: usize = 4_000;

fn bench(c: &mut Criterion) {
    let record = support::realistic_full(REPLICAS);
    let bytes = codec::encode(&record);
    println!(
        "encoded full-stats record, {REPLICAS} replicas: {} bytes ({:.1} bytes/replica); heartbeat: {} bytes",
        bytes.len(),
        bytes.len() as f64 / REPLICAS as f64,
        codec::encode(&support::golden_heartbeat()).len()
    );
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(REPLICAS as u64));
    g.bench_function("decode_full_4000_replicas", |b| {
        b.iter(|| codec::decode(black_box(&bytes)).unwrap())
    });
    g.bench_function("encode_full_4000_replicas", |b| {
        b.iter(|| codec::encode(black_box(&record)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
