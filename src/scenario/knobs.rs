//! Every knob of a scenario file: the path `sweep --set` and
//! [`Scenario::with_set`](super::Scenario::with_set) take, the value the
//! file gives it, and the tag of the fact behind it (`[P]`ublished,
//! `[S]`econdary, `[D]`erived, `[A]`ssumed), read from the file's comments.
//!
//! Paths are dotted keys with `[i]` for entries of an array of tables
//! (`fault[0].duration`, `replicated_db.cluster[1].keys`); inline tables
//! are walked too (`link[0].latency.min`); an array of plain values is one
//! knob. A tag is the one on the knob's own line, else in the comment lines
//! just above it, else the one its table header carries.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One knob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knob {
    /// Its path.
    pub path: String,
    /// Its value as written in the file.
    pub value: String,
    /// `P`, `S`, `D` or `A`, when the file tags it.
    pub tag: Option<char>,
    /// 1-based line of the value.
    pub line: usize,
}

/// The knobs of a scenario file's text, in file order.
pub fn knobs(text: &str) -> Result<Vec<Knob>, String> {
    let doc = DeTable::parse(text).map_err(|e| e.to_string())?;
    let lines: Vec<&str> = text.lines().collect();
    let starts = line_starts(text);
    let mut out = Vec::new();
    let mut walk = Walk {
        text,
        lines: &lines,
        starts: &starts,
        out: &mut out,
    };
    walk.table(doc.get_ref(), "");
    out.sort_by_key(|(offset, _)| *offset);
    Ok(out.into_iter().map(|(_, k)| k).collect())
}

/// The knob paths closest to `path` (edit distance on the path, then on
/// its last part), at most `n`.
pub fn nearest<'k>(knobs: &'k [Knob], path: &str, n: usize) -> Vec<&'k str> {
    let last = |p: &str| p.rsplit('.').next().unwrap_or(p).to_string();
    let mut scored: Vec<(usize, usize, &str)> = knobs
        .iter()
        .map(|k| {
            (
                strsim::levenshtein(&k.path, path),
                strsim::levenshtein(&last(&k.path), &last(path)),
                k.path.as_str(),
            )
        })
        .collect();
    scored.sort();
    scored.into_iter().take(n).map(|(_, _, p)| p).collect()
}

struct Walk<'a> {
    text: &'a str,
    lines: &'a [&'a str],
    starts: &'a [usize],
    out: &'a mut Vec<(usize, Knob)>,
}

impl Walk<'_> {
    fn table(&mut self, t: &DeTable<'_>, prefix: &str) {
        for (k, v) in t {
            let path = if prefix.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{prefix}.{}", k.get_ref())
            };
            self.value(v, &path);
        }
    }

    fn value(&mut self, v: &Spanned<DeValue<'_>>, path: &str) {
        match v.get_ref() {
            DeValue::Table(t) => self.table(t, path),
            DeValue::Array(a)
                if !a.is_empty() && a.iter().all(|x| matches!(x.get_ref(), DeValue::Table(_))) =>
            {
                for (i, item) in a.iter().enumerate() {
                    self.value(item, &format!("{path}[{i}]"));
                }
            }
            _ => {
                let span = v.span();
                let line = self.starts.partition_point(|&s| s <= span.start);
                let knob = Knob {
                    path: path.to_string(),
                    value: self.text[span.clone()].trim().to_string(),
                    tag: tag_at(self.lines, line.saturating_sub(1)),
                    line,
                };
                self.out.push((span.start, knob));
            }
        }
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The tag in a line's comment, if any.
fn tag_in(line: &str) -> Option<char> {
    let comment = line.split_once('#')?.1;
    ['P', 'S', 'D', 'A']
        .into_iter()
        .map(|c| (comment.find(&format!("[{c}]")), c))
        .filter_map(|(at, c)| at.map(|a| (a, c)))
        .min()
        .map(|(_, c)| c)
}

/// The tag on line `i` (0-based) or the comment block just above it.
fn tag_here_or_above(lines: &[&str], i: usize) -> Option<char> {
    if let Some(t) = lines.get(i).and_then(|l| tag_in(l)) {
        return Some(t);
    }
    let mut j = i;
    while j > 0 {
        j -= 1;
        let l = lines[j].trim_start();
        if !l.starts_with('#') {
            break;
        }
        if let Some(t) = tag_in(l) {
            return Some(t);
        }
    }
    None
}

fn tag_at(lines: &[&str], i: usize) -> Option<char> {
    tag_here_or_above(lines, i).or_else(|| {
        let header = (0..=i.min(lines.len().saturating_sub(1)))
            .rev()
            .find(|&j| lines[j].trim_start().starts_with('['))?;
        (header != i).then(|| tag_here_or_above(lines, header))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
[scenario]
name = "x"          # [P] the name
duration = "1h"

# [A] warm-up
[[fault]]
at = "10m"
# [D] from the timeline
duration = "43s"

[[fault]]
at = "20m"          # [S]

[net]
latency = { dist = "uniform", min = "1ms", max = "2ms" }   # [A]
sites = ["a", "b"]
"#;

    #[test]
    fn paths_values_and_tags() {
        let k = knobs(TEXT).unwrap();
        let got: Vec<(&str, &str, Option<char>)> = k
            .iter()
            .map(|k| (k.path.as_str(), k.value.as_str(), k.tag))
            .collect();
        assert_eq!(
            got,
            vec![
                ("scenario.name", "\"x\"", Some('P')),
                ("scenario.duration", "\"1h\"", None),
                ("fault[0].at", "\"10m\"", Some('A')),
                ("fault[0].duration", "\"43s\"", Some('D')),
                ("fault[1].at", "\"20m\"", Some('S')),
                ("net.latency.dist", "\"uniform\"", Some('A')),
                ("net.latency.min", "\"1ms\"", Some('A')),
                ("net.latency.max", "\"2ms\"", Some('A')),
                ("net.sites", "[\"a\", \"b\"]", None),
            ]
        );
        assert_eq!(k[3].line, 10);
    }

    #[test]
    fn nearest_paths_come_first() {
        let k = knobs(TEXT).unwrap();
        assert_eq!(nearest(&k, "fault[0].durations", 2)[0], "fault[0].duration");
        assert_eq!(nearest(&k, "faults[1].at", 1), vec!["fault[1].at"]);
    }
}
