//! Import of Jepsen EDN histories.
//!
//! Jepsen stores a history as EDN maps, one per line (`history.edn`) or inside
//! a vector (knossos test data):
//! `{:process 0, :type :invoke, :f :read, :value nil}`. The file is split into
//! its top-level maps here (so errors can name a line); each map is parsed by
//! the `edn-rs` crate and converted to an [`Event`]. Events of the nemesis
//! (a `:process` that is not an integer) are skipped: they are faults, not
//! client operations.
//!
//! Two readings ([`Semantics`]). Ours, the default, keeps what a client
//! saw: a register starts at `null`, `:fail` is an observation (a failed
//! `cas` saw the compare fail), `:ok :read nil` read `null`. Knossos's, for
//! its own corpus: a register starts at 0, `:fail` means the operation did
//! not happen (it is dropped, invoke and all), and an `:ok` read of `nil`
//! means the value is unknown (the read constrains nothing and is dropped).
//! Under Knossos's reading a synthetic process (one past the largest
//! process of the file) writes 0 to each object before the first event.

use super::{Event, EventType, History, HistoryError, OpFn};
use edn_rs::Edn;
use std::path::Path;
use std::str::FromStr;

/// How an EDN history is read (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Semantics {
    /// Registers start at `null`; `:fail` observes; a read of `nil` read `null`.
    #[default]
    Observed,
    /// Knossos's: registers start at 0; `:fail` did not happen; a read of
    /// `nil` is unknown.
    Knossos,
}

/// Reads a Jepsen EDN history file.
pub fn read_file(path: &Path) -> Result<History, HistoryError> {
    read_file_with(path, Semantics::Observed)
}

/// Reads a Jepsen EDN history file under `semantics`.
pub fn read_file_with(path: &Path, semantics: Semantics) -> Result<History, HistoryError> {
    let name = path.display().to_string();
    let text = super::read_bounded(path, &name)?;
    parse_str_with(&text, &name, semantics)
}

/// An `edn-rs` error as a sentence.
fn edn_message(e: &edn_rs::EdnError) -> String {
    match e {
        edn_rs::EdnError::ParseEdn(s)
        | edn_rs::EdnError::Deserialize(s)
        | edn_rs::EdnError::Iter(s) => {
            format!("not valid EDN: {s}")
        }
        edn_rs::EdnError::TryFromInt(e) => format!("not valid EDN: {e}"),
        _ => "not valid EDN".to_string(),
    }
}

/// Parses a Jepsen EDN history; `file` names it in errors.
pub fn parse_str(text: &str, file: &str) -> Result<History, HistoryError> {
    parse_str_with(text, file, Semantics::Observed)
}

/// Parses a Jepsen EDN history under `semantics`.
pub fn parse_str_with(
    text: &str,
    file: &str,
    semantics: Semantics,
) -> Result<History, HistoryError> {
    if semantics == Semantics::Knossos {
        return knossos(text, file);
    }
    let mut h = History::new();
    each_event(text, file, |line, event| {
        h.push_from_line(&event, line as u32)
            .map_err(|e| (e.field, e.message))
    })?;
    Ok(h)
}

