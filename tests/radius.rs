//! `radius`: every failure unit through the simulator. On the shipped
//! incidents the ranking is the one a reader of the postmortem expects,
//! and it moves with its cause: GitHub's East-hub cut loses the most
//! writes under the 2018 configuration, loses more the longer it lasts,
//! and loses none once cross-region promotion is forbidden; OVH's array
//! comes first and a mirrored volume absorbs it. Rows replay by their own
//! command; shards merge to the whole byte for byte whatever the thread
//! count; bad flags exit 3 naming the flag.

use blastradius::incidents;
use blastradius::radius::{Flag, Lasting, Options, Plan, Prediction, Radius, Row, UnitKind};
use blastradius::run::RunOptions;
use blastradius::time::SimDuration;
use std::process::Command;

fn blastradius(args: &[&str]) -> (i32, String, String) {
    blastradius_env(args, &[])
}

fn blastradius_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_blastradius"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn radius(name: &str, options: &Options) -> Radius {
    let s = incidents::find(name).unwrap().scenario().unwrap();
    let plan = Plan::new(&s, options).unwrap();
    let mut r = plan
        .run(&s, (1, 1), Vec::new(), &|| {}, &RunOptions::default())
        .unwrap();
    r.rank_rows();
    r
}

fn options(designs: &[&str], kinds: &[UnitKind], seeds: &[u64]) -> Options {
    let mut o = Options::new(seeds.to_vec());
    o.designs = designs.iter().map(|s| s.to_string()).collect();
    o.kinds = kinds.to_vec();
    o
}

fn row<'a>(r: &'a Radius, design: &str, label: &str) -> &'a Row {
    r.ranking
        .iter()
        .find(|x| x.design == design && x.label == label)
        .unwrap_or_else(|| panic!("no row {label} in {design}"))
}

fn first<'a>(r: &'a Radius, design: &str) -> &'a Row {
    r.ranking
        .iter()
        .find(|x| x.design == design && x.rank == 1)
        .unwrap()
}

const EAST_CUT: &str = "link:east_dc-east_hub";
const LOST: &str = "lost_acked_writes_total";

#[test]
fn github_east_cut_ranks_first_under_2018_and_drops_out_without_cross_region_promotion() {
    let r = radius(
        "github-2018",
        &options(
            &["as-2018", "no-cross-region"],
            &[UnitKind::Link, UnitKind::Site],
            &[2018],
        ),
    );
    assert_eq!(r.rank, LOST, "the system's first harm figure ranks");
    let top = first(&r, "as-2018");
    assert_eq!(top.label, EAST_CUT);
    assert!(top.rank_value(LOST) > 100.0, "{top:?}");
    // Structure sees every cluster keep members on both sides: it says the
    // design survives the cut, and the run loses writes.
    assert_eq!(top.structure.prediction, Prediction::Redundant);
    assert_eq!(top.structure.cut_off, ["east_dc"]);
    assert_eq!(top.flag, Some(Flag::Hidden));
    assert!(
        top.newly_failing.iter().any(|c| c == "lost-writes"),
        "{top:?}"
    );
    // Forbid cross-region promotion and the same cut loses nothing.
    let fixed = row(&r, "no-cross-region", EAST_CUT);
    assert_eq!(fixed.rank_value(LOST), 0.0, "{fixed:?}");
    assert!(
        r.ranking
            .iter()
            .filter(|x| x.design == "no-cross-region")
            .all(|x| x.rank_value(LOST) <= 0.0)
    );
    // A cut that leaves the primaries with their quorum harms nobody.
    let west = row(&r, "as-2018", "link:east_hub-west_dc");
    assert!(!west.harm, "{west:?}");
}

#[test]
fn a_longer_east_cut_loses_more_writes() {
    let mut short = options(&["as-2018"], &[UnitKind::Link], &[2018]);
    short.lasting = Lasting::For(SimDuration::from_secs(60));
    let mut long = short.clone();
    long.lasting = Lasting::For(SimDuration::from_secs(600));
    let lost = |o: &Options| row(&radius("github-2018", o), "as-2018", EAST_CUT).rank_value(LOST);
    let (a, b) = (lost(&short), lost(&long));
    assert!(a > 0.0 && b > 2.0 * a, "60 s: {a}, 600 s: {b}");
}

