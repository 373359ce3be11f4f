//! The replicated-database model and the GitHub 2018 replay: outcomes come
//! from the mechanism, for every design, for cuts shorter and longer than
//! the real one; runs are deterministic; comparisons do not depend on how
//! they are split.

use blastradius::check::Verdict;
use blastradius::fault::{Fault, FaultSchedule, ScheduledFault};
use blastradius::incidents;
use blastradius::run::Outcome as DbOutcome;
use blastradius::run::{Comparison, RunOptions, compare, run as run_design};
use blastradius::scenario::Scenario;
use blastradius::{Seed, SimDuration, SimTime};
use std::path::Path;

fn github() -> Scenario {
    incidents::find("github-2018")
        .expect("built in")
        .scenario()
        .expect("the built-in scenario validates")
}

/// The GitHub world with the cut at `at` lasting `cut`, run for `duration`.
fn github_with_cut(at: u64, cut: u64, duration: u64) -> Scenario {
    with_cut(github(), at, cut, duration)
}

/// `s` with the cut at `at` lasting `cut`, run for `duration`.
fn with_cut(mut s: Scenario, at: u64, cut: u64, duration: u64) -> Scenario {
    s.duration = SimDuration::from_secs(duration);
    s.t0_at = SimDuration::from_secs(at);
    s.faults = FaultSchedule::new(vec![ScheduledFault {
        at: SimTime::from_secs(at),
        duration: Some(SimDuration::from_secs(cut)),
        fault: Fault::CutLink {
            link: "east_dc-east_hub".into(),
        },
    }])
    .expect("valid schedule");
    s
}

fn run(s: &Scenario, design: &str, seed: u64) -> DbOutcome {
    run_design(s, Some(design), Seed(seed), &RunOptions::default()).expect("design runs")
}

fn verdict(o: &DbOutcome, check: &str) -> Verdict {
    o.checks
        .get(check)
        .unwrap_or_else(|| panic!("no {check} finding"))
        .verdict
}

fn m(o: &DbOutcome, name: &str) -> f64 {
    o.metrics[name]
}

fn timeline_has(o: &DbOutcome, text: &str) -> bool {
    o.timeline.iter().any(|e| e.what.contains(text))
}

#[test]
fn as_2018_promotes_in_the_west_and_loses_acknowledged_east_writes() {
    let s = github();
    let o = run(&s, "as-2018", 2018);
    assert_eq!(o.checks.verdict, Verdict::Invalid);
    assert_eq!(verdict(&o, "split-brain"), Verdict::Invalid);
    assert_eq!(verdict(&o, "lost-writes"), Verdict::Invalid);
    // The promotion happened during the cut, in the West.
    let promoted = o
        .timeline
        .iter()
        .find(|e| e.what.contains("west_dc is now primary of mysql1"))
        .expect("a West replica of mysql1 was promoted");
    assert!(promoted.time > SimTime::from_secs(600) && promoted.time < SimTime::from_secs(643));
    // Same order of magnitude as the published 954 on the busiest cluster.
    let diverged = m(&o, "diverged_acked_writes");
    assert!((300.0..3000.0).contains(&diverged), "{diverged}");
    assert_eq!(o.metrics["diverged_acked_writes_mysql1"], diverged);
    // The West takes writes once the link is back.
    let first_west = o
        .timeline
        .iter()
        .find(|e| {
            e.what
                .contains("first write acknowledged by the promoted primary mysql1")
        })
        .expect("the West primary took writes");
    assert!(first_west.time >= SimTime::from_secs(643), "{first_west:?}");
    assert!(m(&o, "split_brain_seconds") > 20.0);
    assert!(m(&o, "failovers") >= 1.0);
    // East applications now write across the country.
    assert!(m(&o, "write_latency_p50_ms") > 60.0);
}

#[test]
fn no_cross_region_refuses_promotion_and_is_unavailable_for_the_cut() {
    let o = run(&github(), "no-cross-region", 2018);
    assert_eq!(o.checks.verdict, Verdict::Valid, "{:#?}", o.checks.findings);
    assert_eq!(m(&o, "failovers"), 0.0);
    assert_eq!(m(&o, "diverged_acked_writes"), 0.0);
    assert_eq!(m(&o, "split_brain_seconds"), 0.0);
    assert!(timeline_has(&o, "cross-region promotion prevented"));
    let down = m(&o, "write_unavailable_seconds");
    assert!(
        (40.0..75.0).contains(&down),
        "about as long as the 43 s cut: {down}"
    );
    assert!(m(&o, "write_latency_p50_ms") < 5.0);
}

