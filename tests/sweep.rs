//! `sweep`: what-if grids over knobs. The GitHub cut's length drives the
//! divergence; shards run by an ordinary scheduler (`xargs -P`) merge to
//! exactly the unsharded sweep; bad paths name the nearest knobs.

use blastradius::incidents;
use blastradius::run::{Axis, RunOptions, sweep};
use std::process::Command;

fn blastradius(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_blastradius"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("blastradius-sweep-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn a_longer_cut_diverges_more_writes() {
    let s = incidents::find("github-2018").unwrap().scenario().unwrap();
    let axes = [Axis {
        path: "fault[0].duration".into(),
        values: vec!["3s".into(), "43s".into(), "180s".into()],
    }];
    let designs = ["as-2018".to_string(), "no-cross-region".to_string()];
    let r = sweep(
        &s,
        &axes,
        &designs,
        &[2018, 2019],
        (1, 1),
        &|| (),
        &RunOptions::default(),
    )
    .expect("runs");
    assert_eq!(r.runs.len(), 3 * 2 * 2);
    assert_eq!(r.missing(), 0);
    let median = |point: usize, design: &str| {
        let mut v: Vec<f64> = r
            .runs
            .iter()
            .filter(|x| x.point == point && x.design == design)
            .map(|x| x.metrics["diverged_acked_writes"])
            .collect();
        v.sort_by(f64::total_cmp);
        v[0]
    };
    let (short, published, long) = (
        median(0, "as-2018"),
        median(1, "as-2018"),
        median(2, "as-2018"),
    );
    assert_eq!(short, 0.0, "a 3 s cut is shorter than detection");
    assert!((700.0..1400.0).contains(&published), "{published}");
    assert!((3000.0..4600.0).contains(&long), "{long}");
    for p in 0..3 {
        assert_eq!(median(p, "no-cross-region"), 0.0, "point {p}");
    }
    // The cut's own length is an input, echoed by partition_seconds.
    let cut: Vec<f64> = r
        .runs
        .iter()
        .filter(|x| x.design == "as-2018" && x.seed == 2018)
        .map(|x| x.metrics["partition_seconds"])
        .collect();
    assert_eq!(cut, vec![3.0, 43.0, 180.0]);
    assert_eq!(r.point_label(2), "fault[0].duration=180s");
    let text = r.to_text();
    assert!(
        text.contains("3 grid point(s) x 2 design(s) x 2 seed(s)"),
        "{text}"
    );
    let csv = r.to_csv().unwrap();
    assert!(
        csv.starts_with("fault[0].duration,design,seed,verdict,fingerprint,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + 12);
}

#[test]
fn shards_run_by_xargs_merge_to_the_whole_byte_for_byte() {
    let dir = temp_dir("xargs");
    let bin = env!("CARGO_BIN_EXE_blastradius");
    let sweep_args = "sweep github-2018 --set fault[0].duration=3s,43s --set replicated_db.orchestrator.unreachable_after=3s,20s --designs as-2018 --seeds 2 --quiet --format json";
    // The recipe of the README: one process per shard, four at a time.
    let script = format!(
        "seq 1 4 | xargs -P 4 -I{{}} sh -c '\"{bin}\" {sweep_args} --shard {{}}/4 > \"{d}/part-{{}}.json\"'",
        d = dir.display()
    );
    let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    assert!(status.success());
    let parts: Vec<String> = (1..=4)
        .map(|i| dir.join(format!("part-{i}.json")).display().to_string())
        .collect();
    let mut merge = vec!["sweep", "--merge"];
    merge.extend(parts.iter().map(String::as_str));
    merge.extend(["--format", "json"]);
    let (code, merged, err) = blastradius(&merge);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("missing"), "{err}");
    let whole_args: Vec<&str> = sweep_args.split(' ').collect();
    let (code, whole, err) = blastradius(&whole_args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(merged, whole);
    // Three of four shards: the merge says what is missing.
    let mut partial = vec!["sweep", "--merge"];
    partial.extend(parts[..3].iter().map(String::as_str));
    let (_, _, err) = blastradius(&partial);
    assert!(err.contains("2 run(s) of the sweep are missing"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_path_that_does_not_exist_names_the_nearest_knobs() {
    let (code, _, err) = blastradius(&["sweep", "github-2018", "--set", "faults[0].duration=1s"]);
    assert_eq!(code, 3);
    assert!(err.contains("--set faults[0].duration"), "{err}");
    assert!(err.contains("nearest: fault[0].duration"), "{err}");
    let (code, _, err) =
        blastradius(&["sweep", "github-2018", "--set", "fault[0].duration=1s,-3s"]);
    assert_eq!(code, 3);
    assert!(err.contains("fault[0].duration=-3s"), "{err}");
    assert!(
        err.contains("github-2018.toml:71"),
        "the original file's line: {err}"
    );
    let (code, _, err) = blastradius(&["sweep", "github-2018"]);
    assert_eq!(code, 3);
    assert!(err.contains("at least one --set"), "{err}");
}

#[test]
fn show_knobs_lists_paths_values_and_tags() {
    let (code, out, _) = blastradius(&["show", "github-2018", "--knobs"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with("[P] fault[0].duration") && l.ends_with("= \"43s\"")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("replicated_db.orchestrator.unreachable_after")),
        "{out}"
    );
}