/// Calls `f` with every event of the file and its line, nemesis events
/// left out; an error of `f` is reported at that line.
fn each_event(
    text: &str,
    file: &str,
    mut f: impl FnMut(usize, Event) -> Result<(), (&'static str, String)>,
) -> Result<(), HistoryError> {
    for item in split_maps(text) {
        let (line, body) = item.map_err(|(line, message)| HistoryError::Line {
            file: file.to_string(),
            line,
            field: "edn",
            message,
        })?;
        let err = |(field, message): (&'static str, String)| HistoryError::Line {
            file: file.to_string(),
            line,
            field,
            message,
        };
        let edn = Edn::from_str(body).map_err(|e| err(("edn", edn_message(&e))))?;
        if let Some(event) = to_event(&edn).map_err(err)? {
            f(line, event).map_err(err)?;
        }
    }
    Ok(())
}

/// Knossos's reading: drop `:fail` operations and `:ok` reads of `nil`
/// (invoke and completion), then start every object at 0.
fn knossos(text: &str, file: &str) -> Result<History, HistoryError> {
    let mut all: Vec<(usize, Event)> = Vec::new();
    each_event(text, file, |line, e| {
        all.push((line, e));
        Ok(())
    })?;
    let mut keep = vec![true; all.len()];
    let mut open: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for (i, (_, e)) in all.iter().enumerate() {
        match e.kind {
            EventType::Invoke => {
                open.insert(e.process, i);
            }
            kind => {
                let unknown_read = kind == EventType::Ok && e.f == OpFn::Read && e.value.is_null();
                if (kind == EventType::Fail || unknown_read)
                    && let Some(invoke) = open.remove(&e.process)
                {
                    keep[invoke] = false;
                    keep[i] = false;
                } else {
                    open.remove(&e.process);
                }
            }
        }
    }
    let synthetic = all
        .iter()
        .map(|(_, e)| e.process)
        .max()
        .map_or(0, |p| p + 1);
    let mut keys: Vec<Option<String>> = Vec::new();
    for (_, e) in &all {
        if !keys.contains(&e.key) {
            keys.push(e.key.clone());
        }
    }
    if keys.is_empty() {
        keys.push(None);
    }
    let at = |line: usize| {
        move |err: super::EventError| HistoryError::Line {
            file: file.to_string(),
            line,
            field: err.field,
            message: err.message,
        }
    };
    let mut h = History::new();
    let time = all.iter().find_map(|(_, e)| e.time).map(|_| 0);
    for key in keys {
        for kind in [EventType::Invoke, EventType::Ok] {
            let init = Event {
                process: synthetic,
                kind,
                f: OpFn::Write,
                key: key.clone(),
                value: serde_json::Value::from(0),
                time,
            };
            h.push_from_line(&init, 0).map_err(at(0))?;
        }
    }
    for ((line, e), keep) in all.iter().zip(keep) {
        if keep {
            h.push_from_line(e, *line as u32).map_err(at(*line))?;
        }
    }
    Ok(h)
}

fn keyword(e: &Edn) -> Option<&str> {
    match e {
        Edn::Key(k) => Some(k.trim_start_matches(':')),
        _ => None,
    }
}

fn get<'a>(map: &'a Edn, name: &str) -> Option<&'a Edn> {
    let iter = map.map_iter()?;
    for (k, v) in iter {
        if k.trim_start_matches(':') == name {
            return Some(v);
        }
    }
    None
}

fn to_event(e: &Edn) -> Result<Option<Event>, (&'static str, String)> {
    if !matches!(e, Edn::Map(_)) {
        return Err(("edn", "an event must be a map".into()));
    }
    let process = match get(e, "process") {
        Some(Edn::Int(p)) if *p >= 0 => *p as u64,
        Some(Edn::UInt(p)) => *p,
        Some(Edn::Key(_)) => return Ok(None), // :nemesis
        Some(other) => {
            return Err((
                "process",
                format!("{} is not a process number", to_json(other)),
            ));
        }
        None => return Err(("process", "missing".into())),
    };
    let kind = get(e, "type")
        .and_then(keyword)
        .ok_or(("type", "missing or not a keyword".to_string()))?;
    let kind = EventType::parse(kind).ok_or(("type", format!("unknown type :{kind}")))?;
    let f = get(e, "f")
        .and_then(keyword)
        .ok_or(("f", "missing or not a keyword".to_string()))?;
    let f = OpFn::parse(f).ok_or(("f", format!("unknown operation :{f}")))?;
    let key = match get(e, "key") {
        None | Some(Edn::Nil) => None,
        Some(k) => Some(match to_json(k) {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }),
    };
    let value = get(e, "value")
        .map(to_json)
        .unwrap_or(serde_json::Value::Null);
    let time = match get(e, "time") {
        Some(Edn::Int(t)) if *t >= 0 => Some(*t as u64),
        Some(Edn::UInt(t)) => Some(*t),
        _ => None,
    };
    Ok(Some(Event {
        process,
        kind,
        f,
        key,
        value,
        time,
    }))
}