#[test]
fn semi_sync_across_regions_keeps_every_acknowledged_write_and_pays_a_round_trip() {
    let o = run(&github(), "semi-sync-cross-region", 2018);
    assert_eq!(verdict(&o, "lost-writes"), Verdict::Valid);
    assert_eq!(m(&o, "diverged_acked_writes"), 0.0);
    assert_eq!(verdict(&o, "split-brain"), Verdict::Valid);
    assert!(m(&o, "write_latency_p50_ms") > 60.0);
}

#[test]
fn raft_stays_linearizable_and_pays_in_latency() {
    let s = github();
    let o = run(&s, "raft", 2018);
    assert_eq!(verdict(&o, "linearizable"), Verdict::Valid);
    assert_eq!(verdict(&o, "lost-writes"), Verdict::Valid);
    assert_eq!(o.checks.verdict, Verdict::Valid, "{:#?}", o.checks.findings);
    let base = run(&s, "no-cross-region", 2018);
    assert!(m(&o, "write_latency_p50_ms") > m(&base, "write_latency_p50_ms"));
    assert!(m(&o, "failovers") >= 1.0);
}

#[test]
fn a_cut_shorter_than_detection_and_election_causes_no_failover() {
    let s = github_with_cut(60, 3, 180);
    let o = run(&s, "as-2018", 7);
    assert_eq!(m(&o, "failovers"), 0.0, "{:#?}", o.timeline);
    assert_eq!(o.checks.verdict, Verdict::Valid, "{:#?}", o.checks.findings);
}

#[test]
fn a_longer_cut_diverges_more() {
    let short = run(&github_with_cut(60, 43, 400), "as-2018", 7);
    let long = run(&github_with_cut(60, 180, 400), "as-2018", 7);
    assert_eq!(verdict(&long, "split-brain"), Verdict::Invalid);
    assert!(
        m(&long, "diverged_acked_writes") > 2.0 * m(&short, "diverged_acked_writes"),
        "{} vs {}",
        m(&long, "diverged_acked_writes"),
        m(&short, "diverged_acked_writes")
    );
    let nc = run(&github_with_cut(60, 180, 400), "no-cross-region", 7);
    assert_eq!(nc.checks.verdict, Verdict::Valid);
    let down = m(&nc, "write_unavailable_seconds");
    assert!((170.0..220.0).contains(&down), "{down}");
}

#[test]
fn lease_fencing_prevents_split_brain_but_not_the_loss_of_unreplicated_writes() {
    let leased = github()
        .with_set(
            "replicated_db.orchestrator.fencing",
            Some(toml::Value::String("lease".into())),
        )
        .expect("valid");
    let s = with_cut(leased, 60, 43, 240);
    let o = run(&s, "as-2018", 3);
    assert_eq!(
        verdict(&o, "split-brain"),
        Verdict::Valid,
        "{:#?}",
        o.checks.findings
    );
    assert!(
        m(&o, "failovers") >= 1.0,
        "the lease runs out, then the West is promoted"
    );
    assert_eq!(verdict(&o, "lost-writes"), Verdict::Invalid);
}

#[test]
fn same_seed_same_run_different_seed_different_run() {
    let s = github_with_cut(30, 43, 150);
    let a = run(&s, "as-2018", 11);
    let b = run(&s, "as-2018", 11);
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(a.metrics, b.metrics);
    assert_eq!(a.history.ops().len(), b.history.ops().len());
    let c = run(&s, "as-2018", 12);
    assert_ne!(a.fingerprint, c.fingerprint);
}

#[test]
fn comparison_shards_merge_into_the_whole_and_ignore_thread_count() {
    let s = github_with_cut(30, 43, 120);
    let designs: Vec<String> = vec!["as-2018".into(), "no-cross-region".into()];
    let seeds = [1, 2, 3];
    let whole = compare(&s, &designs, &seeds, (1, 1), &|| ()).expect("runs");
    assert_eq!(whole.runs.len(), 6);
    let parts: Vec<Comparison> = (1..=3)
        .map(|i| compare(&s, &designs, &seeds, (i, 3), &|| ()).expect("runs"))
        .collect();
    assert!(parts.iter().all(|p| p.runs.len() == 2));
    let merged = Comparison::merge(parts).expect("same sweep");
    assert_eq!(merged, whole);
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(|| compare(&s, &designs, &seeds, (1, 1), &|| ()).expect("runs"));
    assert_eq!(one_thread, whole);
    assert_eq!(whole.verdict(), Verdict::Invalid);
    assert!(whole.to_text().contains("no-cross-region"));
}

