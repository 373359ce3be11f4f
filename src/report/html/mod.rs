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

mod catalogue;
mod comparison;
mod history;
mod radius;
mod replay;
mod timeline;

pub use catalogue::{analysis, catalogue};
pub use comparison::comparison;
pub use history::history_checks;
pub use radius::radius;
pub use replay::replay;

use crate::check::{Tone, Verdict};
use crate::history::{Completion, History};
use crate::report::lanes::State;
use crate::report::replay::ReplayReport;
use crate::report::svg::{Band, Scale, esc, line_plot, num, ticks};
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
pub(super) const PALETTE: [&str; 8] = [
    "#1f5fbf", "#d8452c", "#2f8f46", "#8a3fb5", "#e0a526", "#0f8b8d", "#7a5230", "#c2185b",
];
/// Width of the pictures, px.
pub(super) const WIDTH: f64 = 1200.0;
/// Left margin for lane names, px.
pub(super) const LEFT: f64 = 190.0;

pub(super) const STYLE: &str = r#"
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
.witness pre{max-height:24em;overflow:auto;font-size:11px;background:#f6f6f6;padding:4px}.span.impaired{fill:#d8452c}.span.healthy{fill:#bfdcb5}.span.fault{fill:#e39a12}
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

pub(super) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n",
        esc(title)
    )
}

pub(super) fn verdict_badge(v: Verdict) -> String {
    let w = match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Unknown => "unknown",
    };
    format!(r#"<span class="verdict {w}">{w}</span>"#)
}

pub(super) fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Unknown => "unknown",
    }
}

/// A fault's kind and first quoted argument: `degrade_link par_a-par_b`.
pub(super) fn short_fault(description: &str) -> String {
    let kind = description.split(' ').next().unwrap_or(description);
    match description.split('"').nth(1) {
        Some(arg) => format!("{kind} {arg}"),
        None => kind.to_string(),
    }
}

/// `T+3s`, `T-2min`, `T0`.
pub(super) fn relative(t: f64, unit: &str) -> String {
    if t.abs() < 1e-9 {
        "T0".to_string()
    } else if t > 0.0 {
        format!("T+{}{unit}", num(t))
    } else {
        format!("T−{}{unit}", num(-t))
    }
}

pub(super) fn check_anchor(name: &str) -> String {
    format!(
        "check-{}",
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    )
}
