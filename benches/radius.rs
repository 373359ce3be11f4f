//! The blast radius against the runs it is made of: every link and site
//! of the `[[node]]` heartbeat ring (`scenarios/heartbeat-ring.toml`)
//! injected on one seed, beside one plain run of the same scenario. The
//! ratio says what enumerating units, the baseline and the structural
//! predictions cost over the runs themselves (rayon runs the cases in
//! parallel, so on more cores the radius gains and the single run does
//! not).

use blastradius::Seed;
use blastradius::radius::{Options, Plan, UnitKind};
use blastradius::run::{RunOptions, run};
use blastradius::scenario::Scenario;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

fn radius(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/heartbeat-ring.toml");
    let scenario = Scenario::load(&path).expect("valid");
    let mut options = Options::new(vec![7]);
    options.kinds = vec![UnitKind::Link, UnitKind::Site, UnitKind::Node];
    let jobs = Plan::new(&scenario, &options).expect("plans").job_count();
    let mut group = c.benchmark_group("radius/heartbeat-ring");
    group.sample_size(10);
    group.bench_function(format!("radius, {jobs} runs"), |b| {
        b.iter(|| {
            let plan = Plan::new(&scenario, &options).expect("plans");
            let r = plan
                .run(
                    &scenario,
                    (1, 1),
                    Vec::new(),
                    &|| (),
                    &RunOptions::default(),
                )
                .expect("runs");
            black_box(r.missing())
        })
    });
    group.bench_function("one run", |b| {
        b.iter(|| {
            let o = run(&scenario, None, Seed(7), &RunOptions::default()).expect("runs");
            black_box(o.events)
        })
    });
    group.finish();
}

criterion_group!(benches, radius);
criterion_main!(benches);
