//! Checker benchmarks: linearizability against history length × concurrency,
//! Jepsen-style single-register histories, and a key-value history read and
//! checked whole. The whole-process figure for big files comes from
//! `blastradius check --stats FILE` (see README).

use blastradius::Seed;
use blastradius::check::linear::{self, Options};
use blastradius::history::{jsonl, synth};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn register(ops: usize, clients: usize) -> synth::Params {
    synth::Params {
        ops,
        clients,
        values: 0,
        reads: 0.5,
        cas: 0.0,
        info: 0.01,
        latency_ns: 1_000_000,
        think_ns: 200_000,
        ..synth::Params::default()
    }
}

fn length_by_concurrency(c: &mut Criterion) {
    let mut g = c.benchmark_group("linearizability");
    g.sample_size(10);
    for ops in [1_000usize, 10_000, 100_000] {
        for clients in [2usize, 5, 10] {
            let h = synth::generate(&register(ops, clients), Seed(1));
            g.throughput(Throughput::Elements(ops as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("register/{clients}-clients"), ops),
                &h,
                |b, h| b.iter(|| black_box(linear::check(h, &Options::default()).unwrap().verdict)),
            );
        }
    }
    g.finish();
}

fn jepsen_register(c: &mut Criterion) {
    // About 100 operations, 5 clients, values 0-4, timed-out writes and cas.
    let histories: Vec<_> = (0..20)
        .map(|s| {
            synth::generate(
                &synth::Params {
                    ops: 100,
                    clients: 5,
                    values: 5,
                    reads: 0.4,
                    cas: 0.3,
                    info: 0.15,
                    latency_ns: 3_000_000,
                    think_ns: 100_000,
                    ..synth::Params::default()
                },
                Seed(s),
            )
        })
        .collect();
    let mut g = c.benchmark_group("jepsen-register");
    g.throughput(Throughput::Elements(20));
    g.bench_function("20-histories", |b| {
        b.iter(|| {
            for h in &histories {
                black_box(linear::check(h, &Options::default()).unwrap().verdict);
            }
        })
    });
    g.finish();
}

fn kv_read_and_check(c: &mut Criterion) {
    let h = synth::generate(
        &synth::Params {
            ops: 100_000,
            keys: 100,
            clients: 50,
            values: 0,
            cas: 0.0,
            info: 0.01,
            latency_ns: 1_000_000,
            think_ns: 100_000,
            ..synth::Params::default()
        },
        Seed(2),
    );
    let text = jsonl::to_string(&h);
    let mut g = c.benchmark_group("kv");
    g.sample_size(10);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("parse-and-check-100k", |b| {
        b.iter(|| {
            let h = jsonl::parse_str(&text, "bench").unwrap();
            black_box(linear::check(&h, &Options::default()).unwrap().verdict)
        })
    });
    g.finish();
}

/// The key-value shapes of Jepsen and porcupine tests: appends and writes
/// on few keys, many clients, each operation taking effect at a random
/// instant inside its interval, a few indeterminate operations.
fn kv_shape(ops: usize, keys: usize, hot: bool) -> synth::Params {
    synth::Params {
        ops,
        keys,
        clients: 50,
        values: 0,
        reads: 0.5,
        cas: 0.0,
        appends: 0.25,
        info: 0.01,
        pending: 0.2,
        fail: 0.01,
        latency_ns: 1_000_000,
        think_ns: 100_000,
        hot_keys: hot,
    }
}

fn kv_shapes(c: &mut Criterion) {
    let mut g = c.benchmark_group("kv-shapes");
    g.sample_size(10);
    // About 2,000 operations on 10 keys with a stale read: invalid.
    let h = synth::generate(&kv_shape(2_024, 10, false), Seed(3));
    let stale = synth::corrupt(&jsonl::to_string(&h), synth::Corruption::Stale).unwrap();
    let stale = jsonl::parse_str(&stale, "bench").unwrap();
    g.throughput(Throughput::Elements(2_024));
    g.bench_function("appends-2k-50-clients-stale/invalid", |b| {
        b.iter(|| black_box(linear::check(&stale, &Options::default()).unwrap().verdict))
    });
    // 100,000 operations on 10 hot keys: valid.
    let hot = synth::generate(&kv_shape(100_000, 10, true), Seed(4));
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("hot-appends-100k/valid", |b| {
        b.iter(|| black_box(linear::check(&hot, &Options::default()).unwrap().verdict))
    });
    g.finish();
}

/// The same histories decided from the read-mapping and by the search
/// (`read_mapping: false`): registers of unique values at 10 clients
/// (both decide them), and the many-clients shape of `gen_history --shape
/// many-clients` on three keys, valid and with a stale read.
fn read_mapping_against_search(c: &mut Criterion) {
    let mut g = c.benchmark_group("read-mapping-vs-search");
    g.sample_size(10);
    let many = |stale: bool| {
        let p = synth::Params::many_clients(2_000, 3, 50);
        let mut text = jsonl::to_string(&synth::generate(&p, Seed(11)));
        if stale {
            text = synth::corrupt(&text, synth::Corruption::Stale).expect("a read");
        }
        jsonl::parse_str(&text, "bench").expect("parses")
    };
    let shapes = [
        (
            "register-10-clients-10k",
            synth::generate(&register(10_000, 10), Seed(1)),
        ),
        ("many-clients-3-keys", many(false)),
        ("many-clients-3-keys-stale", many(true)),
    ];
    for (name, h) in &shapes {
        g.throughput(Throughput::Elements(h.ops().len() as u64));
        for (how, read_mapping) in [("read-mapping", true), ("search", false)] {
            let options = Options {
                read_mapping,
                ..Options::default()
            };
            g.bench_with_input(BenchmarkId::new(*name, how), h, |b, h| {
                b.iter(|| black_box(linear::check(h, &options).unwrap().verdict))
            });
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    length_by_concurrency,
    jepsen_register,
    kv_read_and_check,
    kv_shapes,
    read_mapping_against_search
);
criterion_main!(benches);
