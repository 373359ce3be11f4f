//! Whole-scenario benchmarks: the built-in GitHub 2018 replay, one design
//! per benchmark (1 hour simulated, three clusters, every check), and the
//! longest durability and control-plane replays (GitLab 2017: 43 h
//! simulated; AWS ELB 2012: 26 h, 2,000 load balancers).

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
    let mut group = c.benchmark_group("replay/incidents");
    group.sample_size(10);
    for (name, seed) in [
        ("gitlab-2017", 2017),
        ("aws-elb-2012", 1224),
        ("ovh-2017", 629),
        ("elastic-2019-01", 118),
        ("elastic-2019-02", 204),
        ("criteo-hdfs", 240),
    ] {
        let scenario = incidents::find(name)
            .expect("built in")
            .scenario()
            .expect("valid");
        group.bench_function(name, |b| {
            b.iter(|| {
                let o = run(&scenario, None, Seed(seed), &RunOptions::default()).expect("runs");
                black_box(o.events)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, replay);
criterion_main!(benches);
