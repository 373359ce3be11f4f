//! The CDN (Fastly 2021) and DNS + LB (Clever Cloud 2021) replays: figures
//! against the published ones, and outcomes that come from the mechanism.

use blastradius::incidents;
use blastradius::rng::Seed;
use blastradius::run::Analysis;
use blastradius::run::Outcome;
use blastradius::run::{RunOptions, run};
use blastradius::scenario::Scenario;
use blastradius::time::SimDuration;
use blastradius::topology::analysis::FailureUnit;
use std::path::Path;

fn scenario(name: &str) -> Scenario {
    incidents::find(name)
        .expect("built in")
        .scenario()
        .expect("valid")
}

/// Fastly, shortened to 70 min (the disable falls at T0 + 49 min).
fn fastly(design: &str, seed: u64) -> Outcome {
    let mut s = scenario("fastly-2021");
    s.duration = SimDuration::from_secs(70 * 60);
    run(&s, Some(design), Seed(seed), &RunOptions::default()).expect("runs")
}

fn verdict(o: &Outcome, check: &str) -> &'static str {
    o.checks.get(check).expect("check ran").verdict.as_str()
}

#[test]
fn fastly_global_push_fails_85_percent_of_pops_and_recovers_after_the_disable() {
    let o = fastly("as-2021", 2021);
    let m = &o.metrics;
    assert!((m["failed_pop_fraction"] - 0.85).abs() < 1e-9, "{m:?}");
    assert!((55.0..=66.0).contains(&m["detect_seconds"]), "{m:?}");
    // Disable 48 min after the alert, then propagation: about 49 min.
    assert!(
        (2900.0..3000.0).contains(&m["recovered_95_seconds"]),
        "{m:?}"
    );
    assert!(m["peak_error_fraction"] > 0.7);
    assert!(m["bystander_error_requests"] > 0.0);
    assert_eq!(verdict(&o, "availability"), "invalid");
    assert_eq!(verdict(&o, "blast-radius"), "invalid");
}

#[test]
fn a_staged_rollout_confines_the_failure_to_the_canary() {
    let o = fastly("staged-rollout", 2021);
    let m = &o.metrics;
    assert!(m["failed_pop_fraction"] <= 0.05, "{m:?}");
    assert!(m.contains_key("rollback_seconds"), "{m:?}");
    assert!(m["rollback_seconds"] <= 130.0, "{m:?}");
    assert!(m["peak_error_fraction"] < 0.05, "{m:?}");
    assert_eq!(verdict(&o, "blast-radius"), "valid");
    assert_eq!(verdict(&o, "availability"), "valid");
}

#[test]
fn fastly_replays_are_deterministic() {
    let a = fastly("as-2021", 7);
    let b = fastly("as-2021", 7);
    let c = fastly("as-2021", 8);
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(a.metrics, b.metrics);
    assert_ne!(a.fingerprint, c.fingerprint);
}

#[test]
fn without_the_triggering_change_nothing_fails() {
    let mut s = scenario("fastly-2021");
    s.duration = SimDuration::from_secs(30 * 60);
    let s = s
        .with_set("cdn.change", None)
        .expect("valid without the change");
    let o = run(&s, Some("as-2021"), Seed(1), &RunOptions::default()).expect("runs");
    assert_eq!(o.metrics["failed_pop_fraction"], 0.0);
    assert_eq!(o.checks.verdict.as_str(), "valid");
    assert!(o.metrics["cache_hit_ratio"] > 0.5, "{:?}", o.metrics);
}

fn clever(design: &str, ttl: Option<&str>) -> Outcome {
    let mut s = scenario("clever-cloud-2021");
    if let Some(ttl) = ttl {
        // Resolvers that overstay the TTL would set the drain time alone.
        for isp in 0..2 {
            s = s
                .with_set(
                    &format!("dns_lb.isp[{isp}].overstaying_resolvers"),
                    Some(toml::Value::Float(0.0)),
                )
                .expect("valid");
        }
        s = s
            .with_set(
                "dns_lb.authority.ttl",
                Some(toml::Value::String(ttl.into())),
            )
            .expect("valid");
    }
    run(&s, Some(design), Seed(376), &RunOptions::default()).expect("runs")
}

