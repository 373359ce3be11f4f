//! A comparison's or sweep's page: per metric, median and range per
//! design (and grid point), and the metastability map.

use super::*;

/// The HTML report of a comparison or sweep.
pub fn comparison(c: &Comparison) -> String {
    let mut b = String::new();
    heading(&mut b, c);
    let rows: Vec<(usize, String)> = (0..c.points().len())
        .map(|p| (p, c.point_label(p)))
        .collect();
    b.push_str("<h2>Verdicts</h2>");
    grid_table(&mut b, c, &rows, |p, d| {
        let [valid, invalid, unknown] = c.verdict_counts(p, d);
        format!("{valid} valid · {invalid} invalid · {unknown} unknown")
    });
    metastability_map(&mut b, c);
    b.push_str("<h2>Metrics</h2>\n<p class=\"note\">Each plot: median (dot) and range over seeds (bar) per design");
    b.push_str(if c.axes.is_empty() {
        ".</p>\n"
    } else {
        ", at each grid point.</p>\n"
    });
    for name in c.metric_names() {
        metric_section(&mut b, c, &rows, &name);
    }
    page(&format!("{} — blastradius", c.scenario), &b)
}

/// The page's title and what was run.
fn heading(b: &mut String, c: &Comparison) {
    let sweep = !c.axes.is_empty();
    let _ = writeln!(
        b,
        "<h1>{} — {}</h1>\n<p class=\"meta\">{}{} design(s) × {} seed(s), {} run(s){}</p>",
        esc(&c.scenario),
        if sweep { "sweep" } else { "compare" },
        if sweep {
            format!("{} grid point(s) × ", c.points().len())
        } else {
            String::new()
        },
        c.designs.len(),
        c.seeds.len(),
        c.runs.len(),
        if c.missing() > 0 {
            format!(" · <b>{} run(s) missing</b>", c.missing())
        } else {
            String::new()
        }
    );
}

/// A metric's finite values at grid point `p` for design `d`, sorted.
fn values(c: &Comparison, p: usize, d: &str, name: &str) -> Vec<f64> {
    let mut v = c.metric_values(p, d, name);
    v.retain(|x| x.is_finite());
    v
}

/// One metric: its plot, a legend for a sweep, and the same as a table.
fn metric_section(b: &mut String, c: &Comparison, rows: &[(usize, String)], name: &str) {
    let published = c.published.get(name).copied();
    let _ = write!(
        b,
        "<h3>{}{}</h3>",
        esc(name),
        published
            .map(|p| format!(" <span class=\"note\">(published {})</span>", num(p)))
            .unwrap_or_default()
    );
    MetricPlot::new(c, rows, name, published).draw(b);
    if !c.axes.is_empty() {
        sweep_legend(b, c);
    }
    grid_table(b, c, rows, |p, d| {
        let v = values(c, p, d, name);
        match (v.first(), v.last()) {
            (Some(a), Some(z)) => {
                format!("{} [{}–{}]", num(v[(v.len() - 1) / 2]), num(*a), num(*z))
            }
            _ => "–".into(),
        }
    });
}

/// A metric's plot: x = designs (a comparison) or grid points (a sweep,
/// one colour per design, medians joined across points).
struct MetricPlot<'a> {
    c: &'a Comparison,
    rows: &'a [(usize, String)],
    name: &'a str,
    published: Option<f64>,
    sweep: bool,
    sy: Scale,
    width: f64,
    slot_w: f64,
}

impl<'a> MetricPlot<'a> {
    const H: f64 = 190.0;
    const LEFT: f64 = 110.0;
    const BOTTOM: f64 = 64.0;
    const TOP: f64 = 12.0;

