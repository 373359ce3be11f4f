//! Operators who react: on the durability incidents the runbook steps the
//! postmortems describe as reactions wait for what the operators' monitoring
//! shows. Move the cause and the response moves with it; remove the cause
//! and the steps never run; a condition that clears before the response is
//! due stands the step down; an alert that reaches nobody is never reacted
//! to.

use blastradius::check::Fact;
use blastradius::incidents;
use blastradius::rng::Seed;
use blastradius::run::{Outcome, RunOptions, run};
use blastradius::scenario::Scenario;

fn scenario(name: &str) -> Scenario {
    incidents::find(name).unwrap().scenario().unwrap()
}

fn set(s: &Scenario, path: &str, value: toml::Value) -> Scenario {
    s.with_set(path, Some(value)).expect("a valid edit")
}

fn text(v: &str) -> toml::Value {
    toml::Value::String(v.into())
}

fn replay(s: &Scenario, design: &str) -> Outcome {
    run(
        s,
        Some(design),
        s.seed.unwrap_or(Seed(1)),
        &RunOptions::default(),
    )
    .unwrap()
}

/// When `actor`'s step `k` ended, in seconds from the start of the run.
fn step_end(o: &Outcome, actor: &str, k: u32) -> Option<f64> {
    o.facts.facts.iter().find_map(|f| match f {
        Fact::Step {
            time,
            actor: a,
            step,
            ..
        } if a == actor && *step == k => Some(*time as f64 / 1e9),
        _ => None,
    })
}

fn steps_run(o: &Outcome, actor: &str) -> usize {
    o.facts
        .facts
        .iter()
        .filter(|f| matches!(f, Fact::Step { actor: a, .. } if a == actor))
        .count()
}

/// When the timeline first says `what`, in seconds.
fn said(o: &Outcome, what: &str) -> Option<f64> {
    o.timeline
        .iter()
        .find(|e| e.what.contains(what))
        .map(|e| e.time.as_secs_f64())
}

fn steps(toml_array: &str) -> toml::Value {
    let t: toml::Table = toml::from_str(&format!("x = {toml_array}")).unwrap();
    t["x"].clone()
}

#[test]
fn gitlab_rebuild_follows_the_replication_break() {
    let s = scenario("gitlab-2017");
    let base = replay(&s, "as-2017");
    let broke = said(&base, "db2: replication broken").expect("the surge breaks it");
    let wipe = step_end(&base, "team-member-1", 0).unwrap();
    // Seen at the next 30 s scrape, acted on 30 s later.
    assert!(
        wipe - broke >= 30.0 && wipe - broke <= 61.0,
        "{broke} → {wipe}"
    );
    // Cause earlier: the second surge two hours earlier breaks replication
    // earlier, and the whole response, the mistake included, comes earlier.
    let early = replay(&set(&s, "durable_db.surge[1].from", text("19h")), "as-2017");
    let broke_early = said(&early, "db2: replication broken").unwrap();
    assert!(broke - broke_early > 3600.0, "{broke} vs {broke_early}");
    let wipe_early = step_end(&early, "team-member-1", 0).unwrap();
    assert!((wipe_early - broke_early) - (wipe - broke) < 31.0);
    let mistake = step_end(&base, "team-member-1", 10).unwrap();
    let mistake_early = step_end(&early, "team-member-1", 10).unwrap();
    assert!(
        ((mistake - mistake_early) - (wipe - wipe_early)).abs() < 1.0,
        "the chain after the trigger keeps its spacing"
    );
    assert!(early.metrics["lost_acked_writes"] < base.metrics["lost_acked_writes"]);
    // Cause removed: db1 keeps enough WAL, replication never breaks, nobody
    // touches db2, nothing is lost.
    let kept = replay(
        &set(&s, "durable_db.wal_keep_gb", toml::Value::Float(2000.0)),
        "as-2017",
    );
    assert_eq!(said(&kept, "replication broken"), None);
    assert_eq!(steps_run(&kept, "team-member-1"), 0);
    assert_eq!(kept.metrics["lost_acked_writes"], 0.0);
    assert!(
        said(
            &kept,
            "never ran steps 0–11 (waiting for replication_broken on db2"
        )
        .is_some()
    );
}

