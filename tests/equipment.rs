//! Physical failure domains: equipment (rooms, power feeds, cooling loops,
//! storage arrays) and hazards as failure units. `analyze` names what each
//! takes down, a redundant placement removes the single point of failure,
//! faults select nodes by equipment and hazard, and bad tables name the
//! line and field.

use blastradius::incidents;
use blastradius::rng::Seed;
use blastradius::run::Analysis;
use blastradius::scenario::Scenario;
use blastradius::topology::analysis::FailureUnit;
use std::path::Path;

/// A room with a water-cooled loop, two arrays on one power feed or two,
/// two databases, and a leak that reaches the array next to the loop.
fn p19(db2_array: &str, vnx2_feed: &str) -> String {
    format!(
        r#"
[scenario]
name = "p19"
duration = "1m"

[[site]]
name = "p19"

[[site]]
name = "web"

[[link]]
name = "web-p19"
a = "web"
b = "p19"
latency = {{ dist = "constant", value = "1ms" }}

[[equipment]]
name = "room-3"
kind = "room"
site = "p19"

[[equipment]]
name = "feed-a"
kind = "power_feed"
site = "p19"

[[equipment]]
name = "feed-b"
kind = "power_feed"
site = "p19"

[[equipment]]
name = "loop-3"
kind = "cooling_loop"
site = "p19"
depends_on = ["room-3"]

[[equipment]]
name = "vnx-1"
kind = "storage_array"
site = "p19"
depends_on = ["feed-a"]

[[equipment]]
name = "vnx-2"
kind = "storage_array"
site = "p19"
depends_on = ["{vnx2_feed}"]

[[hazard]]
name = "leak-loop-3"
on = "loop-3"
reach = ["vnx-1"]

[[node]]
name = "db-1"
site = "p19"
domain = "vnx-1"
service = "echo"

[[node]]
name = "db-2"
site = "p19"
domain = "{db2_array}"
service = "echo"

[[node]]
name = "front"
site = "web"
service = "echo"

[[fault]]
at = "10s"
kind = "crash"
target = "hazard:leak-loop-3"
"#
    )
}

fn parse(text: &str) -> Scenario {
    Scenario::parse(Path::new("p19.toml"), text).expect("valid")
}

fn down(report: &Analysis, unit: FailureUnit) -> usize {
    report
        .equipment
        .iter()
        .find(|e| e.unit == unit)
        .map_or(0, |e| e.nodes_down)
}

#[test]
fn analyze_names_the_array_and_the_leak_and_a_redundant_placement_removes_them() {
    let one = Analysis::new(&parse(&p19("vnx-1", "feed-a")), 2);
    assert_eq!(down(&one, FailureUnit::Equipment("vnx-1".into())), 2);
    assert_eq!(down(&one, FailureUnit::Hazard("leak-loop-3".into())), 2);
    assert_eq!(one.equipment[0].nodes, ["db-1", "db-2"]);
    assert!(
        blastradius::report::analysis_text(&one).contains("equipment vnx-1: 2 node(s)"),
        "{}",
        blastradius::report::analysis_text(&one)
    );
    // The second database on the other array, on the same feed: the feed
    // is now the single point of failure, the leak takes one database.
    let shared_feed = Analysis::new(&parse(&p19("vnx-2", "feed-a")), 2);
    assert_eq!(
        down(&shared_feed, FailureUnit::Equipment("vnx-1".into())),
        1
    );
    assert_eq!(
        down(&shared_feed, FailureUnit::Hazard("leak-loop-3".into())),
        1
    );
    assert_eq!(
        down(&shared_feed, FailureUnit::Equipment("feed-a".into())),
        2
    );
    // On its own feed too: nothing takes both.
    let redundant = Analysis::new(&parse(&p19("vnx-2", "feed-b")), 2);
    assert!(
        redundant.equipment.iter().all(|e| e.nodes_down <= 1),
        "{:?}",
        redundant.equipment
    );
}

