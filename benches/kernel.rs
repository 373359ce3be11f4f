//! Kernel benchmarks: PHOLD (the kernel against a plain `BinaryHeap` loop,
//! against node count) and network delivery over a routed topology.
//!
//! `cargo bench --bench kernel`. Headline figures come from
//! `cargo run --release --example phold -- --engine compare`.

use blastradius::phold::{self, Params};
use blastradius::systems::services::{PingConfig, ServiceNode, ServiceSpec};
use blastradius::{Latency, Seed, SimDuration, SimTime, Simulation, SiteKind, Topology};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn phold_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("phold");
    group.sample_size(10);
    for (lps, population) in [(64u32, 16u32), (1024, 16), (16384, 4)] {
        let p = Params {
            lps,
            population,
            events: 300_000,
            ..Params::default()
        };
        group.throughput(Throughput::Elements(p.events));
        group.bench_with_input(BenchmarkId::new("kernel", lps), &p, |b, p| {
            b.iter_batched(
                || phold::build(*p),
                |mut sim| black_box(phold::run_built(&mut sim)),
                criterion::BatchSize::LargeInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("binary_heap", lps), &p, |b, p| {
            b.iter_batched(
                || phold::heap_world(*p),
                |mut w| black_box(phold::heap_loop(&mut w)),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// Pings between nodes on four sites joined by a ring of jittery links:
/// every message is routed, latency-sampled and loss-checked.
fn network_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("network");
    group.sample_size(10);
    for nodes in [16usize, 256] {
        let build = || {
            let mut t = Topology::new();
            for s in ["a", "b", "c", "d"] {
                t.add_site(s, SiteKind::Datacenter).unwrap();
            }
            let jitter = Latency::Uniform {
                min: SimDuration::from_millis(5),
                max: SimDuration::from_millis(7),
            };
            for (n, x, y) in [
                ("ab", "a", "b"),
                ("bc", "b", "c"),
                ("cd", "c", "d"),
                ("da", "d", "a"),
            ] {
                t.add_link(n, x, y, jitter).unwrap();
            }
            let mut sim: Simulation<ServiceNode> = Simulation::new(t, Seed(1));
            let sites = ["a", "b", "c", "d"];
            for i in 0..nodes {
                let spec = if i % 2 == 0 {
                    ServiceSpec::Ping(PingConfig {
                        target: format!("n{}", i + 1),
                        interval: SimDuration::from_millis(1),
                        timeout: SimDuration::from_millis(100),
                    })
                } else {
                    ServiceSpec::Echo {}
                };
                let node = ServiceNode::new(&spec, |name| {
                    name[1..].parse::<u32>().ok().map(blastradius::NodeId)
                })
                .unwrap();
                sim.add_node(&format!("n{i}"), sites[(i * 3) % 4], node)
                    .unwrap();
            }
            sim
        };
        let events = {
            let mut sim = build();
            sim.run_until(SimTime::from_secs(1));
            sim.events_processed()
        };
        group.throughput(Throughput::Elements(events));
        group.bench_function(BenchmarkId::new("ping_echo_1s", nodes), |b| {
            b.iter_batched(
                build,
                |mut sim| black_box(sim.run_until(SimTime::from_secs(1))),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, phold_bench, network_bench);
criterion_main!(benches);
