//! Raft's leader election against the Raft paper's measurements
//! (Ongaro & Ousterhout, "In Search of an Understandable Consensus
//! Algorithm", USENIX ATC 2014, section 9.3, Figure 16): five voters, the
//! leader crashed at a uniformly random moment of its heartbeat interval
//! (half the minimum election timeout), the time until another leads.
//!
//! The paper: without randomness (150-150 ms) elections took more than
//! 10 s because votes kept splitting; 5 ms of randomness (150-155 ms) gave
//! a median of 287 ms; 50 ms (150-200 ms) a worst case of 513 ms over
//! 1,000 trials; 12-24 ms timeouts a mean of 35 ms. Our network is stated
//! in `tests/data/raft/five-voters.toml` (one-way 0.5-1.5 ms through a
//! switch; the paper gives none) and servers' timers fire up to 1 ms late
//! (`timer_jitter`). The paper also gave its servers logs of different
//! lengths (so some candidates could not win); ours are equal, which
//! makes split votes rarer, so our times are shorter than theirs and the
//! tests hold them to the paper's figures as upper bounds, and to the
//! shape: identical timeouts are several times slower than 5 ms of
//! randomness. Timers that fire exactly on time (`timer_jitter = 0s`)
//! split identical timeouts' votes forever.

use blastradius::run::{RunOptions, run};
use blastradius::scenario::Scenario;
use blastradius::{Seed, SimDuration};
use std::path::Path;

fn base() -> Scenario {
    Scenario::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/raft/five-voters.toml"
    )))
    .unwrap()
}

fn text(v: String) -> toml::Value {
    toml::Value::String(v)
}

/// Milliseconds from the leader's crash to the next leader, per trial.
fn downtimes(
    min_ms: u64,
    max_ms: u64,
    trials: u64,
    edit: &dyn Fn(Scenario) -> Scenario,
) -> Vec<f64> {
    let heartbeat = min_ms as f64 / 2.0;
    (0..trials)
        .map(|k| {
            // The crash falls uniformly within a heartbeat interval after
            // 10 s (golden-ratio spacing over the trials).
            let phase = (k as f64 * 0.618_034).fract() * heartbeat;
            let crash_ms = 10_000.0 + phase;
            let s = edit(base())
                .with_set(
                    "replicated_db.raft.heartbeat_interval",
                    Some(text(format!("{heartbeat}ms"))),
                )
                .and_then(|s| {
                    s.with_set(
                        "replicated_db.raft.election_timeout_min",
                        Some(text(format!("{min_ms}ms"))),
                    )
                })
                .and_then(|s| {
                    s.with_set(
                        "replicated_db.raft.election_timeout_max",
                        Some(text(format!("{max_ms}ms"))),
                    )
                })
                .unwrap();
            // The crash is the last fault of the schedule.
            let last = s.faults.faults().len() - 1;
            let s = s
                .with_set(
                    &format!("fault[{last}].at"),
                    Some(text(format!("{crash_ms}ms"))),
                )
                .unwrap();
            let o = run(&s, Some("raft"), Seed(k + 1), &RunOptions::default()).unwrap();
            let crash = SimDuration::from_secs_f64(crash_ms / 1000.0);
            o.timeline
                .iter()
                .filter(|e| {
                    e.what.contains("became leader (term") && e.time.as_nanos() > crash.as_nanos()
                })
                .map(|e| (e.time.as_nanos() - crash.as_nanos()) as f64 / 1e6)
                .next()
                .unwrap_or(f64::INFINITY)
        })
        .collect()
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn worst(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

fn same(s: Scenario) -> Scenario {
    s
}

#[test]
fn randomised_timeouts_elect_as_fast_as_the_paper_says() {
    // 150-155 ms: the paper's median 287 ms (with split votes from its
    // unequal logs); ours must at least beat 2 minimum timeouts.
    let d = downtimes(150, 155, 30, &same);
    assert!(d.iter().all(|x| x.is_finite()), "{d:?}");
    assert!((75.0..300.0).contains(&median(&d)), "150-155: {d:?}");
    // 150-200 ms: the paper's worst case over 1,000 trials, 513 ms.
    let d = downtimes(150, 200, 30, &same);
    assert!(worst(&d) < 513.0, "150-200: {d:?}");
    // 12-24 ms: the paper's mean 35 ms, longest 152 ms.
    let d = downtimes(12, 24, 30, &same);
    assert!(mean(&d) < 35.0 && worst(&d) < 152.0, "12-24: {d:?}");
    // No randomness at all but the servers' own jitter: votes split again
    // and again, several times slower than 5 ms of randomness (the paper:
    // more than 10 s), yet every election ends.
    let fixed = downtimes(150, 150, 12, &same);
    let five = downtimes(150, 155, 12, &same);
    assert!(fixed.iter().all(|x| x.is_finite()), "{fixed:?}");
    assert!(
        median(&fixed) > 3.0 * median(&five),
        "{fixed:?} vs {five:?}"
    );
}

#[test]
fn identical_timeouts_without_timer_jitter_never_elect_and_with_it_always_do() {
    let no_jitter = |s: Scenario| {
        s.with_set("replicated_db.raft.timer_jitter", Some(text("0s".into())))
            .unwrap()
    };
    let d = downtimes(150, 150, 6, &no_jitter);
    assert!(
        d.iter().all(|x| x.is_infinite()),
        "timers on the dot split forever: {d:?}"
    );
    let d = downtimes(150, 150, 6, &same);
    assert!(d.iter().all(|x| x.is_finite()), "{d:?}");
}
