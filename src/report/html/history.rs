//! A history check's page: the failing window per process, the longest
//! linearizable prefix and the operation that could not be linearized.

use super::*;

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
pub(super) fn history_check(
    b: &mut String,
    file: &str,
    h: &History,
    report: &crate::check::linear::Report,
) {
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
            let window = failing_window(b, h, w);
            witness_tables(b, w, window);
        }
    }
    b.push_str("</section>\n");
}

/// The failing window per process (x: position in the history): the
/// linearized prefix in green, the operation that could not be linearized
/// in red. Returns how many operations the window holds.
fn failing_window(b: &mut String, h: &History, w: &crate::check::linear::Witness) -> usize {
    let prefix: Vec<usize> = w.prefix_tail.iter().map(|s| s.op.index).collect();
    let blocked = w.blocked.as_ref().map(|o| o.index);
    // The failing window, and the operation blamed even when the
    // window (around the whole history's broken condition) does
    // not hold it: the page always shows the culprit in red.
    let mut window: Vec<usize> = w.window.iter().map(|o| o.index).collect();
    if let Some(b) = blocked
        && !window.contains(&b)
    {
        window.push(b);
    }
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
            op_rect(b, h, i, class, (sx.at(a), sx.at(z)), y);
        }
        b.push_str("</g>");
    }
    b.push_str("</svg>\n");
    window.len()
}

/// The legend, the prefix's last steps and the witness text.
fn witness_tables(b: &mut String, w: &crate::check::linear::Witness, window: usize) {
    b.push_str("<p class=\"legend\"><span><i style=\"background:#7bb77f\"></i>in the longest linearizable prefix</span><span><i style=\"background:#d32f2f\"></i>could not be linearized</span><span><i style=\"background:#d77b74\"></i>failed</span><span><i style=\"background:#e3c25a\"></i>indeterminate</span></p>\n");
    let _ = writeln!(
        b,
        "<p class=\"note\">x: position of the invoke and completion events in the history (event index). Window: {} operation(s) between two quiescent points, checked from state {}.</p>",
        window,
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

/// Operation `i` as a bar from `xa` to `xz` on the row at `y`, with as
/// much of its description as fits.
fn op_rect(b: &mut String, h: &History, i: usize, class: &str, (xa, xz): (f64, f64), y: f64) {
    let text = crate::history::describe(h, &h.ops()[i]);
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
