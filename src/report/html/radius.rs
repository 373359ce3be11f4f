//! The blast-radius page: the worst case per design side by side; per
//! design, ranked bars per harm figure (a bar per case, its length the
//! change over the baseline, hidden cases in red and absorbed ones in
//! green), the pairs as a unit × unit heat map, and the table with every
//! row's structure, flag and replay command.

use super::page;
use crate::radius::{Flag, Radius, Row};
use crate::report::radius::{Report, plain, signed};
use crate::report::svg::esc;
use std::fmt::Write;

/// Bars drawn per chart (the table lists every row).
const BARS_MAX: usize = 30;

/// The page of a ranked radius (call [`Radius::rank_rows`] first).
pub fn radius(r: &Radius) -> String {
    let report = Report(r);
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>{} — blast radius</h1>\n<p class=\"meta\">{} case(s) × {} design(s) × {} seed(s), {} run(s); each case fails at {}; the scenario's own faults {}{}</p>",
        esc(&r.scenario),
        r.cases.len(),
        r.designs.len(),
        r.seeds.len(),
        r.runs.len(),
        esc(&report.when()),
        if r.keep_schedule { "kept" } else { "dropped" },
        if r.missing() > 0 {
            format!(" · <b>{} run(s) missing</b>", r.missing())
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        b,
        "<p class=\"note\">Structure predicts from placements alone: <i>loses</i> when a replica group has every member down, <i>redundant</i> when nodes go down or sites split but every group keeps a member. \
<b style=\"color:#c62828\">hidden</b>: structure says the design survives, the run harms clients. <b style=\"color:#2e7d32\">absorbed</b>: nodes go down, clients see nothing.</p>"
    );
    worst_table(&mut b, r);
    for design in &r.designs {
        let rows: Vec<&Row> = r.ranking.iter().filter(|x| &x.design == design).collect();
        let _ = writeln!(
            b,
            "<section class=\"design\" id=\"design-{0}\"><h2>{0}</h2>",
            esc(design)
        );
        if rows.is_empty() {
            let _ = writeln!(b, "<p>No runs in this shard.</p></section>");
            continue;
        }
        let mut figures: Vec<String> = vec![r.rank.clone()];
        figures.extend(r.harm_metrics.iter().filter(|m| **m != r.rank).cloned());
        for f in &figures {
            bars(&mut b, &rows, f);
        }
        if r.pairs {
            heat_map(&mut b, r, &rows);
        }
        table(&mut b, &report, &rows, &figures);
        let _ = writeln!(b, "</section>");
    }
    page(&format!("{} — blast radius", r.scenario), &b)
}

fn worst_table(b: &mut String, r: &Radius) {
    let _ = writeln!(
        b,
        "<h2>Worst case per design</h2><table class=\"worst\"><tr><th>design</th><th>worst case</th><th>{}</th><th>structure</th><th>flag</th></tr>",
        esc(&r.rank)
    );
    for design in &r.designs {
        match r
            .ranking
            .iter()
            .find(|x| &x.design == design && x.rank == 1)
        {
            Some(row) => {
                let _ = writeln!(
                    b,
                    "<tr><td>{}</td><td><a href=\"#{}\">{}</a></td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                    esc(design),
                    anchor(row),
                    esc(&row.label),
                    signed(row.rank_value(&r.rank)),
                    esc(&row.structure.summary()),
                    flag_html(row.flag)
                );
            }
            None => {
                let _ = writeln!(
                    b,
                    "<tr><td>{}</td><td colspan=\"4\">no runs</td></tr>",
                    esc(design)
                );
            }
        }
    }
    let _ = writeln!(b, "</table>");
}

fn anchor(row: &Row) -> String {
    format!("row-{}-{}", esc(&row.design), row.case)
}

fn flag_html(flag: Option<Flag>) -> &'static str {
    match flag {
        Some(Flag::Hidden) => "<b class=\"flag hidden\" style=\"color:#c62828\">hidden</b>",
        Some(Flag::Absorbed) => "<b class=\"flag absorbed\" style=\"color:#2e7d32\">absorbed</b>",
        None => "",
    }
}

