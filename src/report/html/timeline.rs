//! The replay's main picture: the time axis, a row per fault, the
//! system's marks, a lane per node and shard (or state, or unit) grouped by
//! site, fault bands, client operations, the legend and what was left out.

use super::*;

/// A lane: one node's role in one shard, or one impaired unit.
pub(super) struct Lane {
    site: String,
    name: String,
    shard: Option<String>,
    /// (from, to, class, state's name) in seconds.
    spans: Vec<(f64, f64, &'static str, &'static str)>,
}

/// The CSS class of a tone: roles' colours, shared by every system.
pub(super) fn tone_class(t: Tone) -> &'static str {
    match t {
        Tone::Leading => "primary",
        Tone::Serving => "replica",
        Tone::Fenced => "read_only",
        Tone::Down => "down",
        Tone::Impaired => "impaired",
    }
}

pub(super) fn tone_colour(t: Tone) -> &'static str {
    match t {
        Tone::Leading => "#1f5fbf",
        Tone::Serving => "#9db7dc",
        Tone::Fenced => "#e0a526",
        Tone::Down => "#4a4f55",
        Tone::Impaired => "#d8452c",
    }
}

pub(super) fn lanes(outcome: &Outcome, end: f64) -> Vec<Lane> {
    let ns = |t: u64| t as f64 / 1e9;
    let mut out: Vec<Lane> =
        crate::report::lanes::lanes(&outcome.facts, outcome.lane_states, (end * 1e9) as u64)
            .into_iter()
            .map(|l| Lane {
                site: crate::report::lanes::site_of(outcome, &l)
                    .unwrap_or("(units)")
                    .to_string(),
                spans: l
                    .spans
                    .iter()
                    .filter(|s| s.to > s.from)
                    .map(|s| {
                        let class = match s.state {
                            State::Healthy => "healthy",
                            _ => tone_class(s.state.tone()),
                        };
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

/// The time window the main picture shows: around the faults and the
/// stretches failing checks report (a metastable tail, windows under the
/// SLO), else the whole run.
pub(super) fn focus(outcome: &Outcome, end: f64) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for e in &outcome.fault_effects {
        if e.ended == Ended::NotReached {
            continue;
        }
        lo = lo.min(e.from.as_secs_f64());
        hi = hi.max(e.until.as_secs_f64());
    }
    for f in &outcome.checks.findings {
        if let (Verdict::Invalid, Some([a, b])) = (f.verdict, f.during) {
            lo = lo.min(a as f64 / 1e9);
            hi = hi.max(b as f64 / 1e9);
        }
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
pub(super) fn named_ops(outcome: &Outcome) -> IndexMap<usize, String> {
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
pub(super) fn splits(outcome: &Outcome) -> Vec<(String, f64, f64)> {
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

/// The narrowest an operation's bar is drawn, in pixels: narrower bars
/// (sub-millisecond operations over minutes) cannot be pointed at.
const OP_MIN_PX: f64 = 3.0;

/// The main picture's layout, computed once: the window shown, the lanes
/// and clients drawn, the faults reached, and where each layer goes. Each
/// layer is drawn by its own method, in the order they stack.
struct Frame<'a> {
    outcome: &'a Outcome,
    t0: f64,
    end: f64,
    from: f64,
    to: f64,
    sx: Scale,
    all: Vec<Lane>,
    shown: usize,
    named: IndexMap<usize, String>,
    clients: Vec<u64>,
    processes: Vec<u64>,
    faults: Vec<&'a crate::run::effects::FaultEffect>,
    lane_h: f64,
    top: f64,
    height: f64,
    client_top: f64,
}

pub(super) fn timeline_svg(outcome: &Outcome, t0: f64, out: &mut String) {
    let frame = Frame::new(outcome, t0);
    frame.open(out);
    let y = frame.fault_rows(out);
    frame.system_marks(out);
    let lane_ys = frame.lane_rows(out, y);
    frame.fault_bands(out, &lane_ys);
    let (drawn, in_window) = frame.client_ops(out);
    out.push_str("</svg>\n");
    frame.legend(out);
    frame.notes(out, drawn, in_window);
}

impl<'a> Frame<'a> {
    /// The window around the faults, the lanes (at most `LANES_MAX`), the
    /// clients (those a check names first, at most `CLIENTS_MAX`), and the
    /// heights that follow from them.
    fn new(outcome: &'a Outcome, t0: f64) -> Self {
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

        Frame {
            outcome,
            t0,
            end,
            from,
            to,
            sx,
            all,
            shown,
            named,
            clients,
            processes,
            faults,
            lane_h,
            top,
            height,
            client_top,
        }
    }

    /// The SVG element and the time axis, relative to T0 (in minutes past
    /// 20 minutes).
    fn open(&self, out: &mut String) {
        let Frame {
            t0,
            from,
            to,
            sx,
            top,
            height,
            ..
        } = *self;
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
    }

    /// One row per fault, while in force; returns where the lanes start.
    fn fault_rows(&self, out: &mut String) -> f64 {
        let Frame {
            t0,
            sx,
            ref faults,
            lane_h,
            top,
            ..
        } = *self;
        // One row per fault, while in force.
        let mut y = top;
        if !faults.is_empty() {
            y += 14.0;
            let _ = write!(
                out,
                r#"<text class="site" x="4" y="{:.1}">faults</text>"#,
                y - 2.0
            );
            for e in faults {
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
        y
    }

    /// The system's timeline as marks above the lanes (elections,
    /// promotions, alerts).
    fn system_marks(&self, out: &mut String) {
        let Frame {
            outcome,
            t0,
            from,
            to,
            sx,
            ..
        } = *self;
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
    }

    /// The lanes, grouped by site, from `y`: spans, role changes, the
    /// system's own facts, split-brain bands. Returns each lane's row.
    fn lane_rows(&self, out: &mut String, mut y: f64) -> Vec<(&str, f64)> {
        let Frame {
            outcome,
            t0,
            from,
            to,
            sx,
            ref all,
            shown,
            lane_h,
            ..
        } = *self;
        // Lanes, grouped by site.
        let mut site = "";
        let mut lane_ys: Vec<(&str, f64)> = Vec::new();
        let split = splits(outcome);
        let marks = crate::report::lanes::marks(&outcome.facts);
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
            for &(at, kind) in marks.get(l.name.as_str()).into_iter().flatten() {
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
        lane_ys
    }

    /// Fault bands over the lanes of the nodes each fault acts on, and over
    /// the clients.
    fn fault_bands(&self, out: &mut String, lane_ys: &[(&str, f64)]) {
        let Frame {
            outcome,
            sx,
            ref clients,
            lane_h,
            client_top,
            ..
        } = *self;
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
    }

    /// The clients' operations (at most `OPS_MAX`, every one a check names
    /// included); returns (drawn, in the window).
    fn client_ops(&self, out: &mut String) -> (usize, usize) {
        let Frame {
            outcome,
            end,
            sx,
            ref named,
            ref clients,
            lane_h,
            client_top,
            ..
        } = *self;
        let h = &outcome.history;
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
                    // At least OP_MIN_PX wide, centred on the operation, so
                    // its tooltip can be reached with a pointer.
                    let (xa, xb) = (sx.at(a), sx.at(b));
                    let w = (xb - xa).max(OP_MIN_PX);
                    let xa = (xa + xb - w) / 2.0;
                    let bar = format!(
                        r#"<rect class="op {class}{}" id="op-{i}" x="{xa:.1}" y="{:.1}" width="{w:.1}" height="{:.1}"><title>op {i}: {}</title></rect>"#,
                        if check.is_some() { " violation" } else { "" },
                        yy + 2.0,
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
        (drawn, in_window)
    }

    /// The legend: roles and marks, then the system's own states this run
    /// shows.
    fn legend(&self, out: &mut String) {
        let outcome = self.outcome;
        let _ = write!(
            out,
            r#"<p class="legend"><span><i class="sw" style="background:#1f5fbf"></i>primary</span><span><i style="background:#9db7dc"></i>replica</span><span><i style="background:#e0a526"></i>read-only</span><span><i style="background:#4a4f55"></i>down</span><span><i style="background:#d8452c"></i>impaired</span><span><i style="background:#bfdcb5"></i>healthy (a unit between impairments)</span><span><i style="background:#f2b23366;border:1px solid #d99a1c"></i>fault in force (over the nodes it acts on, and the clients)</span><span><i style="background:#c62828;height:4px"></i>split brain (two writable primaries)</span><span><i style="background:#7bb77f"></i>op ok</span><span><i style="background:#d77b74"></i>op failed</span><span><i style="background:#e3c25a"></i>op indeterminate</span><span><i style="border:2px solid #b00020"></i>named by a check</span><span><i style="background:#6a3fb5"></i>system event</span></p>"#
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
    }

    /// What the picture left out, and why.
    fn notes(&self, out: &mut String, drawn: usize, in_window: usize) {
        let Frame {
            outcome,
            t0,
            end,
            from,
            to,
            ref all,
            shown,
            ref clients,
            ref processes,
            ..
        } = *self;
        let h = &outcome.history;
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
                "{} of {} lanes shown; the replay command below with --trace run.json writes every lane to a trace (open it in ui.perfetto.dev).",
                shown,
                all.len()
            ));
        }
        let units: Vec<&Lane> = all.iter().filter(|l| l.shard.is_none()).collect();
        if !units.is_empty() {
            let hit = units
                .iter()
                .filter(|l| {
                    l.spans
                        .iter()
                        .any(|s| s.2 == "impaired" && s.1 > from && s.0 < to)
                })
                .count();
            notes.push(format!(
                "Units: {hit} of {} impaired at some time in the window shown; the other {} healthy throughout it.",
                units.len(),
                units.len() - hit
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
}