#[test]
fn a_hazard_fault_stops_the_nodes_in_the_equipment_it_reaches() {
    for (db2, crashed) in [("vnx-1", 2), ("vnx-2", 1)] {
        let s = parse(&p19(db2, "feed-b"));
        let mut sim = s.build(Seed(1), false).expect("builds");
        sim.run();
        let stopped: Vec<&str> = sim
            .nodes()
            .filter(|(id, _, _)| sim.is_crashed(*id))
            .map(|(_, name, _)| name)
            .collect();
        assert_eq!(stopped.len(), crashed, "{stopped:?}");
        assert!(stopped.contains(&"db-1"));
        assert!(!stopped.contains(&"front"));
    }
}

#[test]
fn bad_equipment_tables_name_the_line_and_field() {
    let text = p19("vnx-1", "feed-a");
    let bad = text.replace("depends_on = [\"room-3\"]", "depends_on = [\"room-9\"]");
    let e = Scenario::parse(Path::new("p.toml"), &bad).unwrap_err();
    assert_eq!(e.field(), "equipment[3].depends_on", "{e}");
    assert!(
        bad.lines().nth(e.line() - 1).unwrap().contains("room-9"),
        "{e}"
    );
    let bad = text.replace("on = \"loop-3\"", "on = \"loop-9\"");
    let e = Scenario::parse(Path::new("p.toml"), &bad).unwrap_err();
    assert_eq!(e.field(), "hazard[0].on", "{e}");
    let bad = text.replace(
        "target = \"hazard:leak-loop-3\"",
        "target = \"hazard:flood\"",
    );
    let e = Scenario::parse(Path::new("p.toml"), &bad).unwrap_err();
    assert!(e.to_string().contains("flood"), "{e}");
    let bad = text.replace("kind = \"cooling_loop\"", "kind = \"coolant\"");
    let e = Scenario::parse(Path::new("p.toml"), &bad).unwrap_err();
    assert!(e.line() > 0, "{e}");
}

#[test]
fn a_system_places_its_nodes_in_equipment() {
    // GitLab's two database hosts, both on one array in one room.
    let text = incidents::find("gitlab-2017").unwrap().text;
    let text = text
        .replace(
            "[[link]]\nname = \"staging-azure_east\"",
            "[[equipment]]\nname = \"array-1\"\nkind = \"storage_array\"\nsite = \"azure_east\"\n\n[[link]]\nname = \"staging-azure_east\"",
        )
        .replace("role = \"primary\"\n", "role = \"primary\"\ndomain = \"array-1\"\n")
        .replace("role = \"replica\"\n", "role = \"replica\"\ndomain = \"array-1\"\n");
    let s = Scenario::parse(Path::new("g.toml"), &text).expect("valid");
    let report = Analysis::new(&s, 2);
    let array = report
        .equipment
        .iter()
        .find(|e| e.unit == FailureUnit::Equipment("array-1".into()))
        .expect("the array takes something down");
    assert_eq!(array.nodes, ["db1", "db2"]);
}

