//! AWS ELB 2012: a control plane that reconfigures healthy load balancers
//! from state it lost. Each design's story, and what comes from the
//! mechanism: no load balancer breaks until a push from a missing record
//! touches it, none breaks after the disable, and the corrected designs
//! break none.

use blastradius::check::{Fact, Verdict};
use blastradius::incidents;
use blastradius::rng::Seed;
use blastradius::run::Outcome;
use blastradius::run::{RunOptions, run};
use blastradius::scenario::Scenario;
use blastradius::time::SimDuration;
use std::path::Path;

fn scenario() -> Scenario {
    incidents::find("aws-elb-2012")
        .expect("built in")
        .scenario()
        .expect("valid")
}

fn replay(s: &Scenario, design: &str) -> Outcome {
    run(s, Some(design), Seed(1224), &RunOptions::default()).expect("runs")
}

fn verdict(o: &Outcome, check: &str) -> Verdict {
    o.checks.get(check).expect("check ran").verdict
}

#[test]
fn as_2012_breaks_only_what_a_push_from_missing_state_touched_and_nothing_after_the_disable() {
    let o = replay(&scenario(), "as-2012");
    assert_eq!(verdict(&o, "missing-state"), Verdict::Invalid);
    assert_eq!(verdict(&o, "blast-radius"), Verdict::Invalid);
    let peak = o.metrics["peak_impaired_fraction"];
    assert!((0.055..0.08).contains(&peak), "{peak}");
    assert_eq!(o.metrics["impaired_after_disable"], 0.0);
    // Every load balancer that broke was first sent a configuration
    // computed from a missing record, at that instant or before.
    let facts = &o.facts.facts;
    for (i, f) in facts.iter().enumerate() {
        if let Fact::Impaired {
            unit,
            on: true,
            time,
        } = f
        {
            let pushed = facts[..i].iter().any(|p| {
                matches!(p, Fact::ConfigPushed { target, complete: false, time: t } if target == unit && t <= time)
            });
            assert!(
                pushed,
                "{unit} broke at {time} without a push from missing state"
            );
        }
    }
    // Nothing recovers before the merge and the re-enable.
    let merged = o
        .timeline
        .iter()
        .find(|e| e.what.contains("merged into the restored state"))
        .expect("the merge ran")
        .time
        .as_nanos();
    assert!(
        facts
            .iter()
            .all(|f| !matches!(f, Fact::Impaired { on: false, time, .. } if *time < merged))
    );
    assert!(o.metrics["lbs_healthy_95_hours"] > 17.0);
}

#[test]
fn verify_before_apply_and_the_approval_gate_break_no_load_balancer() {
    let s = scenario();
    let v = replay(&s, "verify-before-apply");
    assert_eq!(verdict(&v, "missing-state"), Verdict::Valid);
    assert_eq!(v.metrics["peak_impaired_fraction"], 0.0);
    // The records are repaired from the live load balancers; an API call
    // on a missing record waits for the repair and then goes through, so
    // the customers' calls keep their SLO (they failed in 2-of-6 bursts
    // when such a call was refused instead).
    assert!(v.metrics["reconciled_records"] > 100.0, "{:?}", v.metrics);
    assert_eq!(verdict(&v, "availability"), Verdict::Valid);
    assert_eq!(v.verdict(), Verdict::Valid);
    let a = replay(&s, "approval-gate");
    assert_eq!(a.metrics["deleted_records"], 0.0);
    assert_eq!(verdict(&a, "availability"), Verdict::Valid);
    assert_eq!(verdict(&a, "blast-radius"), Verdict::Valid);
}

#[test]
fn the_replay_is_deterministic_and_an_edit_runs() {
    let mut s = scenario();
    s.duration = SimDuration::from_secs(3 * 3600);
    let a = replay(&s, "as-2012");
    let b = replay(&s, "as-2012");
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(a.metrics, b.metrics);
    let c = run(&s, Some("as-2012"), Seed(7), &RunOptions::default()).unwrap();
    assert_ne!(a.fingerprint, c.fingerprint);
    // show → edit → run: the same file with verification on breaks none.
    let edited = scenario()
        .with_set(
            "control_plane.verify_before_apply",
            Some(toml::Value::Boolean(true)),
        )
        .expect("a valid edit");
    let mut edited = edited;
    edited.duration = SimDuration::from_secs(3 * 3600);
    let e = replay(&edited, "as-2012");
    assert_eq!(e.metrics["peak_impaired_fraction"], 0.0);
}

#[test]
fn bad_control_plane_tables_name_the_line_and_field() {
    let text = incidents::find("aws-elb-2012").unwrap().text;
    let bad = text.replacen("fraction = 0.073,", "fraction = 1.5,", 1);
    let e = Scenario::parse(Path::new("a.toml"), &bad).unwrap_err();
    assert_eq!(e.field(), "control_plane.actor[0].step[0].fraction", "{e}");
    assert!(
        bad.lines()
            .nth(e.line() - 1)
            .unwrap()
            .contains("fraction = 1.5"),
        "{e}"
    );
    let bad = text.replace("lbs = 2000 ", "lbs = 0    ");
    let e = Scenario::parse(Path::new("a.toml"), &bad).unwrap_err();
    assert_eq!(e.field(), "control_plane.lbs", "{e}");
    let bad = text.replace("takes = \"9h43m\", ", "");
    let e = Scenario::parse(Path::new("a.toml"), &bad).unwrap_err();
    assert!(e.field().ends_with(".takes"), "{e}");
}
