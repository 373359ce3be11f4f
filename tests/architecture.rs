//! The general service model against queueing theory, and every policy
//! against its counterfactual.
//!
//! `scenarios/retry-storm.toml`: one FIFO server, one worker, exponential
//! service of mean 10 ms (mu = 100/s), Poisson users at lambda = 70/s with
//! a 1 s timeout, a surge to 200/s for 60 s at 10 min. The fluid argument:
//! - without retries the surge leaves a backlog of (200 - 100) x 60 =
//!   6,000 requests that drains at mu - lambda = 30/s: 200 s;
//! - with r immediate retries, once waits pass the timeout every user
//!   request costs r + 1 service times (the server still serves abandoned
//!   attempts), so overload is sustained iff (r + 1) lambda > mu, and the
//!   queue then grows at (r + 1) lambda - mu;
//! - in steady state Little's law holds: L = X W.

use blastradius::prelude::*;

fn scenario() -> Scenario {
    Scenario::load(std::path::Path::new("scenarios/retry-storm.toml")).expect("loads")
}

fn set(s: &Scenario, path: &str, value: &str) -> Scenario {
    let v: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .unwrap()
        .remove("v")
        .unwrap();
    s.with_set(path, Some(v))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn outcome(s: &Scenario, design: &str, seed: u64) -> Outcome {
    run(s, Some(design), Seed(seed), &RunOptions::default()).expect("runs")
}

const SEEDS: [u64; 4] = [1, 2, 3, 4];

#[test]
fn without_retries_the_surge_drains_in_the_fluid_time() {
    let s = scenario();
    let mut drained = Vec::new();
    for seed in SEEDS {
        let o = outcome(&s, "no-retries", seed);
        assert_eq!(o.metrics["metastability_class"], 1.0, "recovered");
        drained.push(o.metrics["failing_after_trigger_seconds"]);
    }
    let mean = drained.iter().sum::<f64>() / drained.len() as f64;
    // 6,000 / 30 = 200 s, measured in 10 s windows.
    assert!((170.0..=230.0).contains(&mean), "{drained:?}");
}

/// The fluid prediction for the time users keep failing after the surge
/// ends, `None` for a sustained overload. During the surge every request
/// times out, so the backlog grows at (r + 1) lambda_s - mu; after it, the
/// backlog drains at mu - (r + 1) lambda, if that is positive.
fn fluid_recovery(retries: f64, lambda: f64) -> Option<f64> {
    let (mu, surge, duration) = (100.0, 200.0, 60.0);
    let load = (retries + 1.0) * lambda;
    (load < mu).then(|| ((retries + 1.0) * surge - mu) * duration / (mu - load))
}

#[test]
fn retries_sustain_the_overload_exactly_when_r_plus_one_lambda_passes_mu() {
    let s = scenario();
    for (retries, lambda) in [(2, 70), (2, 20), (2, 10), (1, 55), (1, 35), (0, 70)] {
        let p = set(&s, "architecture.cohort[0].retries", &retries.to_string());
        let p = set(&p, "architecture.cohort[0].rate", &format!("{lambda}.0"));
        let predicted = fluid_recovery(f64::from(retries), f64::from(lambda));
        let runs: Vec<Outcome> = [1, 2].map(|seed| outcome(&p, "retries", seed)).into();
        let failing: Vec<f64> = runs
            .iter()
            .map(|o| o.metrics["failing_after_trigger_seconds"])
            .collect();
        let label =
            format!("r={retries} lambda={lambda}: predicted {predicted:?}, measured {failing:?}");
        eprintln!("{label}");
        match predicted {
            // Failing to the end of the run: 40 min - 11 min.
            None => assert!(failing.iter().all(|f| *f == 1740.0), "{label}"),
            Some(t) => {
                let mean = failing.iter().sum::<f64>() / failing.len() as f64;
                assert!((mean - t).abs() <= 0.15 * t + 10.0, "{label}");
            }
        }
    }
}

#[test]
fn the_sustained_queue_grows_at_r_plus_one_lambda_minus_mu() {
    let s = scenario();
    let o = outcome(&s, "retries", 1);
    let q = &o.series["queue api"];
    let step = o.series_step.as_secs_f64();
    // From 100 s after the surge ended to 400 s after: every attempt times
    // out, arrivals are 3 x 70 = 210/s against 100/s served.
    let (a, b) = ((760.0 / step) as usize, (1060.0 / step) as usize);
    let slope = (q[b] - q[a]) / ((b - a) as f64 * step);
    assert!((slope - 110.0).abs() < 110.0 * 0.1, "slope {slope}/s");
}

#[test]
fn littles_law_holds_in_steady_state_and_matches_mm1() {
    // The base cohort (design `retries`), without its surge and retries.
    let s = set(
        &scenario(),
        "architecture.cohort[0].surge",
        "{ at = \"39m\", duration = \"1s\", rate = 70.0 }",
    );
    let s = set(&s, "architecture.cohort[0].retries", "0");
    let o = outcome(&s, "retries", 7);
    let l = o.metrics["mean_in_system_api"];
    let x = o.metrics["throughput_api"];
    let w = o.metrics["mean_sojourn_ms_api"] / 1e3;
    assert!((l - x * w).abs() < 0.02 * l, "L {l} vs XW {}", x * w);
    // M/M/1 at rho = 0.7: L = rho / (1 - rho) = 2.33.
    assert!((l - 7.0 / 3.0).abs() < 0.15 * 7.0 / 3.0, "L {l}");
}

#[test]
fn each_policy_changes_what_it_names() {
    let s = scenario();
    let storm = outcome(&s, "retries", 1);
    assert_eq!(storm.metrics["metastability_class"], 2.0);
    // A retry budget caps the extra work: the storm ends.
    let budgeted = outcome(&s, "budgeted", 1);
    assert_eq!(budgeted.metrics["metastability_class"], 1.0);
    assert!(budgeted.metrics["user_retries"] < storm.metrics["user_retries"] / 10.0);
    // Shedding what callers gave up on stops serving nobody: the storm ends.
    let shed = outcome(
        &set(&s, "architecture.service[0].shed_expired", "true"),
        "retries",
        1,
    );
    assert_eq!(shed.metrics["metastability_class"], 1.0);
    assert!(shed.metrics["expired_api"] > 0.0 && storm.metrics["expired_api"] == 0.0);
    assert!(shed.metrics["served_late_api"] < storm.metrics["served_late_api"] / 10.0);
    // A short queue refuses at once instead of making users wait past
    // their timeout.
    let short = outcome(
        &set(&s, "architecture.service[0].queue_max", "50"),
        "retries",
        1,
    );
    assert!(short.metrics["refused_api"] > 0.0);
    assert_eq!(short.metrics["metastability_class"], 1.0);
    assert!(short.metrics["failing_after_trigger_seconds"] < 60.0);
    // More workers is more capacity: two workers (mu = 200/s) ride it out.
    let two = outcome(
        &set(&s, "architecture.service[0].workers", "2"),
        "retries",
        1,
    );
    assert_ne!(two.metrics["metastability_class"], 2.0);
    // Least-outstanding balancing over two replicas, one of them slowed,
    // sends the slow one less than round robin does.
    let pair = set(
        &set(&s, "architecture.service[0].replicas", "2"),
        "architecture.service[0].workers",
        "1",
    );
    let slow = |balancer: &str| {
        let p = set(
            &pair,
            "architecture.cohort[0].balancer",
            &format!("\"{balancer}\""),
        );
        let p = set(
            &p,
            "architecture.cohort[0].surge",
            "{ at = \"39m\", duration = \"1s\", rate = 70.0 }",
        );
        let p = set(&p, "architecture.cohort[0].retries", "0");
        let text = format!(
            "{}\n[[fault]]\nat = \"1m\"\nkind = \"slow_node\"\ntarget = \"api-1\"\ndelay = \"15ms\"\n",
            p.source_text()
        );
        let p = Scenario::parse(std::path::Path::new("slow.toml"), &text).expect("parses");
        outcome(&p, "retries", 1).metrics["failed_requests"]
    };
    let (rr, lo) = (slow("round_robin"), slow("least_outstanding"));
    assert!(lo < rr, "least outstanding {lo} vs round robin {rr}");
}

/// LIFO serves the requests whose callers are still waiting, so retries
/// stop multiplying the work: the storm that FIFO sustains ends with the
/// surge. Adaptive LIFO does the same once its queue stands, and with a
/// threshold no wait reaches it is FIFO exactly.
#[test]
fn lifo_serves_the_waiting_and_ends_the_storm_fifo_sustains() {
    let s = scenario();
    let fifo = outcome(&s, "retries", 1);
    assert_eq!(fifo.metrics["metastability_class"], 2.0);
    let order = |o: &str| {
        set(
            &s,
            "architecture.service[0].queue_order",
            &format!("\"{o}\""),
        )
    };
    for o in ["lifo", "adaptive_lifo"] {
        let run = outcome(&order(o), "retries", 1);
        assert_eq!(run.metrics["metastability_class"], 1.0, "{o}");
        assert!(run.metrics["failing_after_trigger_seconds"] < 30.0, "{o}");
        // What is still served late is the stale bottom of the surge's
        // queue, drained once the surge is over.
        assert!(
            run.metrics["served_late_api"] < fifo.metrics["served_late_api"] / 5.0,
            "{o}: {} vs {}",
            run.metrics["served_late_api"],
            fifo.metrics["served_late_api"]
        );
    }
    let never = set(
        &order("adaptive_lifo"),
        "architecture.service[0].lifo_after",
        "\"1h\"",
    );
    let never = outcome(&never, "retries", 1);
    assert_eq!(never.fingerprint, fifo.fingerprint);
    // A full LIFO queue drops its oldest request for the newcomer. With
    // room for 1.5 s of waiting (past the users' 1 s timeout), FIFO serves
    // requests whose users have left while refusing new ones; LIFO refuses
    // the stale ones and serves the users still there.
    let short = |o: &str| {
        let q = set(&order(o), "architecture.service[0].queue_max", "150");
        outcome(&q, "retries", 1)
    };
    let (fifo_short, lifo_short) = (short("fifo"), short("lifo"));
    assert!(lifo_short.metrics["refused_api"] > 0.0);
    assert!(
        lifo_short.metrics["failed_requests"] < fifo_short.metrics["failed_requests"],
        "lifo {} vs fifo {}",
        lifo_short.metrics["failed_requests"],
        fifo_short.metrics["failed_requests"]
    );
}

#[test]
fn a_bad_knob_names_its_line_and_field() {
    let text = std::fs::read_to_string("scenarios/retry-storm.toml").unwrap();
    let bad = text.replace("workers = 1\n", "workers = 0\n");
    let e = Scenario::parse(std::path::Path::new("r.toml"), &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("architecture.service[0].workers"), "{e}");
    let line = text
        .lines()
        .position(|l| l.starts_with("workers = 1"))
        .unwrap()
        + 1;
    assert!(e.contains(&format!("r.toml:{line}:")), "{e}");
    let typo = text.replace("retries = 2\n", "retires = 2\n");
    let e = Scenario::parse(std::path::Path::new("r.toml"), &typo)
        .unwrap_err()
        .to_string();
    assert!(e.contains("retires"), "{e}");
    let cycle = text.replace(
        "service_time = { dist = \"exponential\", mean = \"10ms\" }\n",
        "service_time = { dist = \"exponential\", mean = \"10ms\" }\ncall = [{ to = \"api\", timeout = \"1s\" }]\n",
    );
    let e = Scenario::parse(std::path::Path::new("r.toml"), &cycle)
        .unwrap_err()
        .to_string();
    assert!(e.contains("lead back to it"), "{e}");
}

/// `scenarios/shop.toml`: a 60 s store slowdown behind three tiers.
fn shop() -> Scenario {
    Scenario::load(std::path::Path::new("scenarios/shop.toml")).expect("loads")
}

#[test]
fn a_store_slowdown_becomes_a_lasting_outage_only_with_unbudgeted_retries() {
    let s = shop();
    for seed in [1, 2] {
        let naive = outcome(&s, "naive-retries", seed);
        assert_eq!(naive.metrics["metastability_class"], 2.0, "seed {seed}");
        for design in ["budgeted", "no-retries"] {
            let o = outcome(&s, design, seed);
            assert_eq!(
                o.metrics["metastability_class"], 1.0,
                "{design} seed {seed}"
            );
            assert!(
                o.metrics["failing_after_trigger_seconds"] < 300.0,
                "{design}"
            );
            // What sustained the storm: the store's work for callers that
            // had already left.
            assert!(
                naive.metrics["served_late_db"] > 3.0 * o.metrics["served_late_db"],
                "{design}: {} vs {}",
                naive.metrics["served_late_db"],
                o.metrics["served_late_db"]
            );
        }
        // The same naive retries behind a cache that answers most reads:
        // the store sees about 40/s, the slowdown never tips it.
        let cached = outcome(&s, "cached", seed);
        assert_eq!(cached.metrics["metastability_class"], 0.0, "seed {seed}");
        assert!(cached.metrics["served_db"] < naive.metrics["served_db"] / 5.0);
    }
}

#[test]
fn the_shops_outage_follows_its_trigger() {
    // Without the slowdown nothing fails, whatever the retries.
    let text = std::fs::read_to_string("scenarios/shop.toml").unwrap();
    let calm = text.replace("delay = \"5ms\"", "delay = \"1ns\"");
    let calm = Scenario::parse(std::path::Path::new("calm.toml"), &calm).unwrap();
    let o = outcome(&calm, "naive-retries", 1);
    assert_eq!(o.metrics["metastability_class"], 0.0, "stable");
    assert!(
        o.metrics["failed_requests"] < 10.0,
        "{}",
        o.metrics["failed_requests"]
    );
    // A later slowdown: the first failing window moves with it.
    let later = set(&shop(), "fault[0].at", "\"20m\"");
    let first_bad = |o: &Outcome| {
        o.series["errors shoppers"]
            .iter()
            .position(|e| *e > 0.1)
            .map(|k| k as f64 * o.series_step.as_secs_f64())
    };
    let (a, b) = (
        first_bad(&outcome(&shop(), "naive-retries", 1)),
        first_bad(&outcome(&later, "naive-retries", 1)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        (600.0..=660.0).contains(&a) && (1200.0..=1260.0).contains(&b),
        "{a} {b}"
    );
}

#[test]
fn ejecting_a_dead_replica_spares_the_users_its_timeouts() {
    // The shop without its slowdown; zone-c (a web and two API replicas)
    // is down from 4 to 14 min. Round robin keeps sending a third of the
    // users' attempts to the dead web replica; with passive health
    // checking (5 failures in a row eject a replica for 30 s) callers skip
    // it.
    let text = std::fs::read_to_string("scenarios/shop.toml")
        .unwrap()
        .replace(
            "kind = \"slow_node\"\ntarget = \"db-0\"\ndelay = \"5ms\"",
            "kind = \"crash\"\ntarget = \"site:zone-c\"",
        );
    let text = text.replace(
        "at = \"10m\"\nduration = \"60s\"",
        "at = \"4m\"\nduration = \"10m\"",
    );
    let down = Scenario::parse(std::path::Path::new("zone-c.toml"), &text).unwrap();
    let ejecting = set(&down, "architecture.cohort[0].eject_after", "5");
    let ejecting = set(
        &ejecting,
        "architecture.service[0].call[0].eject_after",
        "5",
    );
    let (plain, health) = (
        outcome(&down, "naive-retries", 1),
        outcome(&ejecting, "naive-retries", 1),
    );
    let failed = |o: &Outcome| o.metrics["failed_requests"];
    assert!(failed(&plain) > 10_000.0, "{}", failed(&plain));
    assert!(
        failed(&health) < failed(&plain) / 10.0,
        "{} vs {}",
        failed(&health),
        failed(&plain)
    );
    assert!(health.metrics["ejections_web"] > 0.0 && plain.metrics["ejections_web"] == 0.0);
    assert!(health.metrics["user_timeouts"] < plain.metrics["user_timeouts"] / 10.0);
}

#[test]
fn a_circuit_breaker_in_front_of_the_store_ends_the_storm() {
    // The shop's naive retries, with a breaker on the API's calls to the
    // store: 20 failures in a row open it for 10 s, during which queries
    // fail at once instead of piling onto the store.
    let s = shop();
    let guarded = set(
        &s,
        "architecture.service[1].call[0].breaker",
        "{ failures = 20, open_for = \"10s\" }",
    );
    let (plain, with) = (
        outcome(&s, "naive-retries", 1),
        outcome(&guarded, "naive-retries", 1),
    );
    assert_eq!(plain.metrics["metastability_class"], 2.0);
    assert_eq!(with.metrics["metastability_class"], 1.0);
    assert!(with.metrics["breaker_opened_api"] > 0.0 && plain.metrics["breaker_opened_api"] == 0.0);
    assert!(with.metrics["breaker_rejected_api"] > 0.0);
    assert!(with.metrics["served_late_db"] < plain.metrics["served_late_db"] / 3.0);
    // The series show it: the API's retries start with the slowdown (10
    // min, step 60 of 10 s) and, unbroken, never stop; with the breaker
    // open, its replicas' breakers show in their own series, and only there.
    let retries = &plain.series["retries api"];
    assert!(retries[..60].iter().all(|&r| r == 0.0));
    assert!(retries[60..].iter().all(|&r| r > 0.0));
    assert!(!plain.series.contains_key("breakers open api"));
    let open = &with.series["breakers open api"];
    assert!(open[..60].iter().all(|&o| o == 0.0) && open[60..].iter().any(|&o| o > 0.0));
}

#[test]
fn a_cache_shields_the_store_until_a_restart_empties_it() {
    // The shop without the slowdown and without retries, the store cut
    // to 2 workers (200 queries/s) against 300 requests/s: too small
    // without a cache in front of it. (A cache that starts cold under
    // that load never warms: every fetch times out and nothing is stored,
    // itself a metastable state; hence the ramp below.)
    let text = std::fs::read_to_string("scenarios/shop.toml")
        .unwrap()
        .replace(
            "kind = \"slow_node\"\ntarget = \"db-0\"\ndelay = \"5ms\"",
            "kind = \"slow_node\"\ntarget = \"db-0\"\ndelay = \"1ns\"",
        );
    let base = Scenario::parse(std::path::Path::new("cache.toml"), &text).unwrap();
    let base = set(&base, "architecture.cohort[0].retries", "0");
    let base = set(&base, "architecture.service[1].call[0].retries", "0");
    let small = set(&base, "architecture.service[2].workers", "2");
    // Traffic ramps from 100 to 300 requests/s at 2 min, once caches warm.
    let small = set(&small, "architecture.cohort[0].rate", "100.0");
    let small = set(
        &small,
        "architecture.cohort[0].surge",
        "{ at = \"2m\", duration = \"38m\", rate = 300.0 }",
    );
    let cached = set(
        &small,
        "architecture.service[1].call[0].cache",
        "{ keys = 2000, zipf = 0.9, capacity = 2000, ttl = \"5m\" }",
    );
    let bare = outcome(&small, "naive-retries", 1);
    let warm = outcome(&cached, "naive-retries", 1);
    assert!(
        bare.metrics["failed_requests"] > 10_000.0,
        "{}",
        bare.metrics["failed_requests"]
    );
    assert!(warm.metrics["failed_requests"] < bare.metrics["failed_requests"] / 10.0);
    let hits = warm.metrics["cache_hits_api"];
    let ratio = hits / (hits + warm.metrics["cache_misses_api"]);
    assert!(ratio > 0.5, "hit ratio {ratio}");
    assert!(warm.metrics["served_db"] < bare.metrics["served_db"] * 0.6);
    // Restart every API replica at 20 min: cold caches send every query to
    // the store, which cannot take them, until they warm up again.
    let mut restarted = cached.source_text().to_string();
    for k in 0..6 {
        restarted.push_str(&format!(
            "\n[[fault]]\nat = \"20m\"\nduration = \"1s\"\nkind = \"crash\"\ntarget = \"api-{k}\"\n"
        ));
    }
    let restarted = Scenario::parse(std::path::Path::new("restart.toml"), &restarted).unwrap();
    let cold = outcome(&restarted, "naive-retries", 1);
    assert!(
        cold.metrics["peak_queue_db"] > 5.0 * warm.metrics["peak_queue_db"].max(1.0),
        "{} vs {}",
        cold.metrics["peak_queue_db"],
        warm.metrics["peak_queue_db"]
    );
    assert!(cold.metrics["failed_requests"] > 2.0 * warm.metrics["failed_requests"].max(100.0));
}

// --- Stores: replication, failover, fencing ---------------------------
//
// `scenarios/store-failover.toml`: an API tier in three zones over a
// three-replica store, primary in zone-a, a failover detector in zone-c
// (declares after 10 s, promotes 5 s later); zone-a isolated from 5 to
// 8 min.

fn store_failover() -> Scenario {
    Scenario::load(std::path::Path::new("scenarios/store-failover.toml")).expect("loads")
}

fn figure(o: &Outcome, name: &str) -> f64 {
    *o.metrics
        .get(name)
        .unwrap_or_else(|| panic!("no figure {name}"))
}

fn verdict(o: &Outcome, check: &str) -> Verdict {
    o.checks
        .get(check)
        .unwrap_or_else(|| panic!("no check {check}"))
        .verdict
}

#[test]
fn replication_and_fencing_decide_what_a_failover_loses() {
    let s = store_failover();
    let (plain, fenced, quorum, single) = (
        outcome(&s, "async", 1),
        outcome(&s, "async-fenced", 1),
        outcome(&s, "quorum", 1),
        outcome(&s, "single-zone", 1),
    );
    // Unfenced: the cut-off primary keeps taking zone-a's writes while
    // the promoted one takes the rest, for the whole cut after promotion.
    assert_eq!(verdict(&plain, "split-brain"), Verdict::Invalid);
    assert!(figure(&plain, "split_brain_seconds") > 150.0);
    assert!(
        figure(&plain, "lost_writes") > 2_000.0,
        "{}",
        figure(&plain, "lost_writes")
    );
    assert_eq!(figure(&plain, "failovers"), 1.0);
    // Fenced: no split brain; only writes acknowledged before the lease
    // ran out (detect = 10 s) are lost.
    assert_eq!(verdict(&fenced, "split-brain"), Verdict::Valid);
    let lost = figure(&fenced, "lost_writes");
    assert!(
        lost > 0.0 && lost < figure(&plain, "lost_writes") / 5.0,
        "{lost}"
    );
    assert!(
        figure(&fenced, "rpo_seconds") <= 10.5,
        "{}",
        figure(&fenced, "rpo_seconds")
    );
    // Quorum: nothing acknowledged is lost, and no split brain.
    assert_eq!(verdict(&quorum, "lost-writes"), Verdict::Valid);
    assert_eq!(figure(&quorum, "lost_writes"), 0.0);
    assert_eq!(figure(&quorum, "split_brain_seconds"), 0.0);
    assert!(figure(&quorum, "writes_acked") > 50_000.0);
    // One node: nothing lost, no failover, but two zones without a store.
    assert_eq!(figure(&single, "lost_writes"), 0.0);
    assert_eq!(figure(&single, "failovers"), 0.0);
    // Reads: zone-a's readers keep reading the cut-off primary while the
    // promoted one takes writes (stale by minutes); one node never serves
    // a stale read.
    assert!(
        figure(&plain, "stale_reads") > 1_000.0,
        "{}",
        figure(&plain, "stale_reads")
    );
    assert!(figure(&plain, "max_staleness_seconds") > 60.0);
    assert_eq!(verdict(&single, "stale-reads"), Verdict::Valid);
    assert!(figure(&single, "failed_requests") > 1.5 * figure(&quorum, "failed_requests"));
}

#[test]
fn without_the_cut_nothing_fails_over_and_a_longer_cut_loses_more() {
    let s = store_failover();
    let calm = s
        .with_set("fault", None)
        .expect("the schedule can be dropped");
    let o = outcome(&calm, "async", 1);
    assert_eq!(figure(&o, "failovers"), 0.0);
    assert_eq!(figure(&o, "lost_writes"), 0.0);
    assert_eq!(verdict(&o, "split-brain"), Verdict::Valid);
    // Without the cut no read is stale: a replica gets a write about when
    // the caller gets its acknowledgement. Stall the primary's messages to
    // zone-b (db-1 among them) for 20 s and db-1's readers in the other
    // zones see up to 20 s old values: the
    // 1 s bound catches them, a 30 s bound allows them.
    assert_eq!(figure(&o, "stale_reads"), 0.0);
    let stall = "[{ at = \"2m\", duration = \"20s\", kind = \"clog\", from = [\"db-0\"], to = [\"site:zone-b\"] }]";
    let stalled = outcome(&set(&calm, "fault", stall), "async", 1);
    assert!(
        figure(&stalled, "stale_reads") > 100.0,
        "{}",
        figure(&stalled, "stale_reads")
    );
    let worst = figure(&stalled, "max_staleness_seconds");
    assert!((15.0..20.5).contains(&worst), "{worst}");
    let lax = set(
        &set(&calm, "fault", stall),
        "architecture.service[1].store.stale_read_bound",
        "\"30s\"",
    );
    assert_eq!(figure(&outcome(&lax, "async", 1), "stale_reads"), 0.0);
    // Split brain lasts from the promotion to the end of the cut, and the
    // divergent writes with it.
    let short = outcome(&set(&s, "fault[0].duration", "\"60s\""), "async", 1);
    let long = outcome(&s, "async", 1);
    let (a, b) = (
        figure(&short, "split_brain_seconds"),
        figure(&long, "split_brain_seconds"),
    );
    assert!((a - 45.0).abs() < 2.0 && (b - 165.0).abs() < 2.0, "{a} {b}");
    assert!(figure(&long, "lost_writes") > 2.5 * figure(&short, "lost_writes"));
    // A cut shorter than detection fails nothing over.
    let blip = outcome(&set(&s, "fault[0].duration", "\"5s\""), "async", 1);
    assert_eq!(figure(&blip, "failovers"), 0.0);
    assert_eq!(figure(&blip, "lost_writes"), 0.0);
}

/// Reads at any replica are stale wherever a replica is behind (zone-a's
/// readers on the cut-off copy, every reader on a lagging one); reads at
/// the primary are stale only where the failover itself lost acknowledged
/// writes (a fenced primary stops serving before the new one takes
/// writes). The price is the cut-off zone's reads, which now fail instead
/// of answering old data. Without the cut, primary reads are never stale.
#[test]
fn reads_at_the_primary_trade_stale_answers_for_failed_ones() {
    let s = store_failover();
    let any = outcome(&s, "async-fenced", 1);
    let at_primary = |s: &Scenario| {
        let p = set(
            s,
            "design.async-fenced.service[1].store.reads",
            "\"primary\"",
        );
        outcome(&p, "async-fenced", 1)
    };
    let primary = at_primary(&s);
    let (stale_any, stale_primary) = (figure(&any, "stale_reads"), figure(&primary, "stale_reads"));
    assert!(stale_any > 1_000.0, "{stale_any}");
    assert!(
        stale_primary < stale_any / 5.0,
        "{stale_primary} vs {stale_any}"
    );
    assert!(figure(&primary, "reads") > 50_000.0);
    let calm = at_primary(&s.with_set("fault", None).unwrap());
    assert_eq!(figure(&calm, "stale_reads"), 0.0);
    assert_eq!(verdict(&calm, "stale-reads"), Verdict::Valid);
    assert!(
        figure(&primary, "failed_requests") > figure(&any, "failed_requests"),
        "{} vs {}",
        figure(&primary, "failed_requests"),
        figure(&any, "failed_requests")
    );
}

#[test]
fn a_fenced_primary_loses_what_it_acknowledged_until_its_lease_ran_out() {
    // Fencing at `detect`: the acknowledged-then-lost writes span the
    // lease, so the RPO follows the detection time.
    let s = store_failover();
    let fenced = |detect: &str| {
        let t = set(
            &s,
            "design.async-fenced.service[1].store.failover.detect",
            detect,
        );
        outcome(&t, "async-fenced", 1)
    };
    let (ten, thirty) = (fenced("\"10s\""), fenced("\"30s\""));
    let (a, b) = (figure(&ten, "rpo_seconds"), figure(&thirty, "rpo_seconds"));
    assert!(
        (9.0..=10.5).contains(&a) && (28.0..=30.5).contains(&b),
        "{a} {b}"
    );
    assert!(figure(&thirty, "lost_writes") > 2.0 * figure(&ten, "lost_writes"));
}

#[test]
fn semi_sync_falls_back_to_async_unless_the_lease_is_shorter_than_its_timeout() {
    let s = store_failover();
    let semi = set(
        &s,
        "architecture.service[1].store.replication",
        "\"semi_sync\"",
    );
    let o = outcome(&semi, "async", 1);
    // After the 10 s timeout the cut-off primary acknowledges alone.
    assert!(figure(&o, "lost_writes") > 1_000.0);
    assert!(
        o.timeline
            .iter()
            .any(|e| e.what.contains("falls back to asynchronous"))
    );
    // Fenced at 10 s with a 30 s timeout: it never falls back.
    let safe = set(
        &semi,
        "architecture.service[1].store.failover.fence",
        "true",
    );
    let safe = set(
        &safe,
        "architecture.service[1].store.semi_sync_timeout",
        "\"30s\"",
    );
    let o = outcome(&safe, "async", 1);
    assert_eq!(figure(&o, "lost_writes"), 0.0);
    assert_eq!(verdict(&o, "split-brain"), Verdict::Valid);
}

#[test]
fn a_store_knob_error_names_its_field() {
    let s = store_failover();
    let v: toml::Value = toml::from_str::<toml::Table>("v = \"single\"")
        .unwrap()
        .remove("v")
        .unwrap();
    let e = match s.with_set("architecture.service[1].store.replication", Some(v)) {
        Err(e) => e.to_string(),
        Ok(s) => match run(&s, Some("async"), Seed(1), &RunOptions::default()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a single node with three replicas is refused"),
        },
    };
    assert!(e.contains("service[1].store.replication"), "{e}");
}

/// Runs `design` of the store scenario (users at 30/s per zone, two
/// minutes of random partitions, link cuts, crashes and pauses of the
/// zones, the replicas and the detector, then a minute to settle) under
/// `cases` random schedules; the first schedule (shrunk) under which an
/// acknowledged write is lost or two primaries both acknowledge.
fn store_safety_under_random_faults(design: &str, cases: u32) -> Result<(), String> {
    use blastradius::fault::FaultSchedule;
    use blastradius::strategy::{FaultTargets, KindSet, fault_schedule};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let horizon = 120;
    let mut s = store_failover();
    s.duration = SimDuration::from_secs(horizon + 60);
    s.faults = FaultSchedule::empty();
    for k in 0..3 {
        s = set(&s, &format!("architecture.cohort[{k}].rate"), "30.0");
    }
    let mut nodes: Vec<String> = ["zone-a", "zone-b", "zone-c"]
        .iter()
        .map(|z| format!("site:{z}"))
        .collect();
    nodes.extend(["db-0", "db-1", "db-2", "db-detector"].map(String::from));
    let targets = FaultTargets {
        nodes,
        links: vec![
            "zone-a-zone-b".into(),
            "zone-a-zone-c".into(),
            "zone-b-zone-c".into(),
        ],
        groups: vec![],
    };
    let strategy = fault_schedule(targets, SimDuration::from_secs(horizon), 4, KindSet::All);
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            max_shrink_iters: 200,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    runner
        .run(&strategy, |faults| {
            let mut t = s.clone();
            t.faults = faults.clone();
            let o = run(&t, Some(design), Seed(7), &RunOptions::default()).expect("runs");
            for check in ["lost-writes", "split-brain"] {
                let f = o.checks.get(check).expect("finding");
                proptest::prop_assert_eq!(
                    f.verdict,
                    Verdict::Valid,
                    "{}: {} under\n{}",
                    check,
                    f.summary,
                    faults
                );
            }
            Ok(())
        })
        .map_err(|e| e.to_string())
}

/// Quorum replication with an announced epoch never loses an
/// acknowledged write and never runs two primaries that both acknowledge,
/// whatever the schedule; the same search finds a loss with asynchronous
/// replication at once (so the search can fail).
#[test]
fn quorum_loses_no_acknowledged_write_under_random_faults() {
    let cases = std::env::var("BLASTRADIUS_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    if let Err(e) = store_safety_under_random_faults("quorum", cases) {
        panic!("{e}");
    }
    let e =
        store_safety_under_random_faults("async", 48).expect_err("async replication loses writes");
    assert!(
        e.contains("lost-writes") || e.contains("split-brain"),
        "{e}"
    );
}

// --- Hedging and zone-aware balancing ---------------------------------

/// Four replicas whose service time has a heavy tail (log-normal, median
/// 5 ms), users at 200/s calling them directly.
fn tail_at_scale(service_time: &str, hedge: Option<&str>) -> Outcome {
    let hedge = hedge.map_or(String::new(), |h| format!("\nhedge_after = \"{h}\""));
    users_of(service_time, 4, 200.0, &hedge)
}

/// Users at `rate` calling `replicas` replicas of 16 workers directly;
/// `cohort` adds lines to the cohort's table.
fn users_of(service_time: &str, replicas: u32, rate: f64, cohort: &str) -> Outcome {
    let text = format!(
        r#"
[scenario]
name = "tail"
seed = 1
duration = "20m"

[[site]]
name = "zone"
kind = "datacenter"
local_latency = {{ dist = "constant", value = "100us" }}

[architecture]

[[architecture.service]]
name = "svc"
replicas = {replicas}
sites = ["zone"]
workers = 16
queue_max = 1000
service_time = {service_time}

[[architecture.cohort]]
name = "users"
site = "zone"
service = "svc"
rate = {rate}
timeout = "1s"{cohort}
"#
    );
    let s =
        Scenario::parse(std::path::Path::new("tail.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    run(&s, None, Seed(1), &RunOptions::default()).expect("runs")
}

#[test]
fn hedging_cuts_the_tail_it_is_sent_against_and_costs_what_it_sends() {
    let heavy = r#"{ dist = "log_normal", min = "0ms", median = "5ms", sigma = 1.0 }"#;
    let (plain, hedged) = (
        tail_at_scale(heavy, None),
        tail_at_scale(heavy, Some("15ms")),
    );
    let p99 = |o: &Outcome| figure(o, "latency_p99_ms");
    // Without hedging the p99 is the service time's (5 ms x e^2.33 = 51 ms).
    assert!((40.0..65.0).contains(&p99(&plain)), "{}", p99(&plain));
    assert!(
        p99(&hedged) < p99(&plain) / 1.8,
        "{} vs {}",
        p99(&hedged),
        p99(&plain)
    );
    assert_eq!(figure(&plain, "user_hedges"), 0.0);
    // The price: one hedge per attempt slower than 15 ms, about 14 % of
    // requests (P[lognormal > 3 x median] at sigma 1).
    let share = figure(&hedged, "user_hedges") / figure(&hedged, "requests");
    assert!((0.10..0.20).contains(&share), "{share}");
    // A service with no tail sends no hedges.
    let flat = tail_at_scale(r#"{ dist = "constant", value = "5ms" }"#, Some("15ms"));
    assert_eq!(figure(&flat, "user_hedges"), 0.0);
}

#[test]
fn zone_aware_balancing_stays_local_and_fails_over_only_on_a_health_signal() {
    // The shop without its slowdown: users in zone-a, one web replica per
    // zone; web-0 (zone-a's) crashed from 5 to 10 min.
    let text = std::fs::read_to_string("scenarios/shop.toml").unwrap().replace(
        "at = \"10m\"\nduration = \"60s\"\nkind = \"slow_node\"\ntarget = \"db-0\"\ndelay = \"5ms\"",
        "at = \"5m\"\nduration = \"5m\"\nkind = \"crash\"\ntarget = \"web-0\"",
    );
    let s = Scenario::parse(std::path::Path::new("zone.toml"), &text).unwrap();
    let s = set(&s, "scenario.duration", "\"15m\"");
    // (`no-retries` restates the cohort: its keys are set there.)
    let zone_aware = set(&s, "design.no-retries.cohort[0].balancer", "\"zone_aware\"");
    let healthy = set(&zone_aware, "design.no-retries.cohort[0].eject_after", "3");
    let calm = |s: &Scenario| s.with_set("fault", None).unwrap();
    let (rr, za) = (
        outcome(&calm(&s), "no-retries", 1),
        outcome(&calm(&zone_aware), "no-retries", 1),
    );
    // Staying in zone-a saves the users' cross-zone round trip (about
    // 2 ms) on the two thirds of requests round robin sent away.
    let p50 = |o: &Outcome| figure(o, "latency_p50_ms");
    assert!(p50(&za) < p50(&rr) - 0.8, "{} vs {}", p50(&za), p50(&rr));
    // With web-0 down and no health signal, zone-aware keeps sending there:
    // every request of the five minutes fails. With passive health
    // checking it fails over to the other zones, and pays again each time
    // the 30 s ejection ends: the users' next 2 s (their timeout) of
    // requests go back to web-0 before three timeouts eject it again,
    // about 10 x 2 s x 300/s = 6,000 requests.
    let blind = outcome(&zone_aware, "no-retries", 1);
    let seen = outcome(&healthy, "no-retries", 1);
    let requests_5min = 300.0 * 300.0;
    assert!(
        figure(&blind, "failed_requests") > 0.9 * requests_5min,
        "{}",
        figure(&blind, "failed_requests")
    );
    let failed = figure(&seen, "failed_requests");
    assert!((3_000.0..9_000.0).contains(&failed), "{failed}");
    // Active health checks (every 2 s, out after 2 misses) take web-0 out
    // within about 4-6 s and keep it out without sending it users'
    // requests: only those first seconds fail.
    let checked = set(
        &zone_aware,
        "design.no-retries.cohort[0].health_check",
        "{ every = \"2s\", unhealthy = 2, healthy = 2 }",
    );
    let checked = outcome(&checked, "no-retries", 1);
    let failed = figure(&checked, "failed_requests");
    assert!((600.0..2_400.0).contains(&failed), "{failed}");
    assert_eq!(figure(&checked, "user_marked_down"), 1.0);
    assert_eq!(figure(&seen, "user_marked_down"), 0.0);
}

#[test]
fn a_latency_objective_counts_slow_successes_as_bad() {
    let heavy = r#"{ dist = "log_normal", min = "0ms", median = "5ms", sigma = 1.0 }"#;
    let share = |objective: &str| {
        let o = users_of(
            heavy,
            4,
            200.0,
            &format!("\nlatency_objective = \"{objective}\""),
        );
        assert_eq!(figure(&o, "slow_requests"), figure(&o, "failed_requests"));
        figure(&o, "slow_requests") / figure(&o, "requests")
    };
    // P[lognormal(median 5 ms, sigma 1) > t] = 1 - Phi(ln(t / 5 ms)):
    // 8.3 % past 20 ms, 1.07 % past 50 ms (plus the network's 0.2 ms).
    let (at20, at50) = (share("20ms"), share("50ms"));
    assert!((0.075..0.092).contains(&at20), "{at20}");
    assert!((0.008..0.014).contains(&at50), "{at50}");
    let none = users_of(heavy, 4, 200.0, "");
    assert_eq!(figure(&none, "slow_requests"), 0.0);
    assert_eq!(figure(&none, "failed_requests"), 0.0);
    assert_eq!(figure(&none, "error_budget_burned"), 0.0);
    // The 8.3 % slow past 20 ms burn 83 times a 99.9 % objective's budget.
    let o = users_of(heavy, 4, 200.0, "\nlatency_objective = \"20ms\"");
    let burned = figure(&o, "error_budget_burned");
    assert!((75.0..92.0).contains(&burned), "{burned}");
}

#[test]
fn a_load_shape_overloads_only_where_its_peak_passes_capacity() {
    // One replica of 16 workers at 320 ms: 50 requests/s. Users at 20/s
    // times a shape repeating every 10 min over 20 min: [1, 3] peaks at
    // 60/s for half of each period; [2, 2] has the same mean (40/s) and
    // never passes capacity.
    let server = r#"{ dist = "constant", value = "320ms" }"#;
    let shaped = |levels: &str| {
        let cohort = format!("\nshape = {{ period = \"10m\", levels = {levels} }}");
        let o = users_of(server, 1, 20.0, &cohort);
        (figure(&o, "requests"), figure(&o, "failed_requests"))
    };
    let (peaky, flat) = (shaped("[1.0, 3.0]"), shaped("[2.0, 2.0]"));
    // The same number of requests, 40/s x 1,200 s, within 2 %.
    for (requests, _) in [peaky, flat] {
        assert!((requests - 48_000.0).abs() < 960.0, "{requests}");
    }
    assert_eq!(flat.1, 0.0);
    // At 60/s against 50/s the queue grows 10/s for 5 min: waits pass the
    // 1 s timeout within seconds, and most of the peak's requests fail.
    assert!(peaky.1 > 5_000.0, "{}", peaky.1);
}

/// A front service calling two back services of 50 ms each, in order or
/// in parallel; `back` adds keys to the second back service.
fn fan(parallel: bool, back: &str) -> Outcome {
    fan_with(parallel, "", back)
}

/// As [`fan`], with `right_call` added to the front's call to the right.
fn fan_with(parallel: bool, right_call: &str, back: &str) -> Outcome {
    let text = format!(
        r#"
[scenario]
name = "fan"
seed = 1
duration = "5m"

[[site]]
name = "zone"
kind = "datacenter"
local_latency = {{ dist = "constant", value = "100us" }}

[architecture]

[[architecture.service]]
name = "front"
replicas = 2
sites = ["zone"]
workers = 64
queue_max = 1000
service_time = {{ dist = "constant", value = "1ms" }}
parallel = {parallel}
call = [{{ to = "left", timeout = "1s" }}, {{ to = "right", timeout = "1s"{right_call} }}]

[[architecture.service]]
name = "left"
replicas = 2
sites = ["zone"]
workers = 64
queue_max = 1000
service_time = {{ dist = "constant", value = "50ms" }}

[[architecture.service]]
name = "right"
replicas = 2
sites = ["zone"]
workers = 64
queue_max = 1000
service_time = {{ dist = "constant", value = "50ms" }}
{back}

[[architecture.cohort]]
name = "users"
site = "zone"
service = "front"
rate = 100.0
timeout = "2s"
"#
    );
    let s =
        Scenario::parse(std::path::Path::new("fan.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    run(&s, None, Seed(1), &RunOptions::default()).expect("runs")
}

#[test]
fn parallel_calls_take_the_slowest_not_the_sum() {
    let p50 = |o: &Outcome| figure(o, "latency_p50_ms");
    let (seq, par) = (fan(false, ""), fan(true, ""));
    // 1 ms + 50 + 50 (+ 3 round trips of 0.2 ms) in order; 1 + 50 at once.
    assert!((101.0..102.0).contains(&p50(&seq)), "{}", p50(&seq));
    assert!((51.0..52.0).contains(&p50(&par)), "{}", p50(&par));
    // A required call that fails fails the request in both modes: with
    // the right service down for a minute (6,000 requests), every request
    // of that minute fails, in order or in parallel.
    let down = "[[fault]]\nat = \"1m\"\nduration = \"1m\"\nkind = \"crash\"\ntarget = \"right-0\"\n[[fault]]\nat = \"1m\"\nduration = \"1m\"\nkind = \"crash\"\ntarget = \"right-1\"";
    for o in [fan(false, down), fan(true, down)] {
        let failed = figure(&o, "failed_requests");
        assert!((5_700.0..6_400.0).contains(&failed), "{failed}");
    }
    // An optional one is answered by its fallback: nothing fails.
    let optional = fan_with(true, ", optional = true", down);
    assert_eq!(figure(&optional, "failed_requests"), 0.0);
}

#[test]
fn endpoints_cost_and_call_what_they_name() {
    // One API with its own endpoint (2 ms, no calls) and `checkout` (20
    // ms, then the store); browsers use the first, buyers the second. The
    // store is down from 1 to 3 min.
    let text = r#"
[scenario]
name = "endpoints"
seed = 1
duration = "5m"

[[site]]
name = "zone"
kind = "datacenter"
local_latency = { dist = "constant", value = "100us" }

[[fault]]
at = "1m"
duration = "2m"
kind = "crash"
target = "db-0"

[architecture]

[[architecture.service]]
name = "api"
replicas = 2
sites = ["zone"]
workers = 64
queue_max = 1000
service_time = { dist = "constant", value = "2ms" }
endpoint = [{ name = "checkout", service_time = { dist = "constant", value = "20ms" }, call = [{ to = "db", timeout = "200ms" }] }]

[[architecture.service]]
name = "db"
replicas = 1
sites = ["zone"]
workers = 16
queue_max = 1000
service_time = { dist = "constant", value = "5ms" }

[[architecture.cohort]]
name = "browsers"
site = "zone"
service = "api"
rate = 100.0
timeout = "1s"

[[architecture.cohort]]
name = "buyers"
site = "zone"
service = "api"
endpoint = "checkout"
rate = 20.0
timeout = "1s"
"#;
    let s = Scenario::parse(std::path::Path::new("endpoints.toml"), text).unwrap();
    let o = run(&s, None, Seed(1), &RunOptions::default()).expect("runs");
    // Each endpoint's own cost: 2 ms, and 20 ms + the 5 ms query.
    assert!((2.0..3.0).contains(&figure(&o, "latency_p50_ms_browsers")));
    assert!((25.0..26.5).contains(&figure(&o, "latency_p50_ms_buyers")));
    // Only checkout calls the store: its outage fails the buyers' two
    // minutes (2,400 requests) and none of the browsers'.
    assert_eq!(figure(&o, "failed_requests_browsers"), 0.0);
    let lost = figure(&o, "failed_requests_buyers");
    assert!((2_200.0..2_600.0).contains(&lost), "{lost}");
    // A call to an endpoint the callee lacks names it.
    let bad = text.replace("endpoint = \"checkout\"", "endpoint = \"checkot\"");
    let e = Scenario::parse(std::path::Path::new("endpoints.toml"), &bad)
        .map(|s| run(&s, None, Seed(1), &RunOptions::default()).map(|_| ()))
        .map_or_else(
            |e| e.to_string(),
            |r| r.err().map(|e| e.to_string()).unwrap_or_default(),
        );
    assert!(
        e.contains("cohort[1].endpoint") && e.contains("checkout"),
        "{e}"
    );
}
