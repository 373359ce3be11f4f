//! Where things are in a scenario file: errors that name file, line,
//! column and field, and the spans of values inside the parsed document.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::DeValue;

/// Bad scenario input: where, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}:{column}: {field}: {message}", file.display())]
pub struct ScenarioError {
    pub(super) file: PathBuf,
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) field: String,
    pub(super) message: String,
}

impl ScenarioError {
    /// The file.
    pub fn file(&self) -> &Path {
        &self.file
    }
    /// 1-based line (0 when the file could not be read).
    pub fn line(&self) -> usize {
        self.line
    }
    /// 1-based column.
    pub fn column(&self) -> usize {
        self.column
    }
    /// The field at fault, as a path (`link[2].latency`).
    pub fn field(&self) -> &str {
        &self.field
    }
    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// An error about the file as a whole (cannot read it).
    pub(super) fn file_level(file: &Path, field: &str, message: impl fmt::Display) -> Self {
        Self {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            field: field.into(),
            message: message.to_string(),
        }
    }
}

/// A file's name and text, to turn byte offsets into places.
pub(super) struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// An error at `span`.
    pub fn error(
        &self,
        span: Range<usize>,
        field: impl fmt::Display,
        message: impl fmt::Display,
    ) -> ScenarioError {
        let start = span.start.min(self.text.len());
        let start = (0..=start)
            .rev()
            .find(|&i| self.text.is_char_boundary(i))
            .unwrap_or(0);
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(start, |nl| start - nl - 1) + 1;
        ScenarioError {
            file: self.file.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    /// An error from toml/serde: its span, the field path read off the
    /// file around it.
    pub fn toml_error(&self, e: &toml::de::Error, fallback: Range<usize>) -> ScenarioError {
        let span = e.span().unwrap_or(fallback);
        let field = field_at(self.text, &span);
        self.error(span, field, e.message().trim())
    }
}

/// Best-effort field path for a span: the `[table]` or `[[table]]` header
/// above it and the key on its line (`design.raft.engine`,
/// `replicated_db.cluster[1].primary`).
pub(super) fn field_at(text: &str, span: &Range<usize>) -> String {
    let start = span.start.min(text.len());
    let start = (0..=start)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[line_start..line_end];
    let key = line
        .split('=')
        .next()
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with('[') && line.contains('='));
    let mut table = String::new();
    let mut counts: indexmap::IndexMap<String, usize> = indexmap::IndexMap::new();
    // An error at a `[[table]]` header (a missing field) is about the entry
    // that header opens.
    let upto = if line.trim_start().starts_with('[') {
        line_end
    } else {
        line_start
    };
    for l in text[..upto].lines() {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim();
            let n = counts.entry(name.to_string()).or_insert(0);
            table = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = name.trim().to_string();
        }
    }
    match (table.is_empty(), key) {
        (true, Some(k)) => k.to_string(),
        (false, Some(k)) => format!("{table}.{k}"),
        (false, None) => table,
        (true, None) => "file".into(),
    }
}

/// The span of the value at `path` (`cluster[1].primary`, `authority.ttl`)
/// inside `root`: the deepest part of the path that exists.
pub(super) fn span_of(root: &Spanned<DeValue<'_>>, path: &str) -> Range<usize> {
    let mut at = root;
    for part in path.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let DeValue::Table(t) = at.get_ref() else {
            break;
        };
        let Some(next) = t.get(key) else { break };
        at = next;
        if let Some(i) = index {
            let DeValue::Array(a) = at.get_ref() else {
                break;
            };
            let Some(item) = a.get(i) else { break };
            at = item;
        }
    }
    at.span()
}
