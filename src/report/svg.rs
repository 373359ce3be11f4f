//! The little drawing kit the HTML reports share: escaping, a time axis,
//! a line plot with bands behind it. Inline SVG only: the reports must
//! open with no network and print as they show.

use std::fmt::Write as _;

/// Text made safe for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A linear map from a value range onto a pixel range.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    /// Value at the start.
    pub from: f64,
    /// Value at the end.
    pub to: f64,
    /// Pixel of the start.
    pub px0: f64,
    /// Pixel of the end.
    pub px1: f64,
}

impl Scale {
    /// Pixel of `v`, clamped to the range.
    pub fn at(&self, v: f64) -> f64 {
        let span = (self.to - self.from).max(f64::MIN_POSITIVE);
        let f = ((v - self.from) / span).clamp(0.0, 1.0);
        self.px0 + f * (self.px1 - self.px0)
    }

    /// Whether `[a, b]` meets the range.
    pub fn meets(&self, a: f64, b: f64) -> bool {
        b >= self.from && a <= self.to
    }
}

/// "Nice" tick values covering `[from, to]`, about `n` of them.
pub fn ticks(from: f64, to: f64, n: usize) -> Vec<f64> {
    let span = (to - from).abs().max(1e-9);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut t = (from / step).ceil() * step;
    while t <= to + step * 1e-9 && out.len() < 100 {
        out.push(t);
        t += step;
    }
    out
}

/// A compact number.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let x = if x == 0.0 { 0.0 } else { x };
    if (x == x.trunc() && x.abs() < 1e12) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A band drawn behind a plot (a fault while in force).
#[derive(Clone, Debug)]
pub struct Band {
    /// Start, in x units.
    pub from: f64,
    /// End.
    pub to: f64,
    /// Tooltip.
    pub label: String,
}

/// One line plot of `series` (y per x), with `bands` behind it, as an SVG
/// element with `class="plot"` and `data-series` naming it.
pub fn line_plot(
    name: &str,
    xs: &[f64],
    ys: &[f64],
    bands: &[Band],
    x_label: &str,
    width: f64,
) -> String {
    let (h, left, right, top, bottom) = (150.0, 60.0, 10.0, 10.0, 30.0);
    let mut out = String::new();
    let x0 = xs.first().copied().unwrap_or(0.0);
    let x1 = xs.last().copied().unwrap_or(1.0).max(x0 + 1e-9);
    let (mut y0, mut y1) = ys
        .iter()
        .filter(|y| y.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
            (a.min(y), b.max(y))
        });
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    y0 = y0.min(0.0);
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let sx = Scale {
        from: x0,
        to: x1,
        px0: left,
        px1: width - right,
    };
    let sy = Scale {
        from: y0,
        to: y1,
        px0: h - bottom,
        px1: top,
    };
    let _ = write!(
        out,
        r#"<svg class="plot" data-series="{}" viewBox="0 0 {width} {h}" width="{width}" height="{h}" role="img"><title>{}</title>"#,
        esc(name),
        esc(name)
    );
    for b in bands {
        if !sx.meets(b.from, b.to) {
            continue;
        }
        let (a, z) = (sx.at(b.from), sx.at(b.to));
        let _ = write!(
            out,
            r#"<rect class="band fault" x="{a:.1}" y="{top}" width="{:.1}" height="{:.1}"><title>{}</title></rect>"#,
            (z - a).max(1.5),
            h - top - bottom,
            esc(&b.label)
        );
    }
    for t in ticks(y0, y1, 4) {
        let y = sy.at(t);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            width - right,
            left - 4.0,
            y + 4.0,
            num(t)
        );
    }
    for t in ticks(x0, x1, 8) {
        let x = sx.at(t);
        let _ = write!(
            out,
            r#"<text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            h - bottom + 14.0,
            num(t)
        );
    }
    let _ = write!(
        out,
        r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
        width - right,
        h - 2.0,
        esc(x_label)
    );
    let points: Vec<String> = xs
        .iter()
        .zip(ys)
        .filter(|(_, y)| y.is_finite())
        .map(|(x, y)| format!("{:.1},{:.1}", sx.at(*x), sy.at(*y)))
        .collect();
    let _ = write!(
        out,
        r#"<polyline class="line" points="{}"/>"#,
        points.join(" ")
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_ticks() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(3.0, 4.0, 2), vec![3.0, 3.5, 4.0]);
        let s = Scale {
            from: 0.0,
            to: 10.0,
            px0: 100.0,
            px1: 200.0,
        };
        assert_eq!(s.at(5.0), 150.0);
        assert_eq!(s.at(-1.0), 100.0);
    }
}