#[test]
fn every_built_in_system_can_place_its_nodes_in_equipment() {
    // GitHub's busiest cluster: the primary and one East replica on one
    // array; the West replicas elsewhere.
    let text = incidents::find("github-2018").unwrap().text;
    let with_array = text
        .replace(
            "[published]",
            "[[equipment]]\nname = \"east-array\"\nkind = \"storage_array\"\nsite = \"east_dc\"\n\n[published]",
        )
        .replace(
            "replicas = [\"east_dc\", \"east_dc\", \"west_dc\", \"west_dc\"]\nkeys = 5000",
            "replicas = [\"east_dc\", \"east_dc\", \"west_dc\", \"west_dc\"]\nkeys = 5000\ndomains = [\"east-array\", \"east-array\", \"\", \"\", \"\"]",
        );
    assert_ne!(with_array, text);
    let report = Analysis::new(
        &Scenario::parse(Path::new("g.toml"), &with_array).expect("valid"),
        2,
    );
    let array = &report.equipment[0];
    assert_eq!(array.unit, FailureUnit::Equipment("east-array".into()));
    assert_eq!(array.nodes, ["mysql1-0-east_dc", "mysql1-1-east_dc"]);
    // One domain per server, or none.
    let bad = with_array.replace(
        "domains = [\"east-array\", \"east-array\", \"\", \"\", \"\"]",
        "domains = [\"east-array\"]",
    );
    let e = Scenario::parse(Path::new("g.toml"), &bad).unwrap_err();
    assert_eq!(e.field(), "replicated_db.cluster[0].domains", "{e}");
    // DNS + LB: a DC's load balancer, apps and add-ons; CDN: its origins.
    let text = incidents::find("clever-cloud-2021").unwrap().text;
    let s = text
        .replace(
            "[[link]]\nname = \"par_a-provider1\"",
            "[[equipment]]\nname = \"par-a-room\"\nkind = \"room\"\nsite = \"par_a\"\n\n[[link]]\nname = \"par_a-provider1\"",
        );
    assert_ne!(s, text);
    let s = s.replace(
        "[[dns_lb.dc]]\nname = \"par_a\"\nsite = \"par_a\"\n",
        "[[dns_lb.dc]]\nname = \"par_a\"\nsite = \"par_a\"\ndomain = \"par-a-room\"\n",
    );
    assert!(s.contains("domain = \"par-a-room\""));
    match Scenario::parse(Path::new("c.toml"), &s) {
        Ok(sc) => {
            let report = Analysis::new(&sc, 2);
            let room = report
                .equipment
                .iter()
                .find(|e| e.unit == FailureUnit::Equipment("par-a-room".into()))
                .expect("the room takes the DC's nodes");
            assert!(
                room.nodes.iter().any(|n| n == "lb-par_a"),
                "{:?}",
                room.nodes
            );
        }
        Err(e) => panic!("{e}"),
    }
}

// OVH 2017: the array next to the leaking loop, the silent alarm, and the
// restore from cold backups.

fn ovh() -> Scenario {
    incidents::find("ovh-2017")
        .expect("built in")
        .scenario()
        .expect("valid")
}

fn replay(s: &Scenario, design: &str) -> blastradius::run::Outcome {
    blastradius::run::run(
        s,
        Some(design),
        Seed(629),
        &blastradius::run::RunOptions::default(),
    )
    .expect("runs")
}

fn verdict(o: &blastradius::run::Outcome, check: &str) -> blastradius::check::Verdict {
    o.checks.get(check).expect("check ran").verdict
}

fn has(o: &blastradius::run::Outcome, what: &str) -> bool {
    o.timeline.iter().any(|e| e.what.contains(what))
}

#[test]
fn ovh_2017_every_site_on_the_array_is_down_until_its_vm_is_restored() {
    use blastradius::check::Verdict;
    let o = replay(&ovh(), "as-2017");
    let m = &o.metrics;
    assert_eq!(m["sites_down_peak"], 50_000.0, "{m:?}");
    // The alarm reached nobody: the team came by service monitoring, at
    // the end of a chain of probe rounds, escalation and response.
    assert_eq!(verdict(&o, "alerts"), Verdict::Invalid);
    assert!(
        has(&o, "team called by service monitoring"),
        "{:?}",
        o.timeline
    );
    assert!((10.0..12.0).contains(&m["team_acting_minutes"]), "{m:?}");
    // Neither the restart nor the spare brings the data back.
    assert!(has(&o, "restart_array"));
    assert!(has(&o, "vnx-rbx does not come up"));
    assert_eq!(m["vms_restored"], 99.0);
    assert_eq!(m["vms_remounted"], 0.0);
    // Some sites are down more than a day; the last back near T0 + 29 h.
    assert!(m["sites_down_over_24h"] > 5_000.0, "{m:?}");
    assert!((24.0..34.0).contains(&m["last_site_back_hours"]), "{m:?}");
    // The nightly dumps were fine: the loss is the day since the last.
    assert_eq!(verdict(&o, "backup-freshness"), Verdict::Valid);
    assert!((16.0..17.0).contains(&m["rpo_hours_max"]), "{m:?}");
    assert_eq!(verdict(&o, "availability"), Verdict::Invalid);
}

