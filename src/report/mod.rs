//! Reports: what happened, in text for people, JSON and CSV for tools,
//! self-contained HTML pages and Chrome traces.
//!
//! Reports render results only: an [`Outcome`](crate::run::Outcome), a
//! [`Comparison`](crate::run::Comparison) (a sweep's too) and an
//! [`Analysis`]. Each is plain data computed in `run/`, so rendering never
//! runs, deploys or re-judges anything and knows no system's internals.
//! The first line of every text report of a run gives the seed and the
//! trace fingerprint, and the last line the command that replays the run.

pub mod html;
pub mod lanes;
pub mod perfetto;
pub mod postmortem;
pub mod radius;
pub mod replay;
pub mod svg;

pub use crate::systems::TimelineEntry;

use crate::run::Analysis;
use std::fmt::Write as _;

/// The text rendering of `analyze`'s result.
pub fn analysis_text(a: &Analysis) -> String {
    {
        let mut out = String::new();
        let this = a;
        let _ = writeln!(out, "scenario: {}", this.scenario);
        if let Some(d) = &this.design {
            let _ = writeln!(out, "design: {d}");
        }
        let _ = writeln!(
            out,
            "single points of failure (each alone disconnects two sites that hold nodes):"
        );
        if this.single_points_of_failure.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for u in &this.single_points_of_failure {
            let _ = writeln!(out, "  {u}");
        }
        for q in &this.questions {
            let _ = writeln!(out, "\n{}:", q.name);
            let c = &q.cuts;
            if c.already_separated {
                let _ = writeln!(out, "  already separated with nothing failed");
                continue;
            }
            match c.size {
                Some(size) => {
                    let _ = writeln!(
                        out,
                        "  smallest cut: {size} failure unit(s); {} such cut(s):",
                        c.cuts.len()
                    );
                    for cut in &c.cuts {
                        let names: Vec<String> = cut.iter().map(ToString::to_string).collect();
                        let _ = writeln!(out, "    {}", names.join(" + "));
                    }
                }
                None if c.exhaustive => {
                    let _ = writeln!(out, "  no cut of that size or smaller separates them");
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  search budget exhausted before a cut was found (unknown)"
                    );
                }
            }
        }
        if !this.equipment.is_empty() {
            let _ = writeln!(
                out,
                "\nequipment and hazards (each alone takes down these nodes):"
            );
            for e in &this.equipment {
                let more = e.nodes_down.saturating_sub(e.nodes.len());
                let tail = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "  {}: {} node(s), {:.1} %: {}{tail}",
                    e.unit,
                    e.nodes_down,
                    100.0 * e.fraction,
                    e.nodes.join(", ")
                );
            }
        }
        out
    }
}
