//! A blast radius as a table to paste: per design the cases ranked by
//! consequence, each with what structure predicted, the figures against
//! the baseline, the checks it makes fail, its flag, and the command that
//! replays it; then the worst case per design side by side.

use crate::radius::{Radius, Row, rank::CHECKS};
use std::fmt::Write;

/// A rendering of a ranked [`Radius`] (call [`Radius::rank_rows`] first).
pub struct Report<'a>(pub &'a Radius);

/// `+954`, `+12.3`, `-0.25`, `0`.
pub fn signed(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let body = if (x.round() - x).abs() < 1e-9 {
        format!("{}", x.round().abs())
    } else if x.abs() >= 100.0 {
        format!("{:.0}", x.abs())
    } else if x.abs() >= 1.0 {
        format!("{:.1}", x.abs())
    } else {
        format!("{:.3}", x.abs())
    };
    format!("{}{body}", if x > 0.0 { "+" } else { "-" })
}

impl Report<'_> {
    /// When units fail, relative to T0 where the scenario has one.
    pub fn when(&self) -> String {
        let r = self.0;
        let at = r.at.as_secs_f64() - r.t0_at.as_secs_f64();
        let rel = if r.t0_at.as_secs_f64() > 0.0 {
            let sign = if at < 0.0 { "-" } else { "+" };
            let d = crate::time::SimDuration::from_secs_f64(at.abs());
            let t = if at == 0.0 {
                "T0".to_string()
            } else {
                format!("T0{sign}{d}")
            };
            format!("{t} ({} into the run)", r.at)
        } else {
            format!("{} into the run", r.at)
        };
        format!("{rel}, for {}", r.lasting)
    }

    /// The command that replays row `row`.
    pub fn command(&self, row: &Row) -> String {
        let r = self.0;
        let prefix = if r.replay.is_empty() {
            format!("blastradius replay {}", r.scenario)
        } else {
            r.replay.clone()
        };
        format!(
            "{prefix} {}",
            r.replay_flags(row.case, &row.design, row.seed)
        )
    }

    /// The plain-text report.
    pub fn text(&self) -> String {
        let r = self.0;
        let mut out = String::new();
        let kinds: Vec<&str> = r.kinds.iter().map(|k| k.name()).collect();
        let _ = writeln!(
            out,
            "blast radius of {}: {} case(s) (kinds {}{}), {} design(s) x {} seed(s), {} run(s)",
            r.scenario,
            r.cases.len(),
            kinds.join(", "),
            if r.pairs { "; singles and pairs" } else { "" },
            r.designs.len(),
            r.seeds.len(),
            r.runs.len()
        );
        let _ = writeln!(
            out,
            "each case fails at {}; the scenario's own faults {}",
            self.when(),
            if r.keep_schedule {
                "kept"
            } else {
                "dropped (--keep-schedule keeps them)"
            }
        );
        if !r.idle.is_empty() {
            let idle: Vec<String> = r.idle.iter().map(|u| u.to_string()).collect();
            let _ = writeln!(out, "units that hold nothing to fail: {}", idle.join(", "));
        }
        if r.pairs {
            let _ = writeln!(
                out,
                "pairs skipped because one unit contains the other: {}",
                r.skipped_pairs
            );
        }
        for design in &r.designs {
            self.design_table(&mut out, design);
        }
        self.worst(&mut out);
        out
    }

    fn figures(&self) -> Vec<String> {
        let r = self.0;
        let mut f: Vec<String> = Vec::new();
        if r.rank != CHECKS {
            f.push(r.rank.clone());
        }
        f.extend(r.harm_metrics.iter().filter(|m| **m != r.rank).cloned());
        f
    }

    fn design_table(&self, out: &mut String, design: &str) {
        let r = self.0;
        let rows: Vec<&Row> = r.ranking.iter().filter(|x| x.design == design).collect();
        let _ = writeln!(
            out,
            "\ndesign {design}: ranked by {} (change over the baseline, mean of {} seed(s))",
            r.rank,
            r.seeds.len()
        );
        if rows.is_empty() {
            let _ = writeln!(out, "  (no runs in this shard)");
            return;
        }
        let figures = self.figures();
        let label_w = rows.iter().map(|x| x.label.len()).max().unwrap_or(4).max(4);
        let struct_w = rows
            .iter()
            .map(|x| x.structure.summary().len())
            .max()
            .unwrap_or(9)
            .clamp(9, 48);
        let mut head = format!(
            "  {:>4}  {:label_w$}  {:struct_w$}",
            "#", "unit", "structure"
        );
        for f in &figures {
            let _ = write!(head, "  {:>w$}", f, w = f.len().max(8));
        }
        let _ = writeln!(out, "{head}  {:8}  newly failing", "flag");
        let base = &rows[0].figures;
        let mut line = format!("  {:>4}  {:label_w$}  {:struct_w$}", "", "(baseline)", "");
        for f in &figures {
            let v = base.get(f).map_or(0.0, |x| x.baseline);
            let _ = write!(line, "  {:>w$}", plain(v), w = f.len().max(8));
        }
        let _ = writeln!(out, "{line}");
        for row in &rows {
            let mut s = row.structure.summary();
            if s.len() > struct_w {
                s.truncate(struct_w - 1);
                s.push('…');
            }
            let mut line = format!("  {:>4}  {:label_w$}  {:struct_w$}", row.rank, row.label, s);
            for f in &figures {
                let d = row.figures.get(f).map_or(0.0, |x| x.delta());
                let _ = write!(line, "  {:>w$}", signed(d), w = f.len().max(8));
            }
            let flag = row.flag.map_or("", |f| f.name());
            let _ = writeln!(out, "{line}  {flag:8}  {}", row.newly_failing.join(", "));
        }
        let hidden = rows
            .iter()
            .filter(|x| x.flag == Some(crate::radius::Flag::Hidden))
            .count();
        let absorbed = rows
            .iter()
            .filter(|x| x.flag == Some(crate::radius::Flag::Absorbed))
            .count();
        let _ = writeln!(
            out,
            "  hidden: {hidden} (structure: survives; run: clients harmed); absorbed: {absorbed} (structure: nodes down; run: no harm)"
        );
        let _ = writeln!(out, "  replay #1: {}", self.command(rows[0]));
    }

    fn worst(&self, out: &mut String) {
        let r = self.0;
        if r.designs.len() < 2 {
            return;
        }
        let _ = writeln!(out, "\nworst case per design, by {}:", r.rank);
        let w = r.designs.iter().map(String::len).max().unwrap_or(6);
        for design in &r.designs {
            match r
                .ranking
                .iter()
                .find(|x| &x.design == design && x.rank == 1)
            {
                Some(row) => {
                    let _ = writeln!(
                        out,
                        "  {design:w$}  {:>10}  {}{}",
                        signed(row.rank_value(&r.rank)),
                        row.label,
                        if row.harm { "" } else { " (no harm)" }
                    );
                }
                None => {
                    let _ = writeln!(out, "  {design:w$}  (no runs)");
                }
            }
        }
    }

    /// One row per case and design: rank, unit(s), structure, flag, then
    /// each figure's baseline, injected and change, the checks newly
    /// failing and the replay command.
    #[cfg(feature = "csv")]
    pub fn csv(&self) -> Result<String, csv::Error> {
        let figures = self.figures();
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut head: Vec<String> = [
            "design",
            "rank",
            "case",
            "prediction",
            "nodes_down",
            "groups_lost",
            "cut_off",
            "harm",
            "flag",
            "verdict",
        ]
        .map(String::from)
        .to_vec();
        for f in &figures {
            head.extend([
                format!("{f}_baseline"),
                format!("{f}_injected"),
                format!("{f}_delta"),
            ]);
        }
        head.extend(["newly_failing", "replay"].map(String::from));
        w.write_record(&head)?;
        for row in &self.0.ranking {
            let s = &row.structure;
            let mut rec = vec![
                row.design.clone(),
                row.rank.to_string(),
                row.label.clone(),
                s.prediction.name().to_string(),
                s.nodes_down.to_string(),
                s.lost.join(" "),
                s.cut_off.join(" "),
                row.harm.to_string(),
                row.flag.map_or("", |f| f.name()).to_string(),
                row.verdict.to_string(),
            ];
            for f in &figures {
                let x = row
                    .figures
                    .get(f)
                    .copied()
                    .unwrap_or(crate::radius::Figure {
                        baseline: 0.0,
                        injected: 0.0,
                    });
                rec.extend([x.baseline, x.injected, x.delta()].map(|v| v.to_string()));
            }
            rec.push(row.newly_failing.join(" "));
            rec.push(self.command(row));
            w.write_record(&rec)?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// `954`, `12.3`, `0.25`.
pub fn plain(x: f64) -> String {
    let s = signed(x);
    s.trim_start_matches('+').to_string()
}
