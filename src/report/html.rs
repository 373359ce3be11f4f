//! Self-contained HTML reports (`--format html`): one file, inline CSS and
//! SVG, no script and no network access (a Content-Security-Policy of
//! `default-src 'none'` says so to the browser), readable printed.
//!
//! A replay draws the incident as one picture: a lane per node and shard,
//! grouped by site, coloured by role (primary, replica, read-only, down)
//! or impairment; fault bands across the lanes while each fault is in
//! force; role changes and the system's timeline as marks; client
//! operations as bars per client (sampled when there are many, saying so),
//! with the operations a check names outlined and linked to its row in the
//! checks table; split-brain intervals as hatched bands; then the series
//! as line plots with the fault bands behind them, the checks, the fault
//! effects, simulated beside published figures, and the replay command.
//! A comparison or sweep draws, per metric, median and range per design
//! (and per grid point). A history check draws the failing window per
//! process, porcupine-style, with the linearized prefix and the operation
//! that could not be linearized marked.

use super::lanes::State;
use super::replay::ReplayReport;
use super::svg::{Band, Scale, esc, line_plot, num, ticks};
use crate::check::{Tone, Verdict};
use crate::history::{Completion, History};
use crate::run::Comparison;
use crate::run::Outcome;
use crate::run::effects::Ended;
use indexmap::IndexMap;
use std::fmt::Write as _;