/// EDN data as JSON: nil → null, keywords and symbols → their name as a
/// string, vectors, lists and sets → arrays, maps → objects.
fn to_json(e: &Edn) -> serde_json::Value {
    use serde_json::Value as J;
    match e {
        Edn::Nil | Edn::Empty => J::Null,
        Edn::Bool(b) => J::Bool(*b),
        Edn::Int(i) => J::from(*i),
        Edn::UInt(u) => J::from(*u),
        Edn::Double(d) => d
            .to_string()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(J::Null, J::Number),
        Edn::Str(s) | Edn::Symbol(s) | Edn::Rational(s) => J::String(s.clone()),
        Edn::Key(k) => J::String(k.trim_start_matches(':').to_string()),
        Edn::Char(c) => J::String(c.to_string()),
        Edn::Vector(_) | Edn::List(_) => J::Array(
            e.iter_some()
                .map(|it| it.map(to_json).collect())
                .unwrap_or_default(),
        ),
        Edn::Map(_) => J::Object(
            e.map_iter()
                .map(|it| {
                    it.map(|(k, v)| (k.trim_start_matches(':').to_string(), to_json(v)))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        Edn::Tagged(_, inner) => to_json(inner),
        #[allow(unreachable_patterns)]
        _ => J::Null,
    }
}

fn too_deep(line: usize) -> (usize, String) {
    (
        line,
        format!(
            "a value nested deeper than {} levels",
            crate::bounds::EDN_DEPTH_MAX
        ),
    )
}

/// Splits EDN text into its top-level maps, each with its 1-based line.
/// Understands strings, character literals and `;` comments; anything
/// outside maps other than `[`, `]`, `(`, `)`, commas and blanks is an error,
/// as is a value nested deeper than [`EDN_DEPTH_MAX`](crate::bounds::EDN_DEPTH_MAX)
/// (the parser behind it recurses) or a string that never closes.
fn split_maps(text: &str) -> impl Iterator<Item = Result<(usize, &str), (usize, String)>> {
    let bytes = text.as_bytes();
    let mut i = 0usize;
    let mut line = 1usize;
    std::iter::from_fn(move || {
        // Skip to the next top-level '{'.
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => line += 1,
                b';' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'{' => break,
                b'[' | b']' | b'(' | b')' | b',' | b' ' | b'\t' | b'\r' => {}
                c => {
                    let msg = format!("unexpected {:?} outside an event map", c as char);
                    i = bytes.len();
                    return Some(Err((line, msg)));
                }
            }
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        let start_line = line;
        let mut depth = 0usize;
        let mut nesting = 0usize;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => line += 1,
                b'"' => {
                    let string_line = line;
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        if bytes[i] == b'\\' {
                            i += 1;
                        } else if bytes[i] == b'\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    if i >= bytes.len() {
                        return Some(Err((string_line, "unterminated string".to_string())));
                    }
                }
                b'[' | b'(' => {
                    nesting += 1;
                    if nesting > crate::bounds::EDN_DEPTH_MAX {
                        i = bytes.len();
                        return Some(Err(too_deep(line)));
                    }
                }
                b']' | b')' => nesting = nesting.saturating_sub(1),
                b'\\' => i += 1,
                b';' => {
                    while i + 1 < bytes.len() && bytes[i + 1] != b'\n' {
                        i += 1;
                    }
                }
                b'{' => {
                    depth += 1;
                    nesting += 1;
                    if nesting > crate::bounds::EDN_DEPTH_MAX {
                        i = bytes.len();
                        return Some(Err(too_deep(line)));
                    }
                }
                b'}' => {
                    depth -= 1;
                    nesting = nesting.saturating_sub(1);
                    if depth == 0 {
                        i += 1;
                        return Some(Ok((start_line, &text[start..i])));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        i = bytes.len();
        Some(Err((start_line, "unterminated map".to_string())))
    })
}