#[test]
fn ovh_2017_a_working_alarm_alone_barely_changes_the_recovery() {
    use blastradius::check::Verdict;
    let s = ovh();
    let broken = replay(&s, "as-2017");
    let working = replay(&s, "alarm-working");
    assert_eq!(verdict(&working, "alerts"), Verdict::Valid);
    let (b, w) = (&broken.metrics, &working.metrics);
    assert!(w["team_acting_minutes"] < 3.0, "{w:?}");
    let gained = b["last_site_back_hours"] - w["last_site_back_hours"];
    // The team acts ~9 min earlier; the sites come back at most that much
    // earlier, and still more than a day after the leak.
    assert!((0.0..0.25).contains(&gained), "{gained}");
    assert!(gained / b["last_site_back_hours"] < 0.01, "{gained}");
    assert!(w["last_site_back_hours"] > 24.0);
}

#[test]
fn ovh_2017_a_mirror_in_another_room_keeps_every_site_up_and_hides_the_loss() {
    use blastradius::check::Verdict;
    let o = replay(&ovh(), "redundant-array");
    assert_eq!(o.metrics["sites_down_peak"], 0.0, "{:?}", o.metrics);
    assert_eq!(verdict(&o, "availability"), Verdict::Valid);
    assert_eq!(o.metrics["io_failovers"], 99.0);
    // With the alarm still silent and no site failing, nobody hears that
    // the array died: the mirror now runs alone.
    assert_eq!(verdict(&o, "alerts"), Verdict::Invalid);
    assert!(!has(&o, "team acting"), "{:?}", o.timeline);
}

#[test]
fn ovh_2017_automated_restores_bring_the_sites_back_in_hours() {
    let s = ovh();
    let auto = replay(&s, "automated-restore");
    let last = auto.metrics["last_site_back_hours"];
    assert!((4.0..14.0).contains(&last), "{:?}", auto.metrics);
    assert_eq!(auto.metrics["sites_down_over_24h"], 0.0);
    // The restore's rates are the model's, not a script: halve the import
    // rate and the restores take markedly longer.
    let slow = s
        .with_set(
            "hosting.restore.import_mb_per_s",
            Some(toml::Value::Float(7.5)),
        )
        .expect("a valid edit");
    let slow = replay(&slow, "automated-restore");
    assert!(
        slow.metrics["last_site_back_hours"] > last * 1.4,
        "{} vs {last}",
        slow.metrics["last_site_back_hours"]
    );
}

#[test]
fn ovh_2017_what_ends_the_outage_comes_from_the_arrays() {
    let s = ovh();
    // The leak's damage lasts an hour: the team's restart attempts reach
    // the array once it is back, and nothing is restored from backup.
    let mut brief = s
        .with_set("fault[0].duration", Some(toml::Value::String("1h".into())))
        .expect("a valid edit");
    brief.duration = blastradius::time::SimDuration::from_secs(20 * 3600);
    let o = replay(&brief, "as-2017");
    assert_eq!(o.metrics["vms_restored"], 0.0, "{:?}", o.metrics);
    let back = o.metrics["last_site_back_hours"];
    assert!((1.0..1.1).contains(&back), "{back}");
    // The spare comes up with the array's disks: the VMs not yet restored
    // remount it, with no data lost.
    let spare = s
        .with_set(
            "hosting.array[1].comes_up",
            Some(toml::Value::Boolean(true)),
        )
        .expect("a valid edit");
    let mut spare = spare;
    spare.duration = blastradius::time::SimDuration::from_secs(24 * 3600);
    let o = replay(&spare, "as-2017");
    assert!(o.metrics["vms_remounted"] > 90.0, "{:?}", o.metrics);
    let back = o.metrics["last_site_back_hours"];
    assert!((6.0..7.0).contains(&back), "{back}");
}

