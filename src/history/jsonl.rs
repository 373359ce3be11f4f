//! JSON Lines: the interchange format of `docs/history-format.md`.
//!
//! The reader streams (one reused line buffer, borrowed strings, raw JSON
//! values interned without building a tree when they are already canonical),
//! because the histories worth checking are millions of lines long. Every
//! error names the file, the 1-based line and the field.

use super::{EventType, History, HistoryError, OpFn, OpValue, ValueId};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::path::Path;

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    process: Option<&'a RawValue>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    f: Option<Cow<'a, str>>,
    #[serde(borrow)]
    key: Option<&'a RawValue>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    #[serde(borrow)]
    time: Option<&'a RawValue>,
}

/// Reads a history file.
pub fn read_file(path: &Path) -> Result<History, HistoryError> {
    read_file_watched(path, |_, _| false).map(|(h, _)| h)
}

/// Parses a history held in memory; `file` names it in errors.
pub fn parse_str(text: &str, file: &str) -> Result<History, HistoryError> {
    read(text.as_bytes(), file)
}

/// Reads a history from any buffered reader; `file` names it in errors.
pub fn read(input: impl BufRead, file: &str) -> Result<History, HistoryError> {
    read_watched(input, file, |_, _| false).map(|(h, _)| h)
}

/// Lines read before a reader's first look at the history so far
/// ([`read_file_watched`]); each later look comes after four times as many.
pub const FIRST_LOOK_LINES: usize = 1 << 16;

/// Reads a history file, letting `look` see the history read so far after
/// [`FIRST_LOOK_LINES`] lines, then after four times as many each time, with
/// the number of lines read. When it answers true, reading stops there:
/// the history returned is the file's first lines, its operations not yet
/// completed left indeterminate (the cut an observer had then). Returns
/// the history and the line reading stopped at, if it stopped early.
pub fn read_file_watched(
    path: &Path,
    look: impl FnMut(&History, usize) -> bool,
) -> Result<(History, Option<usize>), HistoryError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| HistoryError::Io {
        file: name.clone(),
        source,
    })?;
    use std::io::Read;
    let bounded = file.take(crate::bounds::HISTORY_BYTES_MAX + 1);
    read_watched(
        std::io::BufReader::with_capacity(1 << 16, bounded),
        &name,
        look,
    )
}

/// [`read`], with the looks of [`read_file_watched`].
fn read_watched(
    mut input: impl BufRead,
    file: &str,
    mut look: impl FnMut(&History, usize) -> bool,
) -> Result<(History, Option<usize>), HistoryError> {
    let mut next_look = FIRST_LOOK_LINES;
    let mut h = History::new();
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0usize;
    let mut total = 0u64;
    loop {
        buf.clear();
        let n = std::io::Read::take(&mut input, crate::bounds::LINE_BYTES_MAX as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| HistoryError::Io {
                file: file.to_string(),
                source,
            })?;
        if n == 0 {
            break;
        }
        if line_no == next_look {
            if look(&h, line_no) {
                return Ok((h, Some(line_no)));
            }
            next_look *= 4;
        }
        line_no += 1;
        total += n as u64;
        let err = |field: &'static str, message: String| HistoryError::Line {
            file: file.to_string(),
            line: line_no,
            field,
            message,
        };
        if n > crate::bounds::LINE_BYTES_MAX {
            return Err(err(
                "json",
                format!(
                    "the line is longer than {} KiB, the limit for one event",
                    crate::bounds::LINE_BYTES_MAX >> 10
                ),
            ));
        }
        if total > crate::bounds::HISTORY_BYTES_MAX {
            return Err(err(
                "file",
                format!(
                    "the file is larger than {} GiB, the limit for a history",
                    crate::bounds::HISTORY_BYTES_MAX >> 30
                ),
            ));
        }
        let mut text =
            std::str::from_utf8(&buf).map_err(|e| err("json", format!("not UTF-8: {e}")))?;
        if line_no == 1 {
            // A byte-order mark carries no data.
            text = text.strip_prefix('\u{feff}').unwrap_or(text);
        }
        if text.trim().is_empty() {
            continue;
        }
        parse_line(&mut h, text, line_no as u32).map_err(|(field, message)| err(field, message))?;
    }
    Ok((h, None))
}

