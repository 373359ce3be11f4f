//! Every incident's replay (its first design, its own seed) beside the
//! PHOLD kernel measured in the same process: kernel events, wall time,
//! nanoseconds per event, and the ratio to PHOLD's. A model's cost per
//! event is what its handlers add to the kernel's.
//!
//! ```text
//! cargo run --release --example replay_speed
//! ```
//!
//! The host is shared and its speed drifts by tens of percent within
//! minutes, so both sides are measured at their best case: PHOLD three
//! times (before, between and after the replays) and each replay three
//! times (same seed, same events), each taking its fastest run.

use blastradius::incidents;
use blastradius::phold::{self, Params};
use blastradius::run::{RunOptions, run};

/// Wall-clock timing lives in the harness, never in the library.
#[allow(clippy::disallowed_methods)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = std::time::Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

fn phold_ns_per_event() -> f64 {
    let p = Params {
        events: 5_000_000,
        ..Params::default()
    };
    let mut sim = phold::build(p);
    let (_, secs) = timed(|| phold::run_built(&mut sim));
    secs * 1e9 / p.events as f64
}

/// Runs of each side; the fastest counts.
const RUNS: usize = 3;

fn main() {
    let before = phold_ns_per_event();
    let mut rows = Vec::new();
    let mut between = f64::INFINITY;
    for (k, i) in incidents::CATALOGUE.iter().enumerate() {
        if k == incidents::CATALOGUE.len() / 2 {
            between = phold_ns_per_event();
        }
        let s = i.scenario().expect("a built-in scenario is valid");
        let seed = s.seed.expect("built-in scenarios name their seed");
        let mut best = f64::INFINITY;
        let mut last = None;
        for _ in 0..RUNS {
            let (o, secs) = timed(|| run(&s, None, seed, &RunOptions::default()).expect("runs"));
            best = best.min(secs);
            last = Some(o);
        }
        let o = last.expect("at least one run");
        rows.push((i.name, o.design, o.events, best));
    }
    let after = phold_ns_per_event();
    let phold = before.min(between).min(after);
    println!(
        "phold_ns_per_event={phold:.1} (before {before:.1}, between {between:.1}, after {after:.1}); each replay the fastest of {RUNS}"
    );
    println!(
        "{:<18} {:<16} {:>12} {:>8} {:>12} {:>6}",
        "incident", "design", "events", "wall_s", "ns_per_event", "ratio"
    );
    for (name, design, events, secs) in rows {
        let ns = secs * 1e9 / events.max(1) as f64;
        println!(
            "{name:<18} {design:<16} {events:>12} {secs:>8.2} {ns:>12.1} {:>6.2}",
            ns / phold
        );
    }
}
