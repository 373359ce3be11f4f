//! HDFS clients fail over as Hadoop's failover proxy does: a failed or
//! unanswered call moves the client to the other NameNode only if it went
//! to the one in use. Before, every sweep that found any timed-out call
//! flipped the client, so after a NameNode crash it flapped between the
//! dead one and the new active every second and half its calls failed for
//! as long as the run lasted.

use blastradius::check::Verdict;
use blastradius::incidents;
use blastradius::run::{RunOptions, run};
use blastradius::time::SimDuration;

#[test]
fn after_a_namenode_crash_clients_follow_the_new_active_and_stay() {
    let s = incidents::find("criteo-hdfs").unwrap().scenario().unwrap();
    let fault: toml::Table =
        toml::from_str(r#"x = [{ at = "1h", kind = "crash", target = "nn-1" }]"#).unwrap();
    let mut s = s.with_set("fault", Some(fault["x"].clone())).unwrap();
    s.duration = SimDuration::from_secs(3 * 3600);
    let o = run(
        &s,
        Some("object-quota"),
        s.seed.unwrap(),
        &RunOptions::default(),
    )
    .unwrap();
    assert!(
        o.timeline.iter().any(|e| e.what.contains("nn-2 is active")),
        "the standby takes over"
    );
    // Only the crash's own windows fail, while the calls to the dead
    // NameNode time out (before the fix: half of every window failed to
    // the end of the run, 120 of 180).
    let f = o.checks.get("availability").unwrap();
    let failing: u64 = f
        .summary
        .strip_prefix("clients: ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(f.verdict == Verdict::Valid || failing <= 2, "{}", f.summary);
}