#[test]
fn the_shown_file_runs_like_the_built_in_and_edits_take_effect() {
    let text = incidents::find("github-2018").expect("built in").text;
    let file = Scenario::parse(Path::new("g.toml"), text).expect("valid");
    let a = run(&github(), "as-2018", 5);
    let b = run(&file, "as-2018", 5);
    assert_eq!(a.fingerprint, b.fingerprint);
    // One knob, edited in the file, changes the outcome.
    let edited = text.replace(
        "prevent_cross_region_failover = false",
        "prevent_cross_region_failover = true",
    );
    assert_ne!(edited, text);
    let file = Scenario::parse(Path::new("g.toml"), &edited).expect("valid");
    let c = run(&file, "as-2018", 5);
    assert_eq!(m(&c, "failovers"), 0.0);
    assert_eq!(c.checks.verdict, Verdict::Valid);
}

#[test]
fn bad_system_tables_name_file_line_and_field() {
    let text = incidents::find("github-2018").expect("built in").text;
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("needle present")
            + 1
    };
    let cases = [
        (
            "fencing = \"none\"",
            "fencing = \"sometimes\"",
            "replicated_db.orchestrator.fencing",
            line_of("fencing = \"none\""),
        ),
        (
            "primary = \"east_dc\"\nreplicas = [\"east_dc\", \"east_dc\", \"west_dc\", \"west_dc\"]",
            "primary = \"moon\"\nreplicas = [\"east_dc\", \"east_dc\", \"west_dc\", \"west_dc\"]",
            "replicated_db.cluster[0].primary",
            line_of("primary = \"east_dc\""),
        ),
        (
            "via = \"app\"\ncluster = \"mysql2\"",
            "via = \"app\"\ncluster = \"mysql9\"",
            "replicated_db.workload[2].cluster",
            line_of("cluster = \"mysql2\""),
        ),
        (
            "design = \"as-2018\"",
            "design = \"as-2019\"",
            "scenario.design",
            line_of("design = \"as-2018\""),
        ),
    ];
    for (from, to, field, line) in cases {
        let bad = text.replacen(from, to, 1);
        assert_ne!(bad, text, "{from}");
        let e = Scenario::parse(Path::new("g.toml"), &bad).expect_err("rejected");
        assert_eq!(e.field(), field, "{e}");
        assert_eq!(e.line(), line, "{e}");
    }
    // A design override of the wrong type names the override's own line
    // and key.
    let bad = text.replace(
        "orchestrator.prevent_cross_region_failover = true",
        "orchestrator.prevent_cross_region_failover = \"yes\"",
    );
    let e = Scenario::parse(Path::new("g.toml"), &bad).expect_err("rejected");
    assert_eq!(
        e.field(),
        "design.no-cross-region.orchestrator.prevent_cross_region_failover",
        "{e}"
    );
    assert_eq!(
        e.line(),
        line_of("orchestrator.prevent_cross_region_failover = true"),
        "{e}"
    );
    // An override that validates badly (an acker site that does not
    // exist) names the override's line too, not the design's header.
    let bad = text.replace(
        "replication.semi_sync_ackers = [\"west_dc\"]",
        "replication.semi_sync_ackers = [\"mars\"]",
    );
    assert_ne!(bad, text);
    let e = Scenario::parse(Path::new("g.toml"), &bad).expect_err("rejected");
    assert!(
        e.field()
            .starts_with("design.semi-sync-cross-region.replication.semi_sync_ackers"),
        "{e}"
    );
    assert_eq!(
        e.line(),
        line_of("replication.semi_sync_ackers = [\"west_dc\"]"),
        "{e}"
    );
}

#[test]
fn any_design_of_the_database_may_do_without_links() {
    let text = incidents::find("github-2018").expect("built in").text;
    let with = format!(
        "{text}\n[design.no-cloud-link]\ndescription = \"the East cloud is cut off\"\nwithout_links = [\"east_hub-east_cloud\"]\n"
    );
    let s = Scenario::parse(Path::new("g.toml"), &with).expect("valid");
    let d = s.design(Some("no-cloud-link")).expect("design");
    assert!(d.topology.link_id("east_hub-east_cloud").is_err());
    assert!(
        s.design(Some("as-2018"))
            .expect("design")
            .topology
            .link_id("east_hub-east_cloud")
            .is_ok()
    );
    let cut_off = run(&s, "no-cloud-link", 5);
    let normal = run(&s, "as-2018", 5);
    assert_ne!(cut_off.fingerprint, normal.fingerprint);
    // A link that does not exist is named at the design's own line.
    let bad = with.replace("[\"east_hub-east_cloud\"]", "[\"east_hub-mars\"]");
    let e = Scenario::parse(Path::new("g.toml"), &bad).expect_err("rejected");
    assert_eq!(e.field(), "design.no-cloud-link.without_links", "{e}");
    let line = bad
        .lines()
        .position(|l| l.contains("east_hub-mars"))
        .expect("there")
        + 1;
    assert_eq!(e.line(), line, "{e}");
}