/// Lanes drawn at most; the rest are counted.
pub const LANES_MAX: usize = 160;
/// Client rows drawn at most.
pub const CLIENTS_MAX: usize = 24;
/// Operation bars drawn at most.
pub const OPS_MAX: usize = 6_000;
/// Colours of designs in plots.
const PALETTE: [&str; 8] = [
    "#1f5fbf", "#d8452c", "#2f8f46", "#8a3fb5", "#e0a526", "#0f8b8d", "#7a5230", "#c2185b",
];
/// Width of the pictures, px.
const WIDTH: f64 = 1200.0;
/// Left margin for lane names, px.
const LEFT: f64 = 190.0;

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d232b;max-width:1240px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d5dae0;padding-bottom:4px}
.meta{color:#505a66}.verdict{display:inline-block;padding:1px 8px;border-radius:4px;font-weight:600;color:#fff}
.verdict.valid{background:#2f8f46}.verdict.invalid{background:#c62828}.verdict.unknown{background:#8a6d00}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #d5dae0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.invalid td{background:#fdecea}tr.unknown td{background:#fff6d6}tr:target td{outline:2px solid #c62828}
code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}pre{background:#f6f8fa;padding:8px;overflow-x:auto}
svg{display:block;margin:4px 0}svg text{font:11px system-ui,sans-serif;fill:#1d232b}
.tick{fill:#5d6875}.axis{fill:#5d6875;font-style:italic}.grid{stroke:#e6e9ed}
.lane-bg{fill:#f7f8fa}.site{font-weight:600;fill:#33404d}
.span.primary{fill:#1f5fbf}.span.replica{fill:#9db7dc}.span.read_only{fill:#e0a526}.span.down{fill:#4a4f55}
.span.impaired{fill:#d8452c}.span.fault{fill:#e39a12}
.band.fault{fill:#f2b233;fill-opacity:.22;stroke:#d99a1c;stroke-opacity:.6}
.band.split{fill:#c62828;fill-opacity:.85}
.mark{stroke:#111;stroke-width:1}.mark.event{stroke:#6a3fb5;stroke-width:1.5}
.op.ok{fill:#7bb77f}.op.fail{fill:#d77b74}.op.info{fill:#e3c25a}
.op.violation{stroke:#b00020;stroke-width:2}.op.other{fill:#c9d1da}.op.linearized{fill:#7bb77f}.op.blocked{fill:#d32f2f}
.line{fill:none;stroke:#1f5fbf;stroke-width:1.5}.whisker{stroke-width:2}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
.note{color:#505a66;font-size:13px}
@media print{body{margin:0}h2{break-after:avoid}svg,table{break-inside:avoid}}
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n",
        esc(title)
    )
}

fn verdict_badge(v: Verdict) -> String {
    let w = match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Unknown => "unknown",
    };
    format!(r#"<span class="verdict {w}">{w}</span>"#)
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Unknown => "unknown",
    }
}

/// A lane: one node's role in one shard, or one impaired unit.
struct Lane {
    site: String,
    name: String,
    shard: Option<String>,
    /// (from, to, class, state's name) in seconds.
    spans: Vec<(f64, f64, &'static str, &'static str)>,
}

/// The CSS class of a tone: roles' colours, shared by every system.
fn tone_class(t: Tone) -> &'static str {
    match t {
        Tone::Leading => "primary",
        Tone::Serving => "replica",
        Tone::Fenced => "read_only",
        Tone::Down => "down",
        Tone::Impaired => "impaired",
    }
}

fn tone_colour(t: Tone) -> &'static str {
    match t {
        Tone::Leading => "#1f5fbf",
        Tone::Serving => "#9db7dc",
        Tone::Fenced => "#e0a526",
        Tone::Down => "#4a4f55",
        Tone::Impaired => "#d8452c",
    }
}

fn lanes(outcome: &Outcome, end: f64) -> Vec<Lane> {
    let ns = |t: u64| t as f64 / 1e9;
    let mut out: Vec<Lane> =
        super::lanes::lanes(&outcome.facts, outcome.lane_states, (end * 1e9) as u64)
            .into_iter()
            .map(|l| Lane {
                site: super::lanes::site_of(outcome, &l)
                    .unwrap_or("(units)")
                    .to_string(),
                spans: l
                    .spans
                    .iter()
                    .filter(|s| s.to > s.from)
                    .map(|s| {
                        let class = tone_class(s.state.tone());
                        let name = match s.state {
                            State::Declared(d) => d.name,
                            _ => class,
                        };
                        (ns(s.from), ns(s.to), class, name)
                    })
                    .collect(),
                name: l.name,
                shard: l.shard,
            })
            .collect();
    // Group by site, in the order sites first appear among the nodes.
    let order: Vec<&String> = {
        let mut v: Vec<&String> = Vec::new();
        for s in outcome.places.values() {
            if !v.contains(&s) {
                v.push(s);
            }
        }
        v
    };
    out.sort_by_key(|l| {
        order
            .iter()
            .position(|s| **s == l.site)
            .unwrap_or(usize::MAX)
    });
    out
}

/// The time window the main picture shows: around the faults (and the
/// split-brain intervals), else the whole run.
fn focus(outcome: &Outcome, end: f64) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for e in &outcome.fault_effects {
        if e.ended == Ended::NotReached {
            continue;
        }
        lo = lo.min(e.from.as_secs_f64());
        hi = hi.max(e.until.as_secs_f64());
    }
    if !lo.is_finite() {
        return (0.0, end);
    }
    let span = (hi - lo).max(30.0);
    let (a, b) = ((lo - span * 0.5).max(0.0), (hi + span * 1.5).min(end));
    if (b - a) > 0.6 * end {
        (0.0, end)
    } else {
        (a, b)
    }
}

/// Operation indices the checks name (`lost`, linearizability's blocked
/// operation and window), with the check that names each.
fn named_ops(outcome: &Outcome) -> IndexMap<usize, String> {
    let mut out = IndexMap::new();
    for f in &outcome.checks.findings {
        if f.verdict == Verdict::Valid {
            continue;
        }
        let w = &f.witness;
        let mut add = |i: &serde_json::Value| {
            if let Some(i) = i.as_u64() {
                out.entry(i as usize).or_insert_with(|| f.name.clone());
            }
        };
        if let Some(a) = w.get("lost").and_then(|v| v.as_array()) {
            a.iter().for_each(&mut add);
        }
        if let Some(b) = w.get("blocked").and_then(|b| b.get("index")) {
            add(b);
        }
        if let Some(a) = w.get("window").and_then(|v| v.as_array()) {
            a.iter().filter_map(|o| o.get("index")).for_each(&mut add);
        }
    }
    out
}

/// Split-brain intervals: (shard, from, to) in seconds.
fn splits(outcome: &Outcome) -> Vec<(String, f64, f64)> {
    outcome
        .checks
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Valid)
        .filter_map(|f| f.witness.as_array())
        .flatten()
        .filter_map(|o| {
            Some((
                o.get("shard")?.as_str()?.to_string(),
                o.get("start")?.as_u64()? as f64 / 1e9,
                o.get("end")?.as_u64()? as f64 / 1e9,
            ))
        })
        .collect()
}

/// A fault's kind and first quoted argument: `degrade_link par_a-par_b`.
fn short_fault(description: &str) -> String {
    let kind = description.split(' ').next().unwrap_or(description);
    match description.split('"').nth(1) {
        Some(arg) => format!("{kind} {arg}"),
        None => kind.to_string(),
    }
}

/// `T+3s`, `T-2min`, `T0`.
fn relative(t: f64, unit: &str) -> String {
    if t.abs() < 1e-9 {
        "T0".to_string()
    } else if t > 0.0 {
        format!("T+{}{unit}", num(t))
    } else {
        format!("T−{}{unit}", num(-t))
    }
}

fn check_anchor(name: &str) -> String {
    format!(
        "check-{}",
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    )
}

fn timeline_svg(outcome: &Outcome, t0: f64, out: &mut String) {
    let end = outcome.sim_time.as_secs_f64().max(1e-9);
    let (from, to) = focus(outcome, end);
    let sx = Scale {
        from,
        to,
        px0: LEFT,
        px1: WIDTH - 10.0,
    };
    let all = lanes(outcome, end);
    let shown = all.len().min(LANES_MAX);
    // Clients: those a check names first, then the rest, in process order.
    let h = &outcome.history;
    let named = named_ops(outcome);
    let mut clients: Vec<u64> = Vec::new();
    for &i in named.keys() {
        if let Some(op) = h.ops().get(i)
            && !clients.contains(&op.process)
            && clients.len() < CLIENTS_MAX
        {
            clients.push(op.process);
        }
    }
    let mut processes: Vec<u64> = h.ops().iter().map(|o| o.process).collect();
    processes.sort_unstable();
    processes.dedup();
    for p in &processes {
        if clients.len() >= CLIENTS_MAX {
            break;
        }
        if !clients.contains(p) {
            clients.push(*p);
        }
    }
    clients.sort_unstable();
    let lane_h = 14.0;
    let top = 34.0;
    let mut sites: Vec<&str> = Vec::new();
    for l in all.iter().take(shown) {
        if !sites.contains(&l.site.as_str()) && l.name != l.site {
            sites.push(&l.site);
        }
    }
    let faults: Vec<&crate::run::effects::FaultEffect> = outcome
        .fault_effects
        .iter()
        .filter(|e| e.ended != Ended::NotReached)
        .collect();
    let faults_h = if faults.is_empty() {
        0.0
    } else {
        16.0 + faults.len() as f64 * lane_h
    };
    let lanes_h = faults_h + shown as f64 * lane_h + sites.len() as f64 * 14.0;
    let client_top = top + lanes_h + if clients.is_empty() { 0.0 } else { 24.0 };
    let height = client_top + clients.len() as f64 * lane_h + 30.0;
    let _ = write!(
        out,
        r##"<svg id="timeline" class="timeline" viewBox="0 0 {WIDTH} {height:.0}" width="{WIDTH}" height="{height:.0}" data-from="{from:.3}" data-to="{to:.3}"><defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#c62828" fill-opacity=".12"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c62828" stroke-width="2"/></pattern></defs>"##
    );
    // Time axis, relative to T0, in minutes past 20 minutes.
    let unit = if to - from > 1200.0 { 60.0 } else { 1.0 };
    for t in ticks((from - t0) / unit, (to - t0) / unit, 10) {
        let x = sx.at(t * unit + t0);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="12" text-anchor="middle">{}</text>"#,
            top - 4.0,
            height - 24.0,
            relative(t, if unit > 1.0 { "min" } else { "s" })
        );
    }
    // One row per fault, while in force.
    let mut y = top;
    if !faults.is_empty() {
        y += 14.0;
        let _ = write!(
            out,
            r#"<text class="site" x="4" y="{:.1}">faults</text>"#,
            y - 2.0
        );
        for e in &faults {
            let (a, b) = (e.from.as_secs_f64(), e.until.as_secs_f64());
            let label: String = format!("#{} {}", e.entry, short_fault(&e.fault))
                .chars()
                .take(30)
                .collect();
            let _ = write!(
                out,
                r##"<g class="fault-row" data-entry="{}"><text x="12" y="{:.1}">{}</text>"##,
                e.entry,
                y + lane_h - 4.0,
                esc(&label)
            );
            if sx.meets(a, b) {
                let (xa, xb) = (sx.at(a), sx.at(b));
                let _ = write!(
                    out,
                    r##"<a href="#fault-{}"><rect class="span fault" x="{xa:.1}" y="{y:.1}" width="{:.1}" height="{:.1}"><title>{}</title></rect></a>"##,
                    e.entry,
                    (xb - xa).max(2.0),
                    lane_h - 2.0,
                    esc(&e.line(t0))
                );
            }
            out.push_str("</g>");
            y += lane_h;
        }
    }
    // System timeline marks (elections, promotions, alerts).
    for e in outcome.timeline.iter().filter(|e| !e.routine) {
        let t = e.time.as_secs_f64();
        if t < from || t > to || e.what.starts_with("fault:") {
            continue;
        }
        let x = sx.at(t);
        let _ = write!(
            out,
            r#"<line class="mark event" x1="{x:.1}" x2="{x:.1}" y1="18" y2="30"><title>T{:+.3}s {}</title></line>"#,
            t - t0,
            esc(&e.what)
        );
    }
    // Lanes, grouped by site.
    let mut site = "";
    let mut lane_ys: Vec<(&str, f64)> = Vec::new();
    let split = splits(outcome);
    for l in all.iter().take(shown) {
        if l.site != site {
            site = &l.site;
            // A unit named as its site (a PoP) needs no header of its own.
            if l.name != l.site {
                y += 14.0;
                let _ = write!(
                    out,
                    r#"<text class="site" x="4" y="{:.1}">{}</text>"#,
                    y - 2.0,
                    esc(site)
                );
            }
        }
        let label = match &l.shard {
            Some(s) => format!("{} · {s}", l.name),
            None => l.name.clone(),
        };
        let _ = write!(
            out,
            r#"<g class="lane" data-node="{}" data-shard="{}" data-site="{}"><rect class="lane-bg" x="{LEFT}" y="{y:.1}" width="{:.1}" height="{:.1}"/><text x="12" y="{:.1}">{}</text>"#,
            esc(&l.name),
            esc(l.shard.as_deref().unwrap_or("")),
            esc(&l.site),
            WIDTH - 10.0 - LEFT,
            lane_h - 2.0,
            y + lane_h - 4.0,
            esc(&label)
        );
        for &(a, b, state, title) in &l.spans {
            if !sx.meets(a, b) {
                continue;
            }
            let (xa, xb) = (sx.at(a), sx.at(b));
            let _ = write!(
                out,
                r#"<rect class="span {state}" data-from="{a:.3}" data-to="{b:.3}" x="{xa:.1}" y="{y:.1}" width="{:.1}" height="{:.1}"><title>{} {title} T{:+.1}s to T{:+.1}s</title></rect>"#,
                (xb - xa).max(0.8),
                lane_h - 2.0,
                esc(&label),
                a - t0,
                b - t0
            );
            if a > from && a < to {
                let _ = write!(
                    out,
                    r#"<line class="mark role" x1="{xa:.1}" x2="{xa:.1}" y1="{y:.1}" y2="{:.1}"/>"#,
                    y + lane_h - 2.0
                );
            }
        }
        for (at, kind) in super::lanes::marks(&outcome.facts, &l.name) {
            let a = at as f64 / 1e9;
            if a > from && a < to {
                let xa = sx.at(a);
                let _ = write!(
                    out,
                    r#"<line class="mark event" data-kind="{}" x1="{xa:.1}" x2="{xa:.1}" y1="{y:.1}" y2="{:.1}"><title>{} {} T{:+.1}s</title></line>"#,
                    esc(kind),
                    y + lane_h - 2.0,
                    esc(&l.name),
                    esc(kind),
                    a - t0
                );
            }
        }
        if let Some(shard) = &l.shard {
            for (s, a, b) in split.iter().filter(|(s, ..)| s == shard) {
                if !sx.meets(*a, *b) {
                    continue;
                }
                let (xa, xb) = (sx.at(*a), sx.at(*b));
                let _ = write!(
                    out,
                    r##"<a href="#{}"><rect class="band split" data-shard="{}" x="{xa:.1}" y="{:.1}" width="{:.1}" height="4"><title>split brain in {}: T{:+.1}s to T{:+.1}s</title></rect></a>"##,
                    check_anchor("split-brain"),
                    esc(s),
                    y + lane_h - 6.0,
                    (xb - xa).max(1.0),
                    esc(s),
                    a - t0,
                    b - t0
                );
            }
        }
        out.push_str("</g>");
        lane_ys.push((l.name.as_str(), y));
        y += lane_h;
    }
    // Fault bands: over the lanes of the nodes a fault acts on, and over
    // the clients.
    let clients_h = clients.len() as f64 * lane_h;
    for e in &outcome.fault_effects {
        if e.ended == Ended::NotReached {
            continue;
        }
        let (a, b) = (e.from.as_secs_f64(), e.until.as_secs_f64());
        if !sx.meets(a, b) {
            continue;
        }
        let (xa, xb) = (sx.at(a), sx.at(b));
        let w = (xb - xa).max(2.0);
        let mut band = |y: f64, h: f64, hit: &str| {
            let _ = write!(
                out,
                r##"<a href="#fault-{}"><rect class="band fault" data-entry="{}" data-hit="{hit}" x="{xa:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}"><title>fault #{}: {}</title></rect></a>"##,
                e.entry,
                e.entry,
                e.entry,
                esc(&e.fault)
            );
        };
        let hit: Vec<f64> = lane_ys
            .iter()
            .filter(|(n, _)| e.nodes.iter().any(|m| m == n))
            .map(|&(_, y)| y)
            .collect();
        // A fault that acts on no node directly (a link with no node at
        // either end) has its row, and no band over lanes.
        for y in hit {
            band(y, lane_h, "lane");
        }
        if clients_h > 0.0 {
            band(client_top, clients_h, "clients");
        }
    }
    // Client operations.
    let mut drawn = 0usize;
    let mut in_window = 0usize;
    if !clients.is_empty() {
        let _ = write!(
            out,
            r#"<text class="site" x="4" y="{:.1}">clients</text>"#,
            client_top - 6.0
        );
        for (row, p) in clients.iter().enumerate() {
            let yy = client_top + row as f64 * lane_h;
            let _ = write!(
                out,
                r#"<g class="client" data-process="{p}"><text x="12" y="{:.1}">p{p}</text>"#,
                yy + lane_h - 4.0
            );
            for (i, op) in h.ops().iter().enumerate().filter(|(_, o)| o.process == *p) {
                let (Some(a), b) = (op.invoke_time, op.complete_time) else {
                    continue;
                };
                let (a, b) = (a as f64 / 1e9, b.map(|b| b as f64 / 1e9).unwrap_or(end));
                if !sx.meets(a, b) {
                    continue;
                }
                in_window += 1;
                let check = named.get(&i);
                if drawn >= OPS_MAX && check.is_none() {
                    continue;
                }
                drawn += 1;
                let class = match op.outcome {
                    Completion::Ok => "ok",
                    Completion::Fail => "fail",
                    Completion::Info => "info",
                };
                let (xa, xb) = (sx.at(a), sx.at(b));
                let bar = format!(
                    r#"<rect class="op {class}{}" id="op-{i}" x="{xa:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>op {i}: {}</title></rect>"#,
                    if check.is_some() { " violation" } else { "" },
                    yy + 2.0,
                    (xb - xa).max(0.6),
                    lane_h - 5.0,
                    esc(&crate::history::describe(h, op))
                );
                match check {
                    Some(c) => {
                        let _ = write!(out, r##"<a href="#{}">{bar}</a>"##, check_anchor(c));
                    }
                    None => out.push_str(&bar),
                }
            }
            out.push_str("</g>");
        }
    }
    out.push_str("</svg>\n");
    let _ = write!(
        out,
        r#"<p class="legend"><span><i class="sw" style="background:#1f5fbf"></i>primary</span><span><i style="background:#9db7dc"></i>replica</span><span><i style="background:#e0a526"></i>read-only</span><span><i style="background:#4a4f55"></i>down</span><span><i style="background:#d8452c"></i>impaired</span><span><i style="background:#f2b23366;border:1px solid #d99a1c"></i>fault in force (over the nodes it acts on, and the clients)</span><span><i style="background:#c62828;height:4px"></i>split brain (two writable primaries)</span><span><i style="background:#7bb77f"></i>op ok</span><span><i style="background:#d77b74"></i>op failed</span><span><i style="background:#e3c25a"></i>op indeterminate</span><span><i style="border:2px solid #b00020"></i>named by a check</span><span><i style="background:#6a3fb5"></i>system event</span></p>"#
    );
    // The system's own states, those this run's lanes show.
    let shown_states: Vec<_> = outcome
        .lane_states
        .iter()
        .filter(|d| {
            let drawn = |f: &crate::check::Fact| matches!(f, crate::check::Fact::State { state, .. } if state == d.name);
            outcome.facts.facts.iter().any(drawn)
        })
        .collect();
    if !shown_states.is_empty() {
        out.push_str(r#"<p class="legend">"#);
        for d in shown_states {
            let _ = write!(
                out,
                r#"<span><i style="background:{}"></i>{}: {}</span>"#,
                tone_colour(d.tone),
                esc(d.name),
                esc(d.meaning)
            );
        }
        out.push_str("</p>\n");
    }
    let mut notes = Vec::new();
    if (from, to) != (0.0, end) {
        notes.push(format!(
            "Shown: T{:+.0}s to T{:+.0}s of the run's {:.0}s, around the faults.",
            from - t0,
            to - t0,
            end
        ));
    }
    if all.len() > shown {
        notes.push(format!(
            "{} of {} lanes shown (the rest are in --format json).",
            shown,
            all.len()
        ));
    }
    if !h.ops().is_empty() {
        notes.push(format!(
            "Client operations: {} of {} clients shown (those a check names first); {} of the {} operations in the window drawn{}.",
            clients.len(),
            processes.len(),
            drawn,
            in_window,
            if drawn < in_window {
                ", sampled by taking each client's operations in order up to the limit; every operation a check names is drawn"
            } else {
                ""
            }
        ));
    }
    if all.is_empty() {
        notes.push("This system records no roles or impaired units, so there are no lanes; the series below show what happened.".into());
    }
    for n in notes {
        let _ = writeln!(out, r#"<p class="note">{}</p>"#, esc(&n));
    }
}

fn series_section(outcome: &Outcome, t0: f64, out: &mut String) {
    let bands: Vec<Band> = outcome
        .fault_effects
        .iter()
        .filter(|e| e.ended != Ended::NotReached)
        .map(|e| Band {
            from: (e.from.as_secs_f64() - t0) / 60.0,
            to: (e.until.as_secs_f64() - t0) / 60.0,
            label: format!("fault #{}: {}", e.entry, e.fault),
        })
        .collect();
    let mut plots: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
    let step = outcome.series_step.as_secs_f64().max(1e-9);
    for (name, ys) in &outcome.series {
        let xs = (0..ys.len())
            .map(|i| (i as f64 * step - t0) / 60.0)
            .collect();
        plots.push((name.clone(), xs, ys.clone()));
    }
    if plots.is_empty() && !outcome.history.ops().is_empty() {
        // No series from the system: the clients' success fraction per
        // 10 s, from the history.
        let w = 10.0;
        let end = outcome.sim_time.as_secs_f64();
        let n = ((end / w).ceil() as usize).max(1);
        let mut ok = vec![0u64; n];
        let mut all = vec![0u64; n];
        for op in outcome.history.ops() {
            if let Some(t) = op.complete_time.or(op.invoke_time) {
                let b = ((t as f64 / 1e9 / w) as usize).min(n - 1);
                all[b] += 1;
                ok[b] += u64::from(op.outcome == Completion::Ok);
            }
        }
        let xs = (0..n).map(|i| (i as f64 * w - t0) / 60.0).collect();
        let ys = (0..n)
            .map(|i| {
                if all[i] == 0 {
                    f64::NAN
                } else {
                    ok[i] as f64 / all[i] as f64
                }
            })
            .collect();
        plots.push((
            "client success fraction per 10 s (from the history)".into(),
            xs,
            ys,
        ));
    }
    if plots.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"series\">Series</h2>\n");
    for (name, xs, ys) in plots {
        let _ = write!(out, "<h3>{}</h3>", esc(&name));
        out.push_str(&line_plot(
            &name,
            &xs,
            &ys,
            &bands,
            "minutes from T0",
            WIDTH,
        ));
        out.push('\n');
    }
}

/// The HTML report of one replay.
pub fn replay(report: &ReplayReport, outcome: &Outcome) -> String {
    let t0 = report.t0_seconds;
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>{} — design {}</h1>\n<p class=\"meta\">{} · seed {} · fingerprint <code>{}</code> · {} events · stopped: {}{}</p>\n",
        esc(&report.scenario),
        esc(&report.design),
        verdict_badge(report.verdict),
        report.seed,
        esc(&report.fingerprint),
        report.events,
        esc(&report.stop),
        report
            .t0
            .as_ref()
            .map(|t| format!(" · T0 = {} (simulated {:.0} s)", esc(t), t0))
            .unwrap_or_default()
    );
    b.push_str("<h2>Timeline</h2>\n");
    timeline_svg(outcome, t0, &mut b);
    series_section(outcome, t0, &mut b);
    b.push_str("<h2 id=\"checks\">Checks</h2>\n<table><tr><th>check</th><th>verdict</th><th>summary</th><th>details</th></tr>\n");
    for (c, (_, details)) in report.checks.iter().zip(&report.details) {
        let shown: Vec<String> = details
            .iter()
            .take(8)
            .map(|d| esc(&d.chars().take(240).collect::<String>()))
            .collect();
        let more = details.len().saturating_sub(8);
        let _ = writeln!(
            b,
            r#"<tr id="{}" class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>"#,
            check_anchor(&c.name),
            verdict_class(c.verdict),
            esc(&c.name),
            verdict_badge(c.verdict),
            esc(&c.summary),
            shown.join("<br>"),
            if more > 0 {
                format!("<br>… {more} more (--format json)")
            } else {
                String::new()
            }
        );
    }
    b.push_str("</table>\n");
    if report.checks.is_empty() {
        b.push_str("<p class=\"note\">This system runs no checks: it promises nothing a check holds it to.</p>\n");
    }
    if !report.fault_effects.is_empty() {
        b.push_str("<h2 id=\"effects\">Fault effects</h2>\n<ul>\n");
        for e in &report.fault_effects {
            let _ = writeln!(
                b,
                r#"<li id="fault-{}" class="effect{}">{}</li>"#,
                e.entry,
                if e.observable() { "" } else { " none" },
                esc(&e.line(t0))
            );
        }
        b.push_str("</ul>\n");
    }
    b.push_str("<h2 id=\"figures\">Simulated beside published</h2>\n<table><tr><th>figure</th><th>simulated</th><th>published</th></tr>\n");
    for (k, v) in &report.metrics {
        let _ = writeln!(
            b,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(k),
            num(*v),
            report.published.get(k).map(|p| num(*p)).unwrap_or_default()
        );
    }
    for (k, p) in &report.published {
        if !report.metrics.contains_key(k) {
            let _ = writeln!(
                b,
                r#"<tr><td>{}</td><td class="n">–</td><td class="n">{}</td></tr>"#,
                esc(k),
                num(*p)
            );
        }
    }
    b.push_str("</table>\n");
    if !report.notes.is_empty() {
        b.push_str("<ul class=\"note\">");
        for n in &report.notes {
            let _ = write!(b, "<li>{}</li>", esc(n));
        }
        b.push_str("</ul>\n");
    }
    b.push_str("<h2>Timeline entries</h2>\n<table><tr><th>time</th><th>what</th></tr>\n");
    let notable: Vec<_> = report.timeline.iter().filter(|e| !e.routine).collect();
    for e in notable.iter().take(200) {
        let _ = writeln!(
            b,
            "<tr><td class=\"n\">T{:+.3}s</td><td>{}</td></tr>",
            e.time.as_secs_f64() - t0,
            esc(&e.what)
        );
    }
    b.push_str("</table>\n");
    if notable.len() > 200 {
        let _ = writeln!(
            b,
            "<p class=\"note\">{} more entries in --format json.</p>",
            notable.len() - 200
        );
    }
    let _ = writeln!(b, "<h2>Replay</h2>\n<pre>{}</pre>", esc(&report.replay));
    page(
        &format!(
            "{} {} seed {} — blastradius",
            report.scenario, report.design, report.seed
        ),
        &b,
    )
}

/// The HTML report of a comparison or sweep.
pub fn comparison(c: &Comparison) -> String {
    let mut b = String::new();
    let points = c.points();
    let _ = writeln!(
        b,
        "<h1>{} — {}</h1>\n<p class=\"meta\">{}{} design(s) × {} seed(s), {} run(s){}</p>",
        esc(&c.scenario),
        if c.axes.is_empty() {
            "compare"
        } else {
            "sweep"
        },
        if c.axes.is_empty() {
            String::new()
        } else {
            format!("{} grid point(s) × ", points.len())
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
    let rows: Vec<(usize, String)> = (0..points.len()).map(|p| (p, c.point_label(p))).collect();
    let values = |p: usize, d: &str, name: &str| -> Vec<f64> {
        let mut v: Vec<f64> = c
            .runs
            .iter()
            .filter(|r| r.point == p && r.design == d)
            .filter_map(|r| r.metrics.get(name).copied())
            .filter(|x| x.is_finite())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    b.push_str("<h2>Verdicts</h2>");
    grid_table(&mut b, c, &rows, |p, d| {
        let count = |v: Verdict| {
            c.runs
                .iter()
                .filter(|r| r.point == p && r.design == d && r.verdict == v)
                .count()
        };
        format!(
            "{} valid · {} invalid · {} unknown",
            count(Verdict::Valid),
            count(Verdict::Invalid),
            count(Verdict::Unknown)
        )
    });
    metastability_map(&mut b, c);
    b.push_str("<h2>Metrics</h2>\n<p class=\"note\">Each plot: median (dot) and range over seeds (bar) per design");
    b.push_str(if c.axes.is_empty() {
        ".</p>\n"
    } else {
        ", at each grid point.</p>\n"
    });
    for name in c.metric_names() {
        let published = c.published.get(&name).copied();
        let _ = write!(
            b,
            "<h3>{}{}</h3>",
            esc(&name),
            published
                .map(|p| format!(" <span class=\"note\">(published {})</span>", num(p)))
                .unwrap_or_default()
        );
        // Plot: x = designs (a comparison) or grid points (a sweep, one
        // colour per design, medians joined across points).
        let all: Vec<f64> = rows
            .iter()
            .flat_map(|(p, _)| c.designs.iter().flat_map(|d| values(*p, d, &name)))
            .chain(published)
            .collect();
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min).min(0.0);
        let mut hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !hi.is_finite() || hi <= lo {
            hi = lo + 1.0;
        }
        let sweep = !c.axes.is_empty();
        let slots = if sweep { rows.len() } else { c.designs.len() };
        let (h, left, bottom, top) = (190.0, 110.0, 64.0, 12.0);
        let width = (left + slots as f64 * 70.0 + 30.0).clamp(360.0, WIDTH);
        let sy = Scale {
            from: lo,
            to: hi,
            px0: h - bottom,
            px1: top,
        };
        let slot_w = (width - left - 20.0) / slots.max(1) as f64;
        let x_of = |slot: usize, design: usize| {
            let spread = if sweep {
                (design as f64 - (c.designs.len() as f64 - 1.0) / 2.0) * 6.0
            } else {
                0.0
            };
            left + (slot as f64 + 0.5) * slot_w + spread
        };
        let _ = write!(
            b,
            r#"<svg class="plot metric" data-metric="{}" viewBox="0 0 {width:.0} {h}" width="{width:.0}" height="{h}">"#,
            esc(&name)
        );
        for t in ticks(lo, hi, 4) {
            let y = sy.at(t);
            let _ = write!(
                b,
                r#"<line class="grid" x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                width - 10.0,
                left - 4.0,
                y + 4.0,
                num(t)
            );
        }
        if let Some(p) = published {
            let y = sy.at(p);
            let _ = write!(
                b,
                r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#c62828" stroke-dasharray="4 3"><title>published {}</title></line>"##,
                width - 10.0,
                num(p)
            );
        }
        for (di, d) in c.designs.iter().enumerate() {
            let colour = PALETTE[di % PALETTE.len()];
            let mut medians = Vec::new();
            for (slot, (p, label)) in rows.iter().enumerate() {
                let slot = if sweep { slot } else { di };
                let x = x_of(slot, di);
                let v = values(*p, d, &name);
                let (Some(a), Some(z)) = (v.first(), v.last()) else {
                    continue;
                };
                let med = v[(v.len() - 1) / 2];
                medians.push(format!("{x:.1},{:.1}", sy.at(med)));
                let _ = write!(
                    b,
                    r#"<g class="cell" data-design="{}" data-point="{p}"><line class="whisker" stroke="{colour}" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/><circle class="median" fill="{colour}" cx="{x:.1}" cy="{:.1}" r="4"><title>{} {}: median {} [{}–{}]</title></circle></g>"#,
                    esc(d),
                    sy.at(*a),
                    sy.at(*z),
                    sy.at(med),
                    esc(label),
                    esc(d),
                    num(med),
                    num(*a),
                    num(*z)
                );
            }
            if sweep && medians.len() > 1 {
                let _ = write!(
                    b,
                    r#"<polyline fill="none" stroke="{colour}" stroke-opacity=".6" points="{}"/>"#,
                    medians.join(" ")
                );
            }
        }
        let labels: Vec<String> = if sweep {
            (0..rows.len())
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
            let x = x_of(slot, (c.designs.len().saturating_sub(1)) / 2);
            let y = h - bottom + 14.0;
            let short: String = label.chars().take(22).collect();
            let _ = write!(
                b,
                r#"<text class="tick" x="{x:.1}" y="{y:.1}" text-anchor="end" transform="rotate(-20 {x:.1} {y:.1})">{}</text>"#,
                esc(&short)
            );
        }
        b.push_str("</svg>\n");
        if sweep {
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
        // The same as a table.
        grid_table(&mut b, c, &rows, |p, d| {
            let v = values(p, d, &name);
            match (v.first(), v.last()) {
                (Some(a), Some(z)) => {
                    format!("{} [{}–{}]", num(v[(v.len() - 1) / 2]), num(*a), num(*z))
                }
                _ => "–".into(),
            }
        });
    }
    page(&format!("{} — blastradius", c.scenario), &b)
}

/// A table of grid points (rows) × designs (columns), each cell given by
/// `cell(point, design)` as text.
/// For a sweep of one or two axes whose runs report
/// `metastability_class`: per design, a table over the axes with each cell
/// coloured by the class most seeds fell in.
fn metastability_map(b: &mut String, c: &Comparison) {
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

fn grid_table(
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

/// The HTML report of checking histories: one section per file.
pub fn history_checks(items: &[(String, &History, &crate::check::linear::Report)]) -> String {
    let mut b = String::new();
    for (file, h, r) in items {
        history_check(&mut b, file, h, r);
    }
    let title = match items {
        [(one, ..)] => format!("{one} — blastradius check"),
        _ => format!("{} histories — blastradius check", items.len()),
    };
    page(&title, &b)
}

/// One history's section: the verdict, and for an invalid history its
/// failing window per process (x: position in the history), the
/// linearized prefix in green, the operation that could not be linearized
/// in red, and the witness text.
fn history_check(b: &mut String, file: &str, h: &History, report: &crate::check::linear::Report) {
    let _ = writeln!(
        b,
        "<section class=\"history-check\"><h1>{}</h1>\n<p class=\"meta\">{} · {} operations · {} key(s) · {} configurations searched{}</p>",
        esc(file),
        verdict_badge(report.verdict),
        h.ops().len(),
        report.keys,
        report.states,
        report
            .reason
            .as_ref()
            .map(|r| format!(" · {}", esc(r)))
            .unwrap_or_default()
    );
    match &report.witness {
        None => {
            let _ = writeln!(
                *b,
                "<p>{}</p>",
                match report.verdict {
                    Verdict::Valid =>
                        "Every key's operations have a linearization: nothing to draw.",
                    _ => "No witness.",
                }
            );
        }
        Some(w) => {
            let window: Vec<usize> = w.window.iter().map(|o| o.index).collect();
            let prefix: Vec<usize> = w.prefix_tail.iter().map(|s| s.op.index).collect();
            let blocked = w.blocked.as_ref().map(|o| o.index);
            let ops = h.ops();
            let last = ops
                .iter()
                .map(|o| o.complete.unwrap_or(o.invoke))
                .max()
                .map_or(0.0, |e| e as f64 + 1.0);
            let pos = |i: usize| {
                let o = &ops[i];
                (
                    o.invoke as f64,
                    o.complete.map(|c| c as f64).unwrap_or(last),
                )
            };
            let (lo, hi) = window.iter().fold((f64::INFINITY, 0.0f64), |(a, z), &i| {
                let (x, y) = pos(i);
                (a.min(x), z.max(y))
            });
            let (lo, hi) = if lo.is_finite() {
                (lo, hi.max(lo + 1.0))
            } else {
                (0.0, 1.0)
            };
            let mut procs: Vec<u64> = window.iter().map(|&i| ops[i].process).collect();
            procs.sort_unstable();
            procs.dedup();
            let lane = 26.0;
            let height = 30.0 + procs.len() as f64 * lane + 20.0;
            let sx = Scale {
                from: lo - 0.5,
                to: hi + 0.5,
                px0: 90.0,
                px1: WIDTH - 10.0,
            };
            let _ = write!(
                b,
                "<h2>Failing window{}</h2>\n<svg id=\"window\" class=\"history\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\">",
                w.key
                    .as_ref()
                    .map(|k| format!(" of key {}", esc(k)))
                    .unwrap_or_default()
            );
            for t in ticks(lo, hi, 10).into_iter().filter(|t| t.fract() == 0.0) {
                let x = sx.at(t);
                let _ = write!(
                    b,
                    r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="18" y2="{:.1}"/><text class="tick" x="{x:.1}" y="12" text-anchor="middle">{}</text>"#,
                    height - 20.0,
                    num(t)
                );
            }
            for (row, p) in procs.iter().enumerate() {
                let y = 24.0 + row as f64 * lane;
                let _ = write!(
                    b,
                    r#"<g class="process" data-process="{p}"><text x="8" y="{:.1}">p{p}</text>"#,
                    y + 15.0
                );
                for &i in window.iter().filter(|&&i| ops[i].process == *p) {
                    let (a, z) = pos(i);
                    let class = if Some(i) == blocked {
                        "op blocked"
                    } else if prefix.contains(&i) {
                        "op linearized"
                    } else {
                        match ops[i].outcome {
                            Completion::Ok => "op other",
                            Completion::Fail => "op fail",
                            Completion::Info => "op info",
                        }
                    };
                    let (xa, xz) = (sx.at(a), sx.at(z));
                    let text = crate::history::describe(h, &ops[i]);
                    let _ = write!(
                        b,
                        r#"<rect class="{class}" id="op-{i}" x="{xa:.1}" y="{y:.1}" width="{:.1}" height="20"><title>op {i}: {}</title></rect><text x="{:.1}" y="{:.1}">{}</text>"#,
                        (xz - xa).max(2.0),
                        esc(&text),
                        xa + 3.0,
                        y + 14.0,
                        esc(&text
                            .chars()
                            .take(((xz - xa) / 6.5).max(0.0) as usize)
                            .collect::<String>())
                    );
                }
                b.push_str("</g>");
            }
            b.push_str("</svg>\n");
            b.push_str("<p class=\"legend\"><span><i style=\"background:#7bb77f\"></i>in the longest linearizable prefix</span><span><i style=\"background:#d32f2f\"></i>could not be linearized</span><span><i style=\"background:#d77b74\"></i>failed</span><span><i style=\"background:#e3c25a\"></i>indeterminate</span></p>\n");
            let _ = writeln!(
                b,
                "<p class=\"note\">x: position of the invoke and completion events in the history (event index). Window: {} operation(s) between two quiescent points, checked from state {}.</p>",
                window.len(),
                esc(&w.window_start)
            );
            b.push_str("<h2>Longest linearizable prefix (last steps)</h2><table><tr><th>op</th><th>state after</th></tr>");
            for s in &w.prefix_tail {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td><code>{}</code></td></tr>",
                    esc(&s.op.text),
                    esc(&s.state)
                );
            }
            b.push_str("</table>\n<h2>Witness</h2><pre>");
            for l in w.to_lines() {
                let _ = writeln!(b, "{}", esc(&l));
            }
            b.push_str("</pre>\n");
        }
    }
    b.push_str("</section>\n");
}