#[test]
fn ovh_array_ranks_first_and_a_mirror_absorbs_it() {
    let r = radius(
        "ovh-2017",
        &options(
            &["as-2017", "redundant-array"],
            &[UnitKind::Equipment, UnitKind::Hazard],
            &[629],
        ),
    );
    let top = first(&r, "as-2017");
    assert!(
        ["equipment:vnx-a", "hazard:leak-loop-3"].contains(&top.label.as_str()),
        "{top:?}"
    );
    assert!(top.harm);
    let mirrored = row(&r, "redundant-array", "equipment:vnx-a");
    assert!(!mirrored.harm, "{mirrored:?}");
    assert!(mirrored.structure.nodes_down > 0);
    assert_eq!(mirrored.flag, Some(Flag::Absorbed));
    // The cooling loop holds no node: nothing to inject, and it says so.
    assert!(r.idle.iter().any(|u| u.to_string() == "equipment:loop-3"));
}

#[test]
fn clever_cloud_ranks_the_shared_conduit_first() {
    let r = radius(
        "clever-cloud-2021",
        &options(
            &["as-2021", "independent-providers"],
            &[UnitKind::Link, UnitKind::Group],
            &[2021],
        ),
    );
    let top = first(&r, "as-2021");
    assert_eq!(top.label, "group:paris_conduit", "{:#?}", &r.ranking[..3]);
    assert!(top.harm);
    // With a second provider the conduit is no longer the worst case, and
    // its worst case fails fewer requests.
    let fixed = first(&r, "independent-providers");
    assert_ne!(fixed.label, "group:paris_conduit", "{fixed:?}");
    let errors = "error_requests";
    assert!(fixed.rank_value(errors) < top.rank_value(errors));
}

#[test]
fn pairs_skip_a_unit_inside_another_and_say_how_many() {
    let mut o = options(&["as-2018"], &[UnitKind::Link, UnitKind::Site], &[2018]);
    o.pairs = true;
    let s = incidents::find("github-2018").unwrap().scenario().unwrap();
    let plan = Plan::new(&s, &o).unwrap();
    let r = plan.radius();
    let singles = r.cases.iter().filter(|c| c.units.len() == 1).count();
    let pairs = r.cases.len() - singles;
    assert_eq!(singles, 7, "3 links and 4 sites");
    // A site's outage cuts every link through it: a link with either of
    // its two ends adds nothing, so 3 links x 2 ends are skipped.
    assert_eq!(r.skipped_pairs, 6);
    assert_eq!(pairs + r.skipped_pairs, 21);
    assert!(
        !r.cases
            .iter()
            .any(|c| c.label() == "link:east_dc-east_hub + site:east_hub")
    );
}