#[test]
fn overstaying_resolvers_hold_clients_on_the_withdrawn_dc() {
    // One resolver in four keeps answers 15 min instead of the 300 s TTL.
    // Users of the others drain within a TTL of the withdrawal; the tail
    // behind the overstaying ones drains later, within their keep time.
    let o = clever("as-2021", None);
    let normal = o.metrics["drain_seconds_after_withdrawal"];
    let tail = o.metrics["drain_seconds_after_withdrawal_overstaying"];
    assert!(normal <= 300.0 + 60.0, "{normal}");
    assert!(tail <= 900.0 + 60.0, "{tail}");
    assert!(tail > normal, "tail {tail} vs normal {normal}");
    // Without overstaying resolvers there is no tail to report.
    let plain = clever("as-2021", Some("300s"));
    assert!(
        !plain
            .metrics
            .contains_key("drain_seconds_after_withdrawal_overstaying")
    );
}

#[test]
fn a_ttl_that_divides_the_withdrawal_instant_drains_like_one_that_does_not() {
    // The withdrawal is at 1500 s. Resolver caches start at seeded random
    // phases, as caches that have been running do, so a TTL that divides
    // the instant (300 s) does not make every cache expire at it.
    let even = clever("as-2021", Some("300s")).metrics["drain_seconds_after_withdrawal"];
    let odd = clever("as-2021", Some("299s")).metrics["drain_seconds_after_withdrawal"];
    assert!(even > 100.0, "300 s TTL drained in {even}");
    assert!(odd > 100.0, "299 s TTL drained in {odd}");
    assert!((even - odd).abs() < 90.0, "{even} vs {odd}");
}

#[test]
fn a_shorter_ttl_drains_the_withdrawn_dc_faster() {
    let long = clever("as-2021", Some("420s"));
    let short = clever("as-2021", Some("60s"));
    let (l, s) = (
        long.metrics["drain_seconds_after_withdrawal"],
        short.metrics["drain_seconds_after_withdrawal"],
    );
    assert!(l >= 100.0, "420 s TTL drained in {l}");
    assert!(s <= 70.0, "60 s TTL drained in {s}");
    assert!(s < l);
}

#[test]
fn removing_the_shared_conduit_removes_the_correlated_outage() {
    let shared = clever("as-2021", None);
    let independent = clever("independent-providers", None);
    assert_eq!(verdict(&shared, "correlated-failure"), "invalid");
    assert!(shared.metrics["peak_error_fraction_isp_x"] > 0.3);
    // Reachability depended on the ISP: ISP Y barely noticed.
    assert!(shared.metrics["error_fraction_isp_y"] < shared.metrics["error_fraction_isp_x"] / 5.0);
    assert_eq!(verdict(&independent, "correlated-failure"), "valid");
    assert!(independent.metrics["peak_error_fraction_isp_x"] < 0.05);
}

#[test]
fn health_checks_withdraw_the_degraded_dc_before_the_operators_did() {
    let o = clever("health-checked-dns", None);
    let first = o.metrics["first_withdrawal_at_seconds"];
    // T0 is at 600 s; operators withdrew at T0 + 15 min = 1500 s.
    assert!(first > 600.0 && first < 1500.0, "{first}");
    assert!(o.metrics["record_withdrawals"] >= 1.0);
}

#[test]
fn analyze_names_the_shared_conduit_as_the_single_cut() {
    let s = scenario("clever-cloud-2021");
    let report = Analysis::new(&s, 2);
    let q = &report.questions[0];
    assert_eq!(q.cuts.size, Some(1));
    assert!(
        q.cuts
            .cuts
            .contains(&vec![FailureUnit::Group("paris_conduit".into())]),
        "{:?}",
        q.cuts
    );
}

#[test]
fn bad_system_tables_name_the_line_and_field() {
    let text = incidents::find("fastly-2021").unwrap().text;
    let bad = text.replace("count = 60 ", "count = 0  ");
    let e = Scenario::parse(Path::new("f.toml"), &bad).unwrap_err();
    assert_eq!(e.field(), "cdn.pops.count");
    assert!(bad.lines().nth(e.line() - 1).unwrap().contains("count = 0"));
    let text = incidents::find("clever-cloud-2021").unwrap().text;
    let bad = text.replace(
        "action = \"withdraw\"\ndc = \"par_a\"",
        "action = \"withdraw\"\ndc = \"par_c\"",
    );
    let e = Scenario::parse(Path::new("c.toml"), &bad).unwrap_err();
    assert!(
        e.field().starts_with("dns_lb.authority.action"),
        "{}",
        e.field()
    );
    let bad = text.replace("rps = 150.0", "rps = \"lots\"");
    let e = Scenario::parse(Path::new("c.toml"), &bad).unwrap_err();
    assert!(e.line() > 0, "{e}");
}