#[test]
fn digitalocean_recovery_follows_the_drop_and_is_skipped_without_it() {
    let s = scenario("digitalocean-2017");
    let base = replay(&s, "as-2017");
    let pause = step_end(&base, "operators", 0).unwrap();
    // The drop at 29 min, the pause at T0 + 10 min = 40 min (published).
    assert!((pause - 2400.0).abs() < 1.0, "{pause}");
    let early = replay(
        &set(&s, "durable_db.actor[0].step[0].at", text("20m")),
        "as-2017",
    );
    let pause_early = step_end(&early, "operators", 0).unwrap();
    assert!(
        ((pause - pause_early) - 540.0).abs() < 31.0,
        "nine minutes earlier: {pause} vs {pause_early}"
    );
    let scoped = replay(&s, "scoped-credentials");
    assert_eq!(steps_run(&scoped, "operators"), 0);
    assert!(
        said(
            &scoped,
            "operators never ran steps 0–4 (waiting for data_missing on master"
        )
        .is_some()
    );
}

#[test]
fn newsblur_recovery_follows_the_vandal_and_is_skipped_with_authentication() {
    let s = scenario("newsblur-2021");
    let base = replay(&s, "as-2021");
    let snap = step_end(&base, "owner", 2).unwrap();
    let early = replay(
        &set(&s, "durable_db.scanner.probes.first", text("2h")),
        "as-2021",
    );
    let snap_early = step_end(&early, "owner", 2).unwrap();
    let moved = snap - snap_early;
    let vandal_moved = (3 * 3600 + 33 * 60 + 45 - 2 * 3600) as f64;
    assert!(
        (moved - vandal_moved).abs() < 31.0,
        "{moved} vs {vandal_moved}"
    );
    for design in ["auth-on", "private-network"] {
        let o = replay(&s, design);
        assert_eq!(steps_run(&o, "owner"), 2, "{design}: only the cut-over");
        assert!(said(&o, "owner never ran steps 2–6").is_some(), "{design}");
    }
}

#[test]
fn a_reaction_stands_down_when_its_condition_clears_before_it_is_due() {
    // A second engineer snapshots db1 ten minutes after seeing it down. The
    // failed restart takes it down for four minutes: the step stands down.
    // The wipe takes it down for good: the step is due again, and runs.
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/incidents/gitlab-2017.toml");
    let whole: toml::Table = toml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut actors = whole["durable_db"]["actor"].as_array().unwrap().clone();
    let second: toml::Table = toml::from_str(
        r#"name = "team-member-2"
site = "ops"
step = [{ on = { signal = "down", host = "db1" }, after = "10m", host = "db1", do = "set", setting = "max_connections", value = 2000 }]"#,
    )
    .unwrap();
    actors.push(toml::Value::Table(second));
    let s = set(
        &scenario("gitlab-2017"),
        "durable_db.actor",
        toml::Value::Array(actors),
    );
    let o = replay(&s, "as-2017");
    let stood = said(
        &o,
        "team-member-2: step 0 (set) stood down: down on db1 cleared",
    )
    .unwrap();
    let down = said(&o, "db1 is now down").unwrap();
    assert!(stood > down && stood - down < 700.0, "{down} → {stood}");
    let wiped = said(&o, "db1's copy destroyed").unwrap();
    let ran = step_end(&o, "team-member-2", 0).unwrap();
    assert!(
        ran - wiped >= 600.0 && ran - wiped < 640.0,
        "{wiped} → {ran}"
    );
}