/// Ranked horizontal bars of `figure`'s change, largest first; cases
/// that did not change it are counted, not drawn.
fn bars(b: &mut String, rows: &[&Row], figure: &str) {
    let mut order: Vec<&Row> = rows
        .iter()
        .copied()
        .filter(|x| x.rank_value(figure) != 0.0)
        .collect();
    let unchanged = rows.len() - order.len();
    order.sort_by(|x, y| {
        y.rank_value(figure)
            .total_cmp(&x.rank_value(figure))
            .then(x.rank.cmp(&y.rank))
    });
    order.truncate(BARS_MAX);
    let max = order
        .iter()
        .map(|x| x.rank_value(figure).abs())
        .fold(0.0f64, f64::max);
    let (label_w, bar_w, h) = (300.0, 420.0, 16.0);
    let height = h * order.len() as f64 + 24.0;
    let _ = writeln!(
        b,
        "<h3>{} — change over the baseline</h3><svg class=\"bars\" data-figure=\"{}\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"cases ranked by {}\">",
        esc(figure),
        esc(figure),
        label_w + bar_w + 90.0,
        esc(figure)
    );
    for (k, row) in order.iter().enumerate() {
        let y = 4.0 + k as f64 * h;
        let v = row.rank_value(figure);
        let len = if max > 0.0 {
            v.abs() / max * bar_w
        } else {
            0.0
        };
        let colour = match row.flag {
            Some(Flag::Hidden) => "#c62828",
            Some(Flag::Absorbed) => "#2e7d32",
            None => "#1f5fbf",
        };
        let x = label_w;
        let _ = writeln!(
            b,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect class=\"bar\" data-case=\"{}\" data-value=\"{v}\" x=\"{x}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"{colour}\"><title>{}: {} {}</title></rect><text x=\"{:.1}\" y=\"{}\">{}</text>",
            label_w - 6.0,
            y + h * 0.75,
            esc(&short(&row.label, 44)),
            esc(&row.label),
            len.max(if v != 0.0 { 1.0 } else { 0.0 }),
            h - 4.0,
            esc(&row.label),
            esc(figure),
            signed(v),
            x + len + 4.0,
            y + h * 0.75,
            signed(v)
        );
    }
    let _ = writeln!(b, "</svg>");
    if unchanged > 0 {
        let _ = writeln!(
            b,
            "<p class=\"note unchanged\" data-count=\"{unchanged}\">{unchanged} case(s) did not change {}: not drawn (the table lists them).</p>",
            esc(figure)
        );
    }
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

/// Units × units: each cell the pair's change of the rank figure (the
/// diagonal: the unit alone), darker when worse; blank where the pair was
/// skipped.
fn heat_map(b: &mut String, r: &Radius, rows: &[&Row]) {
    let mut units: Vec<String> = Vec::new();
    for row in rows.iter().filter(|x| r.cases[x.case].units.len() == 1) {
        units.push(r.cases[row.case].units[0].to_string());
    }
    units.sort();
    let index = |u: &str| units.iter().position(|x| x == u);
    let value = |row: &Row| row.rank_value(&r.rank);
    let max = rows.iter().map(|x| value(x).abs()).fold(0.0f64, f64::max);
    let (cell, label) = (14.0, 220.0);
    let size = label + cell * units.len() as f64 + 10.0;
    let _ = writeln!(
        b,
        "<h3>Pairs — {} change, unit × unit</h3><svg class=\"heatmap\" width=\"{size}\" height=\"{size}\" role=\"img\" aria-label=\"pairs heat map\">",
        esc(&r.rank)
    );
    for (k, u) in units.iter().enumerate() {
        let p = label + k as f64 * cell;
        let _ = writeln!(
            b,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><text transform=\"translate({},{}) rotate(-90)\">{}</text>",
            label - 4.0,
            p + cell * 0.8,
            esc(&short(u, 34)),
            p + cell * 0.8,
            label - 4.0,
            esc(&short(u, 34))
        );
    }
    for row in rows {
        let us = &r.cases[row.case].units;
        let (Some(i), Some(j)) = (
            index(&us[0].to_string()),
            index(&us[us.len() - 1].to_string()),
        ) else {
            continue;
        };
        let v = value(row);
        let t = if max > 0.0 {
            (v.abs() / max).min(1.0)
        } else {
            0.0
        };
        let fill = format!(
            "rgb({},{},{})",
            255,
            (255.0 - 200.0 * t) as u8,
            (255.0 - 220.0 * t) as u8
        );
        for (x, y) in [(i, j), (j, i)] {
            let _ = writeln!(
                b,
                "<rect class=\"cell\" data-value=\"{v}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"#e6e9ed\"><title>{}: {}</title></rect>",
                label + x as f64 * cell,
                label + y as f64 * cell,
                cell,
                cell,
                esc(&row.label),
                signed(v)
            );
        }
    }
    let _ = writeln!(b, "</svg>");
}

fn table(b: &mut String, report: &Report<'_>, rows: &[&Row], figures: &[String]) {
    let _ = write!(
        b,
        "<table class=\"ranking\"><tr><th>#</th><th>case</th><th>structure</th>"
    );
    for f in figures {
        let _ = write!(b, "<th>{}</th>", esc(f));
    }
    let _ = writeln!(b, "<th>newly failing</th><th>flag</th><th>replay</th></tr>");
    if let Some(first) = rows.first() {
        let _ = write!(
            b,
            "<tr class=\"baseline\"><td></td><td><i>baseline</i></td><td></td>"
        );
        for f in figures {
            let v = first.figures.get(f).map_or(0.0, |x| x.baseline);
            let _ = write!(b, "<td class=\"n\">{}</td>", plain(v));
        }
        let _ = writeln!(b, "<td></td><td></td><td></td></tr>");
    }
    for row in rows {
        let _ = write!(
            b,
            "<tr id=\"{}\" class=\"{}\"><td class=\"n\">{}</td><td>{}</td><td>{}</td>",
            anchor(row),
            row.flag.map_or("", |f| f.name()),
            row.rank,
            esc(&row.label),
            esc(&row.structure.summary())
        );
        for f in figures {
            let d = row.figures.get(f).map_or(0.0, |x| x.delta());
            let _ = write!(b, "<td class=\"n\">{}</td>", signed(d));
        }
        let _ = writeln!(
            b,
            "<td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&row.newly_failing.join(", ")),
            flag_html(row.flag),
            esc(&report.command(row))
        );
    }
    let _ = writeln!(b, "</table>");
}