#[test]
fn a_row_replays_by_its_own_command_with_the_same_fingerprint() {
    let (code, out, err) = blastradius(&[
        "radius",
        "github-2018",
        "--design",
        "as-2018",
        "--units",
        "link",
        "--seeds",
        "1",
        "--quiet",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let case = r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["units"][0]["name"] == "east_dc-east_hub")
        .unwrap();
    let run = r["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["case"] == case)
        .unwrap();
    let row = r["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["case"] == case)
        .unwrap();
    let flags = format!(
        "--design as-2018 --seed {} --inject link:east_dc-east_hub --at 600s --for 600s --drop-schedule",
        row["seed"]
    );
    let mut args = vec!["replay", "github-2018", "--format", "json"];
    args.extend(flags.split(' '));
    let (_, replay, err) = blastradius(&args);
    let replay: serde_json::Value =
        serde_json::from_str(&replay).unwrap_or_else(|_| panic!("{err}"));
    assert_eq!(replay["fingerprint"], run["fingerprint"]);
}

#[test]
fn shards_merge_to_the_whole_byte_for_byte_at_any_thread_count() {
    let dir = std::env::temp_dir().join(format!("blastradius-radius-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_blastradius");
    let args = "radius github-2018 --designs as-2018,no-cross-region --units link --seeds 2 --for 2m --quiet --format json";
    let script = format!(
        "seq 1 3 | xargs -P 3 -I{{}} sh -c '\"{bin}\" {args} --shard {{}}/3 > \"{d}/part-{{}}.json\"'",
        d = dir.display()
    );
    assert!(
        Command::new("sh")
            .arg("-c")
            .arg(&script)
            .status()
            .unwrap()
            .success()
    );
    let parts: Vec<String> = (1..=3)
        .map(|i| dir.join(format!("part-{i}.json")).display().to_string())
        .collect();
    let mut merge = vec!["radius", "--merge"];
    merge.extend(parts.iter().map(String::as_str));
    merge.extend(["--format", "json"]);
    let (code, merged, err) = blastradius(&merge);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("missing"), "{err}");
    let whole: Vec<&str> = args.split(' ').collect();
    let (_, one, _) = blastradius_env(&whole, &[("RAYON_NUM_THREADS", "1")]);
    let (_, two, _) = blastradius_env(&whole, &[("RAYON_NUM_THREADS", "2")]);
    assert_eq!(one, two, "thread count changed the result");
    assert_eq!(merged, one);
    // Two of three shards: the merge says what is missing.
    let mut partial = vec!["radius", "--merge"];
    partial.extend(parts[..2].iter().map(String::as_str));
    let (_, _, err) = blastradius(&partial);
    assert!(err.contains("run(s) of the radius are missing"), "{err}");
    // A shard of another radius is refused.
    let (_, other, _) = blastradius(&[
        "radius",
        "github-2018",
        "--design",
        "as-2018",
        "--units",
        "site",
        "--seeds",
        "1",
        "--quiet",
        "--format",
        "json",
        "--shard",
        "1/3",
    ]);
    let foreign = dir.join("foreign.json");
    std::fs::write(&foreign, other).unwrap();
    let (code, _, err) = blastradius(&[
        "radius",
        "--merge",
        &parts[1],
        &foreign.display().to_string(),
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("of another radius"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_flags_exit_3_naming_the_flag_and_what_is_allowed() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--units", "rack"],
            "--units: unknown unit kind \"rack\" (one of link, group, site",
        ),
        (
            &["--at", "2h"],
            "--at: 7200s is not before the end of the run (3600s)",
        ),
        (
            &["--rank", "happiness"],
            "--rank happiness: the system reports no such figure; one of: checks, diverged_acked_writes",
        ),
        (&["--for", "0s"], "--for: must be positive"),
        (&["--seeds", "0"], "--seeds must be at least 1"),
    ];
    for (extra, message) in cases {
        let mut args = vec![
            "radius",
            "github-2018",
            "--design",
            "as-2018",
            "--units",
            "link",
            "--quiet",
        ];
        args.extend(extra);
        let (code, _, err) = blastradius(&args);
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    // Pairs past the limit: fastly's every node and link.
    let (code, _, err) = blastradius(&["radius", "fastly-2021", "--pairs", "--quiet"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("--pairs:") && err.contains("choose fewer kinds with --units"),
        "{err}"
    );
    // A run count past the ask needs --yes.
    let (code, _, err) = blastradius(&["radius", "fastly-2021", "--seeds", "100", "--quiet"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("pass --yes to start"), "{err}");
}

#[test]
fn text_and_csv_carry_the_ranking_and_the_replay_command() {
    let (code, text, err) = blastradius(&[
        "radius",
        "github-2018",
        "--design",
        "as-2018",
        "--units",
        "link",
        "--seeds",
        "1",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let line = text.lines().find(|l| l.contains(EAST_CUT)).unwrap();
    assert!(line.trim_start().starts_with("1 "), "{text}");
    assert!(line.contains("hidden"), "{line}");
    assert!(
        text.contains("replay #1: blastradius replay github-2018 --design as-2018"),
        "{text}"
    );
    let (code, csv, _) = blastradius(&[
        "radius",
        "github-2018",
        "--design",
        "as-2018",
        "--units",
        "link",
        "--seeds",
        "1",
        "--quiet",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("design,rank,case,prediction")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with(&format!("as-2018,1,{EAST_CUT},redundant"))
    );
    assert_eq!(csv.lines().count(), 4, "a header and three links");
}
