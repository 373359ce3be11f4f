//! `--format postmortem`: a blameless postmortem written from the run.
//! Every number in it is one the runs produced: the action items are the
//! other designs on the same seed, the spread is this design on more
//! seeds; detection moves when what noticed the trouble changes.

use blastradius::incidents;
use blastradius::report::postmortem::markdown;
use blastradius::rng::Seed;
use blastradius::run::postmortem::{SPREAD_SEEDS, gather};
use blastradius::run::{RunOptions, run};
use blastradius::scenario::Scenario;
use std::process::Command;

fn scenario(name: &str) -> Scenario {
    incidents::find(name).unwrap().scenario().unwrap()
}

fn postmortem(s: &Scenario, design: &str) -> String {
    let o = run(s, Some(design), s.seed.unwrap(), &RunOptions::default()).unwrap();
    let e = gather(s, o, &RunOptions::default()).unwrap();
    assert_eq!(e.seeds.len() as u64, SPREAD_SEEDS + 1);
    markdown(s, &e)
}

fn section<'a>(text: &'a str, title: &str) -> &'a str {
    let start = text
        .find(&format!("## {title}\n"))
        .unwrap_or_else(|| panic!("no section {title}"));
    let rest = &text[start + title.len() + 4..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

#[test]
fn gitlab_postmortem_has_every_section_and_numbers_from_the_runs() {
    let s = scenario("gitlab-2017");
    let text = postmortem(&s, "as-2017");
    for title in [
        "Summary",
        "Impact",
        "Trigger",
        "Root-cause chain",
        "Detection",
        "Resolution",
        "Timeline",
        "Action items",
        "Where we got lucky",
    ] {
        section(&text, title);
    }
    // Impact: this run's lost writes.
    let o = run(&s, Some("as-2017"), s.seed.unwrap(), &RunOptions::default()).unwrap();
    let lost = o.metrics["lost_acked_writes"];
    assert!(section(&text, "Impact").contains(&format!("| lost_acked_writes | {lost:.0} |")));
    // Action items: each design's figure on the same seed, best first.
    let tb = run(
        &s,
        Some("tested-backups"),
        s.seed.unwrap(),
        &RunOptions::default(),
    )
    .unwrap();
    let items = section(&text, "Action items");
    assert!(
        items.contains(&format!(
            "1. Adopt `tested-backups`: lost_acked_writes {lost:.0} → {:.0}; checks failing 6 → 0",
            tb.metrics["lost_acked_writes"]
        )),
        "{items}"
    );
    assert!(items.contains("2. Adopt `host-guard`"), "{items}");
    // The spread: the max over the five seeds is a seed's own figure.
    let max = (0..=SPREAD_SEEDS)
        .map(|k| {
            run(
                &s,
                Some("as-2017"),
                Seed(s.seed.unwrap().0 + k),
                &RunOptions::default(),
            )
            .unwrap()
            .metrics["lost_acked_writes"]
        })
        .fold(f64::MIN, f64::max);
    let luck = section(&text, "Where we got lucky");
    let row = luck
        .lines()
        .find(|l| l.starts_with("| lost_acked_writes |"))
        .unwrap();
    assert!(row.ends_with(&format!("| {max:.0} |")), "{row} vs {max}");
    // Detection: the lag page, the first signal that reached anyone; the
    // silent dump failure is listed as unheard.
    let det = section(&text, "Detection");
    assert!(det.contains("First noticed at T+4h35m31s"), "{det}");
    assert!(det.contains("paged: db2 is 20.0 GB behind db1"), "{det}");
    assert!(
        det.contains("an alert that reached nobody, at T-14h30m00s (email): backup pg_dump"),
        "{det}"
    );
}

/// Detection reads who noticed from the run's facts, not from words in the
/// timeline: an alarm whose alert reached nobody is not the first notice
/// (OVH's liquid alarm was, when "reaches nobody" missed the word list),
/// a step whose note says "unnoticed" is not a notice (AWS), and the
/// operators who see a drop within a second of it noticed it (DigitalOcean,
/// whose drop came before T0 and was reported as never noticed).
#[test]
fn detection_is_who_noticed_not_a_word_in_the_timeline() {
    let ovh = postmortem(&scenario("ovh-2017"), "as-2017");
    let det = section(&ovh, "Detection");
    assert!(det.contains("by the service monitoring alert"), "{det}");
    assert!(det.contains("an alert that reached nobody"), "{det}");
    assert!(!det.starts_with("\nFirst noticed at T+15s"), "{det}");
    let aws = postmortem(&scenario("aws-elb-2012"), "as-2012");
    let det = section(&aws, "Detection");
    assert!(!det.contains("unnoticed"), "{det}");
    assert!(
        det.contains("by elb-team: the monitoring shows errors"),
        "{det}"
    );
    let s = scenario("digitalocean-2017");
    let det_do = postmortem(&s, "as-2017");
    let trigger = section(&det_do, "Trigger");
    assert!(
        trigger.contains("master's copy of control_plane destroyed"),
        "{trigger}"
    );
    let det = section(&det_do, "Detection");
    assert!(
        det.contains("First noticed at T-1m00s (0 s after the trigger), by operators"),
        "{det}"
    );
}

#[test]
fn detection_moves_to_the_monitoring_when_the_lag_page_is_removed() {
    let s = scenario("gitlab-2017")
        .with_set("durable_db.lag_alert_gb", None)
        .unwrap();
    let text = postmortem(&s, "as-2017");
    let det = section(&text, "Detection");
    assert!(
        det.contains("the monitoring shows replication_broken on db2"),
        "{det}"
    );
    assert!(!det.contains("paged"), "{det}");
}

#[test]
fn a_design_where_every_check_holds_says_so_and_no_operator_acted() {
    let s = scenario("digitalocean-2017");
    let text = postmortem(&s, "scoped-credentials");
    assert!(section(&text, "Impact").contains("Every check held"));
    let res = section(&text, "Resolution");
    assert!(res.contains("operators never ran steps 0–4"), "{res}");
    assert!(section(&text, "Action items").contains("Adopt `as-2017`"));
}

#[test]
fn the_cli_prints_the_postmortem_and_exits_with_the_runs_verdict() {
    let out = Command::new(env!("CARGO_BIN_EXE_blastradius"))
        .args(["replay", "newsblur-2021", "--format", "postmortem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("# Postmortem: newsblur-2021 (as-2021)"));
    assert!(
        text.contains("Replay: `blastradius replay newsblur-2021 --design as-2021 --seed 2021`")
    );
}
