//! Whole-scenario benchmarks: the built-in GitHub 2018 replay, one design
//! per benchmark (1 hour simulated, three clusters, every check).

use blastradius::Seed;
use blastradius::incidents;
use blastradius::run::{RunOptions, run};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn replay(c: &mut Criterion) {
    let scenario = incidents::find("github-2018")
        .expect("built in")
        .scenario()
        .expect("valid");
    let mut group = c.benchmark_group("replay/github-2018");
    group.sample_size(10);
    for design in ["as-2018", "raft"] {
        group.bench_function(design, |b| {
            b.iter(|| {
                let o =
                    run(&scenario, Some(design), Seed(2018), &RunOptions::default()).expect("runs");
                black_box(o.events)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, replay);
criterion_main!(benches);
