//! GitHub, 2018-10-21: a 43-second partition and a cross-coast MySQL
//! failover.
//!
//! Source: GitHub's post-incident analysis, published 2018-10-30,
//! <https://github.blog/2018-10-30-oct21-post-incident-analysis/>.
//!
//! Mechanism: maintenance cut the link between the US East network hub and
//! the primary US East datacenter for 43 s. The failover orchestrator's
//! voters in US West and the East public cloud still formed a quorum; they
//! could reach neither the East primaries nor the East replicas, the West
//! replicas confirmed that replication from the East had stopped, so the
//! orchestrator promoted West replicas. When the link came back the
//! application tier wrote to the West primaries while the East primaries
//! still held writes that had never reached the West (954 on the busiest
//! cluster), and East applications paid a cross-country round trip on every
//! statement.
//!
//! What the run shows: the historical design (`as-2018`) promotes in the
//! West during the cut, has two writable primaries, and loses acknowledged
//! East writes (the `lost-writes` and `split-brain` checks fail, with the
//! simulated count beside the published 954); GitHub's remediation
//! (`no-cross-region`) refuses the promotion, keeps every write, and is
//! unavailable for about the length of the cut.
//!
//! Run it: `cargo run --release --example github_split_brain [SEED]`.

use blastradius::Seed;
use blastradius::incidents;
use blastradius::report::replay::ReplayReport;
use blastradius::run::{RunOptions, run as run_design};

/// Replays the historical design and the remediation with `seed`.
fn run(seed: u64) -> (ReplayReport, ReplayReport) {
    let scenario = incidents::find("github-2018")
        .expect("github-2018 is built in")
        .scenario()
        .expect("the built-in scenario validates");
    let command = "cargo run --release --example github_split_brain";
    let replay = |design: &str| {
        let outcome = run_design(&scenario, Some(design), Seed(seed), &RunOptions::default())
            .expect("the built-in designs run");
        ReplayReport::new(&scenario, &outcome, command)
    };
    (replay("as-2018"), replay("no-cross-region"))
}

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2018);
    let (historical, remediated) = run(seed);
    print!("{}", historical.to_text());
    println!("\n--- the same partition with cross-region promotion prevented ---\n");
    print!("{}", remediated.to_text());
}

#[cfg(test)]
mod tests {
    use super::*;
    use blastradius::check::Verdict;

    fn verdict(r: &ReplayReport) -> Verdict {
        r.verdict
    }

    #[test]
    fn pins_the_verdicts() {
        let (historical, remediated) = run(2018);
        assert_eq!(verdict(&historical), Verdict::Invalid);
        let lost = historical.metrics["diverged_acked_writes"];
        assert!((300.0..3000.0).contains(&lost), "{lost} vs published 954");
        assert_eq!(historical.published["diverged_acked_writes"], 954.0);
        assert_eq!(verdict(&remediated), Verdict::Valid);
        assert_eq!(remediated.metrics["diverged_acked_writes"], 0.0);
    }
}
