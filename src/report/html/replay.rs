//! A replay's page: the timeline, the series, the checks, the fault
//! effects, simulated beside published figures, and the replay command.

use super::timeline::*;
use super::*;

pub(super) fn series_section(outcome: &Outcome, t0: f64, out: &mut String) {
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
    for c in &report.checks {
        let _ = writeln!(
            b,
            r#"<tr id="{}" class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            check_anchor(&c.name),
            verdict_class(c.verdict),
            esc(&c.name),
            verdict_badge(c.verdict),
            esc(&c.summary),
            check_details(c, &report.replay)
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
            "<p class=\"note\">{} more entries: the replay command below with --format json lists them all.</p>",
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

/// Shown at once, of a check's details; the rest fold away.
const DETAILS_SHOWN: usize = 8;
/// The largest witness a page prints (bytes of indented JSON).
const WITNESS_MAX: usize = 64 << 10;

/// A check's details for the page: the first lines, the rest folded, and
/// its witness as indented JSON, folded, whole or not at all (too large: the
/// command that prints it instead).
fn check_details(c: &crate::report::replay::CheckSummary, replay: &str) -> String {
    let line = |d: &String| esc(d);
    let mut out: Vec<String> = c.details.iter().take(DETAILS_SHOWN).map(line).collect();
    let mut html = out.join("<br>");
    if c.details.len() > DETAILS_SHOWN {
        out = c.details.iter().skip(DETAILS_SHOWN).map(line).collect();
        let _ = write!(
            html,
            r#"<details class="more"><summary>{} more</summary>{}</details>"#,
            out.len(),
            out.join("<br>")
        );
    }
    // A check that holds has nothing to show for itself.
    if !c.witness.is_null() && c.verdict != Verdict::Valid {
        let json = serde_json::to_string_pretty(&c.witness).unwrap_or_default();
        if json.len() <= WITNESS_MAX {
            let _ = write!(
                html,
                r#"<details class="witness"><summary>witness (JSON, {} bytes)</summary><pre>{}</pre></details>"#,
                json.len(),
                esc(&json)
            );
        } else {
            let _ = write!(
                html,
                r#"<p class="witness-note">The witness ({} KB of JSON) is too large for this page: <code>{} --format json</code> prints it in <code>checks[].witness</code>.</p>"#,
                json.len() >> 10,
                esc(replay)
            );
        }
    }
    html
}