    fn new(
        c: &'a Comparison,
        rows: &'a [(usize, String)],
        name: &'a str,
        published: Option<f64>,
    ) -> Self {
        let all: Vec<f64> = rows
            .iter()
            .flat_map(|(p, _)| c.designs.iter().flat_map(|d| values(c, *p, d, name)))
            .chain(published)
            .collect();
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min).min(0.0);
        let mut hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !hi.is_finite() || hi <= lo {
            hi = lo + 1.0;
        }
        let sweep = !c.axes.is_empty();
        let slots = if sweep { rows.len() } else { c.designs.len() };
        let width = (Self::LEFT + slots as f64 * 70.0 + 30.0).clamp(360.0, WIDTH);
        MetricPlot {
            c,
            rows,
            name,
            published,
            sweep,
            sy: Scale {
                from: lo,
                to: hi,
                px0: Self::H - Self::BOTTOM,
                px1: Self::TOP,
            },
            width,
            slot_w: (width - Self::LEFT - 20.0) / slots.max(1) as f64,
        }
    }

    /// Where design `design`'s mark sits in `slot` (a sweep spreads the
    /// designs of one grid point a little apart).
    fn x_of(&self, slot: usize, design: usize) -> f64 {
        let spread = if self.sweep {
            (design as f64 - (self.c.designs.len() as f64 - 1.0) / 2.0) * 6.0
        } else {
            0.0
        };
        Self::LEFT + (slot as f64 + 0.5) * self.slot_w + spread
    }

    fn draw(&self, b: &mut String) {
        let (width, h, left) = (self.width, Self::H, Self::LEFT);
        let _ = write!(
            b,
            r#"<svg class="plot metric" data-metric="{}" viewBox="0 0 {width:.0} {h}" width="{width:.0}" height="{h}">"#,
            esc(self.name)
        );
        for t in ticks(self.sy.from, self.sy.to, 4) {
            let y = self.sy.at(t);
            let _ = write!(
                b,
                r#"<line class="grid" x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                width - 10.0,
                left - 4.0,
                y + 4.0,
                num(t)
            );
        }
        if let Some(p) = self.published {
            let y = self.sy.at(p);
            let _ = write!(
                b,
                r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#c62828" stroke-dasharray="4 3"><title>published {}</title></line>"##,
                width - 10.0,
                num(p)
            );
        }
        for (di, d) in self.c.designs.iter().enumerate() {
            self.design_marks(b, di, d);
        }
        self.slot_labels(b);
        b.push_str("</svg>\n");
    }

    /// One design's median and range per slot (joined across grid points
    /// in a sweep).
    fn design_marks(&self, b: &mut String, di: usize, d: &str) {
        let colour = PALETTE[di % PALETTE.len()];
        let mut medians = Vec::new();
        for (slot, (p, label)) in self.rows.iter().enumerate() {
            let slot = if self.sweep { slot } else { di };
            let x = self.x_of(slot, di);
            let v = values(self.c, *p, d, self.name);
            let (Some(a), Some(z)) = (v.first(), v.last()) else {
                continue;
            };
            let med = v[(v.len() - 1) / 2];
            medians.push(format!("{x:.1},{:.1}", self.sy.at(med)));
            let _ = write!(
                b,
                r#"<g class="cell" data-design="{}" data-point="{p}"><line class="whisker" stroke="{colour}" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/><circle class="median" fill="{colour}" cx="{x:.1}" cy="{:.1}" r="4"><title>{} {}: median {} [{}–{}]</title></circle></g>"#,
                esc(d),
                self.sy.at(*a),
                self.sy.at(*z),
                self.sy.at(med),
                esc(label),
                esc(d),
                num(med),
                num(*a),
                num(*z)
            );
        }
        if self.sweep && medians.len() > 1 {
            let _ = write!(
                b,
                r#"<polyline fill="none" stroke="{colour}" stroke-opacity=".6" points="{}"/>"#,
                medians.join(" ")
            );
        }
    }

    /// The x axis' labels: designs, or a sweep's grid points.
    fn slot_labels(&self, b: &mut String) {
        let c = self.c;
        let labels: Vec<String> = if self.sweep {
            (0..self.rows.len())
                .map(|p| {
                    c.points()[p]
                        .iter()
                        .zip(&c.axes)
                        .map(|(&v, a)| a.values[v].clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect()
        } else {
            c.designs.clone()
        };
        for (slot, label) in labels.iter().enumerate() {
            let x = self.x_of(slot, (c.designs.len().saturating_sub(1)) / 2);
            let y = Self::H - Self::BOTTOM + 14.0;
            let short: String = label.chars().take(22).collect();
            let _ = write!(
                b,
                r#"<text class="tick" x="{x:.1}" y="{y:.1}" text-anchor="end" transform="rotate(-20 {x:.1} {y:.1})">{}</text>"#,
                esc(&short)
            );
        }
    }
}

/// A sweep's colour per design and what the x axis is.
fn sweep_legend(b: &mut String, c: &Comparison) {
    b.push_str("<p class=\"legend\">");
    for (di, d) in c.designs.iter().enumerate() {
        let _ = write!(
            b,
            r#"<span><i style="background:{}"></i>{}</span>"#,
            PALETTE[di % PALETTE.len()],
            esc(d)
        );
    }
    let _ = writeln!(
        b,
        "<span class=\"note\">x: {}</span></p>",
        esc(&c
            .axes
            .iter()
            .map(|a| a.path.as_str())
            .collect::<Vec<_>>()
            .join(", "))
    );
}

/// A table of grid points (rows) × designs (columns), each cell given by
/// `cell(point, design)` as text.
/// For a sweep of one or two axes whose runs report
/// `metastability_class`: per design, a table over the axes with each cell
/// coloured by the class most seeds fell in.
pub(super) fn metastability_map(b: &mut String, c: &Comparison) {
    use crate::report::replay::CLASS_NAMES;
    if !(1..=2).contains(&c.axes.len())
        || !c.metric_names().iter().any(|m| m == "metastability_class")
    {
        return;
    }
    let points = c.points();
    let rows = &c.axes[0];
    let cols = c.axes.get(1);
    b.push_str(
        "<h2>Metastability map</h2>\n<p class=\"note\">Each cell: the class most seeds fell in at that point (stable: never failing from the trigger on; recovered: failing no longer than the bound after the trigger; metastable: longer), and how many seeds did.</p>\n",
    );
    for d in &c.designs {
        let _ = write!(
            b,
            "<h3>{}</h3><table class=\"map\" data-design=\"{}\"><tr><th>{}</th>",
            esc(d),
            esc(d),
            esc(&match cols {
                Some(col) => format!("{} \\ {}", rows.path, col.path),
                None => rows.path.clone(),
            })
        );
        match cols {
            Some(col) => {
                for v in &col.values {
                    let _ = write!(b, "<th>{}</th>", esc(v));
                }
            }
            None => b.push_str("<th></th>"),
        }
        b.push_str("</tr>");
        for (i, rv) in rows.values.iter().enumerate() {
            let _ = write!(b, "<tr><th>{}</th>", esc(rv));
            for j in 0..cols.map_or(1, |col| col.values.len()) {
                let p = points
                    .iter()
                    .position(|pt| pt[0] == i && (cols.is_none() || pt[1] == j));
                match p.and_then(|p| c.class_at(p, d)) {
                    Some((k, n, of)) => {
                        let colour = ["#c8e6c9", "#ffe0b2", "#ffcdd2"][k];
                        let _ = write!(
                            b,
                            "<td class=\"{}\" style=\"background:{colour}\">{} {n}/{of}</td>",
                            CLASS_NAMES[k], CLASS_NAMES[k]
                        );
                    }
                    None => b.push_str("<td>-</td>"),
                }
            }
            b.push_str("</tr>");
        }
        b.push_str("</table>\n");
    }
}

pub(super) fn grid_table(
    b: &mut String,
    c: &Comparison,
    rows: &[(usize, String)],
    cell: impl Fn(usize, &str) -> String,
) {
    b.push_str("<table><tr><th></th>");
    for d in &c.designs {
        let _ = write!(b, "<th>{}</th>", esc(d));
    }
    b.push_str("</tr>");
    for (p, label) in rows {
        let _ = write!(
            b,
            "<tr><td>{}</td>",
            if label.is_empty() { "all seeds" } else { label }
        );
        for d in &c.designs {
            let _ = write!(b, "<td class=\"n\">{}</td>", esc(&cell(*p, d)));
        }
        b.push_str("</tr>");
    }
    b.push_str("</table>\n");
}