#[test]
fn only_if_skips_a_step_whose_reason_is_gone_and_keeps_one_whose_reason_holds() {
    let s = scenario("gitlab-2017");
    let runbook = |cond: &str| {
        steps(&format!(
            r#"[
                {{ at = "21h30m", host = "db1", do = "snapshot", only_if = {cond} }},
                {{ after = "1m", host = "db1", do = "set", setting = "max_connections", value = 2000 }},
            ]"#
        ))
    };
    // Nothing is down at 21:30: the snapshot is skipped, the next step runs
    // a minute later.
    let o = replay(
        &set(
            &s,
            "durable_db.actor[0].step",
            runbook(r#"{ signal = "down", host = "db1" }"#),
        ),
        "as-2017",
    );
    assert!(said(&o, "step 0 (snapshot) skipped: down on db1 does not hold").is_some());
    assert_eq!(step_end(&o, "team-member-1", 0), None);
    let second = step_end(&o, "team-member-1", 1).unwrap();
    assert!((second - 77460.0).abs() < 1.0, "{second}");
    // db2 is gigabytes behind in the surge: the snapshot runs.
    let o = replay(
        &set(
            &s,
            "durable_db.actor[0].step",
            runbook(r#"{ signal = "lagging", host = "db2", above = 1.0 }"#),
        ),
        "as-2017",
    );
    assert!(said(&o, "skipped").is_none());
    assert!(step_end(&o, "team-member-1", 0).is_some());
}

#[test]
fn a_backup_failure_is_reacted_to_only_if_its_alert_reaches_someone() {
    let s = scenario("gitlab-2017");
    let s = set(
        &s,
        "durable_db.actor[0].step",
        steps(
            r#"[{ on = { signal = "backup_failed", job = "pg_dump" }, after = "15m", host = "db1", do = "set", setting = "max_connections", value = 2000, note = "a stand-in for the fix" }]"#,
        ),
    );
    // As it was, the failure e-mails bounced: nobody ever reacts.
    let silent = replay(&s, "as-2017");
    assert_eq!(steps_run(&silent, "team-member-1"), 0);
    // With the alert delivered, the manual copy follows the first failed
    // dump (at 2 h) by the scrape plus 15 min.
    let heard = replay(
        &set(
            &s,
            "durable_db.backup[0].alert.delivered",
            toml::Value::Boolean(true),
        ),
        "as-2017",
    );
    let at = step_end(&heard, "team-member-1", 0).unwrap();
    let failed = said(&heard, "backup pg_dump of db1").unwrap();
    assert!(
        at - failed >= 900.0 && at - failed < 900.0 + 31.0,
        "{failed} → {at}"
    );
}

#[test]
fn response_delays_in_stages_are_drawn_per_seed_within_their_spread() {
    let s = scenario("digitalocean-2017");
    let s = set(
        &s,
        "durable_db.actor[1].step[0].after",
        toml::Value::Table(
            toml::from_str(
                r#"notice = "4m"
acknowledge = "2m"
act = "5m"
spread = 0.5"#,
            )
            .unwrap(),
        ),
    );
    let mut pauses = Vec::new();
    for seed in 1..=6 {
        let o = run(&s, Some("as-2017"), Seed(seed), &RunOptions::default()).unwrap();
        let again = run(&s, Some("as-2017"), Seed(seed), &RunOptions::default()).unwrap();
        let p = step_end(&o, "operators", 0).unwrap();
        assert_eq!(
            Some(p),
            step_end(&again, "operators", 0),
            "seed {seed} repeats"
        );
        // Seen within 30 s of the drop at 29 min; 11 min ± half.
        assert!((1740.0 + 330.0..=1770.0 + 990.0 + 1.0).contains(&p), "{p}");
        pauses.push(p as u64);
    }
    pauses.sort_unstable();
    pauses.dedup();
    assert!(
        pauses.len() >= 5,
        "the delay varies with the seed: {pauses:?}"
    );
}

#[test]
fn contradictory_or_incomplete_reactions_are_rejected_naming_the_field() {
    let s = scenario("gitlab-2017");
    for (edit, field, words) in [
        (
            r#"[{ at = "1h", on = { signal = "down", host = "db1" }, host = "db1", do = "snapshot" }]"#,
            "step[0].on",
            "not both",
        ),
        (
            r#"[{ on = { signal = "lagging", host = "db2" }, host = "db1", do = "snapshot" }]"#,
            "step[0].on.above",
            "needs `above`",
        ),
        (
            r#"[{ on = { signal = "down", host = "db9" }, host = "db1", do = "snapshot" }]"#,
            "step[0].on.host",
            "db9",
        ),
        (
            r#"[{ on = { signal = "backup_failed", job = "tape" }, host = "db1", do = "snapshot" }]"#,
            "step[0].on.job",
            "tape",
        ),
        (
            r#"[{ after = { notice = "1m", spread = 2.0 }, host = "db1", do = "snapshot" }]"#,
            "step[0].after",
            "spread",
        ),
    ] {
        let err = s
            .with_set("durable_db.actor[0].step", Some(steps(edit)))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| panic!("{edit} accepted"));
        assert!(err.contains(field) && err.contains(words), "{edit}: {err}");
    }
}