#[test]
fn ovh_2017_analyze_names_the_array_and_the_mirror_removes_it() {
    let s = ovh();
    let units = |r: &Analysis, unit: &str| {
        r.equipment
            .iter()
            .find(|e| e.unit == FailureUnit::Equipment(unit.into()))
            .map_or(0, |e| e.nodes_down)
    };
    let as_2017 = Analysis::new(&s, 2);
    // The array and every VM whose volume it holds.
    assert_eq!(
        units(&as_2017, "vnx-a"),
        100,
        "{}",
        blastradius::report::analysis_text(&as_2017)
    );
    assert!(blastradius::report::analysis_text(&as_2017).contains("equipment vnx-a: 100 node(s)"));
    let mirrored = Analysis::for_design(&s, "redundant-array", 2).expect("a design");
    assert_eq!(
        units(&mirrored, "vnx-a"),
        1,
        "{}",
        blastradius::report::analysis_text(&mirrored)
    );
    assert!(blastradius::report::analysis_text(&mirrored).contains("design: redundant-array"));
    assert!(Analysis::for_design(&s, "nope", 2).is_err());
}

#[test]
fn ovh_2017_replays_deterministically_and_bad_tables_name_line_and_field() {
    let mut s = ovh();
    s.duration = blastradius::time::SimDuration::from_secs(18 * 3600);
    let a = replay(&s, "as-2017");
    let b = replay(&s, "as-2017");
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(a.metrics, b.metrics);
    let text = incidents::find("ovh-2017").unwrap().text;
    for (from, to, field) in [
        (
            "volumes = { on = \"vnx-a\" }",
            "volumes = { on = \"vnx-z\" }",
            "hosting.volumes.on",
        ),
        (
            "parallel = 8,",
            "parallel = 0,",
            "hosting.team.step[3].parallel",
        ),
        (
            "import_mb_per_s = 15.0",
            "import_mb_per_s = -1.0",
            "hosting.restore.import_mb_per_s",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let bad = text.replacen(from, to, 1);
        let e = Scenario::parse(Path::new("o.toml"), &bad).unwrap_err();
        assert_eq!(e.field(), field, "{e}");
        assert!(bad.lines().nth(e.line() - 1).unwrap().contains(to), "{e}");
    }
}

#[test]
fn ovh_2017_the_detector_chain_acts_when_its_closed_form_says() {
    use blastradius::systems::parts::alarm::{AlertPath, DetectorChain};
    use blastradius::time::SimDuration;
    // The chain the scenario's nodes run, as a formula: the sensor trips
    // after `misses` polls, the service monitoring after `rounds` probe
    // rounds plus the escalation; the team acts `response` later.
    let chain = |delivered: bool| DetectorChain {
        sensor_delay: SimDuration::from_secs(3 * 5),
        alarm: AlertPath {
            channel: "liquid alarm".into(),
            delivered,
        },
        response: SimDuration::from_secs(90),
        noticed_otherwise: Some(SimDuration::from_secs(3 * 60 + 390 + 90)),
    };
    let s = ovh();
    for (design, delivered) in [("as-2017", false), ("alarm-working", true)] {
        let mut short = s.clone();
        short.duration = SimDuration::from_secs(17 * 3600);
        let o = replay(&short, design);
        let expected = chain(delivered).acted_after().unwrap().as_secs_f64() / 60.0;
        let simulated = o.metrics["team_acting_minutes"];
        // The nodes add network latency and poll phases: within a second.
        assert!(
            (simulated - expected).abs() < 1.0 / 60.0,
            "{design}: {simulated} vs {expected}"
        );
    }
}