/// Parses one line into `h`.
fn parse_line(h: &mut History, text: &str, line: u32) -> Result<(), (&'static str, String)> {
    let l: Line<'_> = serde_json::from_str(text).map_err(|e| {
        // The reader names the line; say the column only.
        let m = e.to_string();
        let m = m
            .rsplit_once(" at line ")
            .map_or(m.clone(), |(m, _)| m.to_string());
        ("json", format!("{m} (column {})", e.column()))
    })?;
    let process = match l.process {
        None => return Err(("process", "missing".into())),
        Some(raw) => raw.get().trim().parse::<u64>().map_err(|_| {
            (
                "process",
                format!("{} is not a non-negative integer", raw.get()),
            )
        })?,
    };
    let kind = match l.kind.as_deref() {
        None => return Err(("type", "missing".into())),
        Some(k) => EventType::parse(k).ok_or_else(|| {
            (
                "type",
                format!("unknown type {k:?} (expected invoke, ok, fail or info)"),
            )
        })?,
    };
    let f = match l.f.as_deref() {
        None => return Err(("f", "missing".into())),
        Some(f) => OpFn::parse(f).ok_or_else(|| {
            (
                "f",
                format!("unknown operation {f:?} (expected read, write, cas or append)"),
            )
        })?,
    };
    let key = match l.key {
        None => None,
        Some(raw) => {
            let raw = raw.get().trim();
            if raw == "null" {
                None
            } else if raw.starts_with('"') {
                let k: Cow<'_, str> =
                    serde_json::from_str(raw).map_err(|e| ("key", e.to_string()))?;
                Some(h.intern_key(&k))
            } else if raw.parse::<i64>().is_ok() {
                Some(h.intern_key(raw))
            } else {
                return Err(("key", format!("{raw} is not a string")));
            }
        }
    };
    let time = match l.time {
        None => None,
        Some(raw) if raw.get().trim() == "null" => None,
        Some(raw) => Some(raw.get().trim().parse::<u64>().map_err(|_| {
            (
                "time",
                format!("{} is not a non-negative integer (nanoseconds)", raw.get()),
            )
        })?),
    };
    let value = raw_value(h, kind, f, l.value).map_err(|m| ("value", m))?;
    h.push_interned(process, kind, f, key, value, time, line)
        .map_err(|e| (e.field, e.message))
}

fn raw_value(
    h: &mut History,
    kind: EventType,
    f: OpFn,
    raw: Option<&RawValue>,
) -> Result<Option<OpValue>, String> {
    let raw = raw.map(|r| r.get().trim()).unwrap_or("null");
    let values = h.values_mut();
    let intern =
        |values: &mut super::Values, r: &str| values.intern_raw(r).map_err(|e| e.to_string());
    Ok(match (f, kind) {
        (OpFn::Read, EventType::Ok) => Some(OpValue::One(intern(values, raw)?)),
        (OpFn::Read, _) => None,
        (_, k) if raw == "null" && k != EventType::Invoke => None,
        (OpFn::Cas, _) => {
            let pair: Vec<&RawValue> = serde_json::from_str(raw)
                .map_err(|_| format!("a cas value must be [expected, new], not {raw}"))?;
            if pair.len() != 2 {
                return Err(format!("a cas value must be [expected, new], not {raw}"));
            }
            Some(OpValue::Pair(
                intern(values, pair[0].get())?,
                intern(values, pair[1].get())?,
            ))
        }
        (OpFn::Append, _) => {
            if !raw.starts_with('"') {
                return Err(format!("an append value must be a string, not {raw}"));
            }
            Some(OpValue::One(intern(values, raw)?))
        }
        (OpFn::Write, _) => Some(OpValue::One(if raw == "null" {
            ValueId::NIL
        } else {
            intern(values, raw)?
        })),
    })
}

/// Writes a history as JSON Lines, one event per line, in event order.
pub fn write(h: &History, mut out: impl Write) -> std::io::Result<()> {
    let ops = h.ops();
    let values = h.values();
    for (index, kind) in h.events() {
        let Some(op) = ops.get(index) else { continue };
        write!(
            out,
            "{{\"process\":{},\"type\":\"{}\",\"f\":\"{}\"",
            op.process,
            kind.as_str(),
            op.f
        )?;
        if let Some(k) = op.key {
            write!(out, ",\"key\":{}", serde_json::to_string(h.key_name(k))?)?;
        }
        out.write_all(b",\"value\":")?;
        match (op.f, kind, op.value) {
            (OpFn::Read, EventType::Ok, v) => write!(out, "{}", values.display(v.first()))?,
            (OpFn::Read, _, _) => out.write_all(b"null")?,
            (_, _, OpValue::Pair(a, b)) => {
                write!(out, "[{},{}]", values.display(a), values.display(b))?
            }
            (_, _, OpValue::One(v)) => write!(out, "{}", values.display(v))?,
        }
        let time = if kind == EventType::Invoke {
            op.invoke_time
        } else {
            op.complete_time
        };
        if let Some(t) = time {
            write!(out, ",\"time\":{t}")?;
        }
        out.write_all(b"}\n")?;
    }
    Ok(())
}

/// The history as a JSON Lines string.
pub fn to_string(h: &History) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(h, &mut out);
    String::from_utf8(out).unwrap_or_default()
}