#[test]
fn aws_disable_follows_the_impairment_and_never_runs_when_nothing_breaks() {
    let s = scenario("aws-elb-2012");
    let base = replay(&s, "as-2012");
    let seen = said(&base, "elb-team: the monitoring shows errors above 1.0 %").unwrap();
    let disable = said(&base, "elb-team step 0, DisableWorkflows").unwrap();
    // The published 17:02 PST: 4 h 38 min after the deletion at 30 min.
    assert!(
        (disable - (1800.0 + 4.0 * 3600.0 + 38.0 * 60.0)).abs() < 60.0,
        "{disable}"
    );
    assert!((disable - seen - (4.0 * 3600.0 + 5.0 * 60.0)).abs() < 1.0);
    // The deletion 20 minutes earlier: customers fail earlier, the team
    // sees it earlier, the disable comes earlier.
    let early = replay(
        &set(&s, "control_plane.actor[0].step[0].at", text("10m")),
        "as-2012",
    );
    let seen_early = said(&early, "elb-team: the monitoring shows errors").unwrap();
    let disable_early = said(&early, "elb-team step 0, DisableWorkflows").unwrap();
    assert!(seen - seen_early > 600.0, "{seen} vs {seen_early}");
    assert!(((disable - disable_early) - (seen - seen_early)).abs() < 1.0);
    // A smaller deletion: the errors stay under the threshold longer.
    let small = replay(
        &set(
            &s,
            "control_plane.actor[0].step[0].fraction",
            toml::Value::Float(0.04),
        ),
        "as-2012",
    );
    let seen_small = said(&small, "elb-team: the monitoring shows errors").unwrap();
    assert!(seen_small > seen, "{seen} vs {seen_small}");
    // Nothing breaks in the corrected designs: the same runbook never runs.
    for design in ["verify-before-apply", "approval-gate"] {
        let o = replay(&s, design);
        assert_eq!(said(&o, "elb-team step"), None, "{design}");
        assert!(
            said(
                &o,
                "elb-team never ran steps 0–3 (waiting for errors above 1.0 %"
            )
            .is_some()
        );
    }
}

#[test]
fn elastic_scale_out_follows_the_customers_failing_and_never_runs_with_tree_watcher() {
    let s = scenario("elastic-2019-01");
    let base = replay(&s, "tree-cache");
    let seen = said(&base, "sre: the monitoring shows errors above 1.0 %").unwrap();
    let scaled = said(&base, "sre step 0, scale_proxies").unwrap();
    // The published 12:42: T0 + 3 h 33 min, T0 at 10 min.
    assert!(
        (scaled - (600.0 + 3.0 * 3600.0 + 33.0 * 60.0)).abs() < 120.0,
        "{scaled}"
    );
    assert!((scaled - seen - 3.0 * 3600.0 - 15.0 * 60.0).abs() < 1.0);
    let election = said(&base, "sre step 1, force_election").unwrap();
    assert!((election - scaled - 600.0).abs() < 1.0);
    // The slowed leader 30 minutes later: the customers fail later, the
    // team sees it later and scales out later.
    let late = replay(&set(&s, "fault[0].at", text("40m")), "tree-cache");
    let seen_late = said(&late, "sre: the monitoring shows errors").unwrap();
    let scaled_late = said(&late, "sre step 0, scale_proxies").unwrap();
    assert!(
        (seen_late - seen - 1800.0).abs() < 300.0,
        "{seen} vs {seen_late}"
    );
    assert!(((scaled_late - scaled) - (seen_late - seen)).abs() < 1.0);
    // With tree-watcher customers never fail: the team never acts.
    let fixed = replay(&s, "tree-watcher");
    assert_eq!(said(&fixed, "sre step"), None);
    assert!(
        said(
            &fixed,
            "sre never ran steps 0–1 (waiting for errors above 1.0 % for 300s"
        )
        .is_some()
    );
}

#[test]
fn elastic_february_raise_follows_the_customers_failing_and_never_runs_with_the_follow_ups() {
    let s = scenario("elastic-2019-02");
    let base = replay(&s, "as-2019");
    let seen = said(&base, "sre: the monitoring shows errors above 1.0 %").unwrap();
    let raised = said(&base, "sre step 0, set_init_limit").unwrap();
    // 08:50 as calibrated: T0 (02:25) at 10 min, so 6 h 35 min in.
    assert!(
        (raised - (6.0 * 3600.0 + 35.0 * 60.0)).abs() < 60.0,
        "{raised}"
    );
    let scaled = said(&base, "sre step 1, scale_proxies").unwrap();
    assert!((scaled - raised - 600.0).abs() < 5.0, "{raised} → {scaled}");
    // The third replacement (and its aftermath) 20 minutes earlier: seen
    // earlier, raised earlier by as much.
    let mut early = s.clone();
    for (k, at) in [(2, "1h32m"), (3, "1h40m")] {
        early = set(&early, &format!("fault[{k}].at"), text(at));
    }
    let early = replay(&early, "as-2019");
    let seen_early = said(&early, "sre: the monitoring shows errors").unwrap();
    let raised_early = said(&early, "sre step 0, set_init_limit").unwrap();
    assert!(seen - seen_early > 600.0, "{seen} vs {seen_early}");
    assert!(
        ((raised - raised_early) - (seen - seen_early)).abs() < 1.0,
        "the response keeps its delay after the signal"
    );
    // With the follow-ups the customers keep their SLO: nobody acts.
    let fixed = replay(&s, "follow-ups");
    assert_eq!(said(&fixed, "sre step"), None);
    assert!(said(&fixed, "sre never ran steps 0–1 (waiting for errors").is_some());
}

#[test]
fn criteo_recovery_follows_the_outage_and_never_runs_with_a_quota() {
    let s = scenario("criteo-hdfs");
    let base = replay(&s, "as-is");
    let seen = said(&base, "on-call: the monitoring shows errors above 50.0 %").unwrap();
    let killed = said(&base, "on-call step 0: the job killed").unwrap();
    assert!(
        (killed - seen - 24.5 * 3600.0).abs() < 1.0,
        "{seen} → {killed}"
    );
    // The job 30 minutes later: the NameNodes fail later, the on-call sees
    // it later and the recovery moves with it.
    let late = replay(&set(&s, "hdfs.job.at", text("1h")), "as-is");
    let seen_late = said(&late, "on-call: the monitoring shows errors").unwrap();
    let killed_late = said(&late, "on-call step 0: the job killed").unwrap();
    assert!(seen_late > seen + 600.0, "{seen} vs {seen_late}");
    assert!(((killed_late - killed) - (seen_late - seen)).abs() < 1.0);
    // With the quota nothing fails: the same runbook never starts.
    let quota = replay(&s, "object-quota");
    assert_eq!(said(&quota, "on-call step"), None);
    assert!(said(&quota, "on-call never ran steps 0–8").is_some());
}

/// When the operators withdrew a DC's record, in seconds from the start.
fn withdrawn_at(o: &Outcome) -> Option<f64> {
    o.metrics.get("first_withdrawal_at_seconds").copied()
}

#[test]
fn clever_withdrawal_follows_the_degradation_the_operators_see() {
    let s = scenario("clever-cloud-2021");
    let base = replay(&s, "as-2021");
    // The published 10:15: T0 + 15 min, T0 at 10 min.
    let at = withdrawn_at(&base).expect("withdrawn");
    assert!((at - 1500.0).abs() <= 60.0, "{at}");
    // The fibres degrade five minutes earlier: the monitoring sees it,
    // and the operators withdraw, five minutes earlier (to a scrape).
    let early = set(
        &set(&s, "fault[0].at", text("5m")),
        "fault[1].at",
        text("5m"),
    );
    let early_at = withdrawn_at(&replay(&early, "as-2021")).expect("withdrawn");
    assert!((at - early_at - 300.0).abs() <= 60.0, "{at} vs {early_at}");
    // No degradation: nothing to see, no withdrawal.
    let calm = s.with_set("fault", None).unwrap();
    assert_eq!(withdrawn_at(&replay(&calm, "as-2021")), None);
    // Operators who react only past 60 % lost probes never see the ~44 %
    // the 25 % loss on each way causes: no withdrawal either.
    let deaf = set(
        &s,
        "dns_lb.authority.action[0].on.above",
        toml::Value::Float(0.6),
    );
    assert_eq!(withdrawn_at(&replay(&deaf, "as-2021")), None);
}
