//! Histories: what the clients of a system saw.
//!
//! A history is the sequence of `invoke` / `ok` / `fail` / `info` events of
//! `docs/history-format.md` (Jepsen's model). Checkers judge histories and
//! nothing else of the simulation, so a history recorded from a real system
//! is judged exactly like one recorded from a simulated run.
//!
//! [`History`] stores *operations* (an invoke paired with its completion),
//! not raw events: pairing is where malformed input is caught (a completion
//! without invoke, two operations in flight on one process), and it is the
//! form every checker wants. Keys and values are interned to small integers
//! ([`KeyId`], [`ValueId`]) so that a million-operation history is a compact
//! array and a checker compares values by integer equality. The event order
//! is kept as each operation's invoke and completion *positions*, which is
//! all that real-time precedence needs.
//!
//! Reading and writing: [`jsonl`] (the interchange format) and [`edn`]
//! (Jepsen EDN import). [`synth`] generates histories that are linearizable
//! by construction, for tests and benchmarks.

pub mod edn;
pub mod jsonl;
pub mod synth;

use indexmap::IndexSet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// The formats a history file may be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON Lines, one event per line (the interchange format).
    Jsonl,
    /// Jepsen's EDN (a vector of maps, or one map per line).
    Edn,
}

impl Format {
    /// The format of `path`, by its extension: `.edn` is EDN, anything else
    /// JSON Lines.
    pub fn of(path: &Path) -> Format {
        if path.extension().is_some_and(|e| e == "edn") {
            Format::Edn
        } else {
            Format::Jsonl
        }
    }
}

/// Reads a whole file as UTF-8, refusing one larger than
/// [`HISTORY_BYTES_MAX`](crate::bounds::HISTORY_BYTES_MAX).
pub(crate) fn read_bounded(path: &Path, name: &str) -> Result<String, HistoryError> {
    use std::io::Read;
    let io = |source| HistoryError::Io {
        file: name.to_string(),
        source,
    };
    let max = crate::bounds::HISTORY_BYTES_MAX;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(HistoryError::Line {
            file: name.to_string(),
            line: 0,
            field: "file",
            message: format!("larger than {} GiB, the limit for a history", max >> 30),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        HistoryError::Line {
            file: name.to_string(),
            line: e.as_bytes()[..good].iter().filter(|&&b| b == b'\n').count() + 1,
            field: "file",
            message: "not UTF-8 text".into(),
        }
    })
}

/// Reads a history file in the format its name says ([`Format::of`]).
pub fn read_file(path: &Path) -> Result<History, HistoryError> {
    read_file_with(path, edn::Semantics::Observed)
}

/// [`read_file`], reading EDN files under `semantics` (JSON Lines has one
/// reading).
pub fn read_file_with(path: &Path, semantics: edn::Semantics) -> Result<History, HistoryError> {
    match Format::of(path) {
        Format::Edn => edn::read_file_with(path, semantics),
        Format::Jsonl => jsonl::read_file(path),
    }
}

/// [`read_file_with`], letting `look` stop a JSON Lines file early (see
/// [`jsonl::read_file_watched`]; EDN files are read whole).
pub fn read_file_watched(
    path: &Path,
    semantics: edn::Semantics,
    look: impl FnMut(&History, usize) -> bool,
) -> Result<(History, Option<usize>), HistoryError> {
    match Format::of(path) {
        Format::Edn => edn::read_file_with(path, semantics).map(|h| (h, None)),
        Format::Jsonl => jsonl::read_file_watched(path, look),
    }
}

/// Deterministic, fast hasher for interning (membership only: iteration
/// order of an `IndexSet` is insertion order whatever the hasher).
pub(crate) type FastHash = hashbrown::DefaultHashBuilder;

/// The kind of an event line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// An operation begins.
    Invoke,
    /// It took effect exactly once, with the result shown.
    Ok,
    /// It definitely took no effect (for `cas`: the compare failed).
    Fail,
    /// Indeterminate: it may or may not have taken effect.
    Info,
}

impl EventType {
    /// Parses the `type` field.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "invoke" => Self::Invoke,
            "ok" => Self::Ok,
            "fail" => Self::Fail,
            "info" => Self::Info,
            _ => return None,
        })
    }

    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoke => "invoke",
            Self::Ok => "ok",
            Self::Fail => "fail",
            Self::Info => "info",
        }
    }
}

/// The operation an event belongs to (`f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpFn {
    /// Read the object.
    Read,
    /// Overwrite it.
    Write,
    /// Compare-and-set: `[expected, new]`.
    Cas,
    /// Concatenate a string onto it.
    Append,
}

impl OpFn {
    /// Parses the `f` field.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "read" => Self::Read,
            "write" => Self::Write,
            "cas" => Self::Cas,
            "append" => Self::Append,
            _ => return None,
        })
    }

    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Cas => "cas",
            Self::Append => "append",
        }
    }
}

impl fmt::Display for OpFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Completion {
    /// Took effect exactly once.
    Ok,
    /// Took no effect (a failed `cas` also observed that the compare failed).
    Fail,
    /// Indeterminate: ended with `info`, or never completed in the file.
    Info,
}

/// An interned key (the object operated on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u32);

/// An interned JSON value. [`ValueId::NIL`] is `null` (absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

impl ValueId {
    /// `null`: the initial state of every object.
    pub const NIL: ValueId = ValueId(0);
}

/// The argument or result of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpValue {
    /// `read`: the value read (`NIL` for fail / info); `write`, `append`: the
    /// value written or appended.
    One(ValueId),
    /// `cas`: `[expected, new]`.
    Pair(ValueId, ValueId),
}

impl OpValue {
    /// The single value (`expected` for a cas).
    pub fn first(self) -> ValueId {
        match self {
            Self::One(v) | Self::Pair(v, _) => v,
        }
    }
}

/// One operation: an invoke and its completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The client that issued it.
    pub process: u64,
    /// What it did.
    pub f: OpFn,
    /// The object (`None`: the single register of a keyless history).
    pub key: Option<KeyId>,
    /// Its argument, or for an ok read the value read.
    pub value: OpValue,
    /// How it ended.
    pub outcome: Completion,
    /// Position of the invoke event in the history (0-based event index).
    pub invoke: u32,
    /// Position of the completion event; `None` if it never completed.
    pub complete: Option<u32>,
    /// Line of the invoke in the file it was read from (1-based; 0 if built in memory).
    pub invoke_line: u32,
    /// Line of the completion (0 if none).
    pub complete_line: u32,
    /// `time` of the invoke, in nanoseconds, if the history has times.
    pub invoke_time: Option<u64>,
    /// `time` of the completion.
    pub complete_time: Option<u64>,
}

impl Operation {
    /// True if `self` completed before `other` was invoked (real-time order).
    pub fn precedes(&self, other: &Operation) -> bool {
        matches!(self.complete, Some(c) if c < other.invoke)
    }

    /// True if the operation is indeterminate (`info` or never completed).
    pub fn is_info(&self) -> bool {
        self.outcome == Completion::Info
    }
}

/// One event, as a producer (a simulated client, a converter) hands it over.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The client.
    pub process: u64,
    /// Event kind.
    pub kind: EventType,
    /// The operation.
    pub f: OpFn,
    /// The object, if the history has keys.
    pub key: Option<String>,
    /// The value (see the format's table).
    pub value: serde_json::Value,
    /// Simulated or real time in nanoseconds.
    pub time: Option<u64>,
}

impl Event {
    /// An event with no key and no time.
    pub fn new(process: u64, kind: EventType, f: OpFn, value: serde_json::Value) -> Self {
        Self {
            process,
            kind,
            f,
            key: None,
            value,
            time: None,
        }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the time.
    pub fn at(mut self, time: u64) -> Self {
        self.time = Some(time);
        self
    }
}

/// Why an event could not be added to a history. The file readers add the
/// file and line ([`HistoryError`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct EventError {
    /// The field at fault (`type`, `f`, `key`, `value`, `process`, `time`).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl EventError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// A history file that cannot be read: names the file, line and field.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("{file}:{line}: {field}: {message}")]
    Line {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The field at fault (`json` for a line that is not valid JSON).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl HistoryError {
    /// The 1-based line at fault, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Io { .. } => None,
            Self::Line { line, .. } => Some(*line),
        }
    }

    /// The field at fault, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Io { .. } => None,
            Self::Line { field, .. } => Some(field),
        }
    }
}

/// Interned values by canonical JSON text (`serde_json`'s compact form with
/// sorted object keys), so equal JSON values get equal ids. An unsigned
/// integer is held as its number, not its digits: the values of simulated
/// workloads are interned, looked up and compared without formatting or
/// comparing text.
#[derive(Clone, Debug)]
pub struct Values {
    entries: IndexSet<Interned, FastHash>,
}

/// One interned value: an unsigned integer by number, anything else by its
/// canonical text (never the digits of an unsigned integer, so each value
/// has one form).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Interned {
    Int(u64),
    Text(Box<str>),
}

impl std::hash::Hash for Interned {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            Self::Int(n) => {
                state.write_u8(0);
                n.hash(state);
            }
            Self::Text(s) => TextKey(s).hash(state),
        }
    }
}

/// A text looked up without boxing it: hashes as [`Interned::Text`] does.
struct TextKey<'a>(&'a str);

impl std::hash::Hash for TextKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u8(1);
        self.0.hash(state);
    }
}

impl indexmap::Equivalent<Interned> for TextKey<'_> {
    fn equivalent(&self, key: &Interned) -> bool {
        matches!(key, Interned::Text(s) if **s == *self.0)
    }
}

/// The number a canonical text stands for, if it is an unsigned integer in
/// `u64` range.
fn canonical_u64(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() > 1 && b[0] == b'0' {
        return None;
    }
    text.parse().ok()
}

impl Default for Values {
    fn default() -> Self {
        let mut entries = IndexSet::with_hasher(FastHash::default());
        entries.insert(Interned::Text("null".into()));
        Self { entries }
    }
}

impl Values {
    /// Interns a JSON value.
    pub fn intern(&mut self, v: &serde_json::Value) -> ValueId {
        if v.is_null() {
            return ValueId::NIL;
        }
        if let Some(n) = v.as_u64() {
            return self.intern_u64(n);
        }
        self.intern_canonical(&v.to_string())
    }

    /// Interns raw JSON text, canonicalising it unless it is already in
    /// canonical form (null, a plain integer, a string without escapes).
    pub fn intern_raw(&mut self, raw: &str) -> Result<ValueId, serde_json::Error> {
        let raw = raw.trim();
        if raw == "null" {
            return Ok(ValueId::NIL);
        }
        if is_canonical_scalar(raw) {
            return Ok(self.intern_canonical(raw));
        }
        let v: serde_json::Value = serde_json::from_str(raw)?;
        Ok(self.intern(&v))
    }

    fn intern_canonical(&mut self, text: &str) -> ValueId {
        if let Some(n) = canonical_u64(text) {
            return self.intern_u64(n);
        }
        if let Some(i) = self.entries.get_index_of(&TextKey(text)) {
            return ValueId(i as u32);
        }
        let (i, _) = self.entries.insert_full(Interned::Text(text.into()));
        ValueId(i as u32)
    }

    /// Interns an unsigned integer (its decimal digits are its canonical
    /// text), without going through a JSON value.
    pub fn intern_u64(&mut self, n: u64) -> ValueId {
        let (i, _) = self.entries.insert_full(Interned::Int(n));
        ValueId(i as u32)
    }

    /// The id of an unsigned integer, if interned.
    pub fn id_of_u64(&self, n: u64) -> Option<ValueId> {
        self.entries
            .get_index_of(&Interned::Int(n))
            .map(|i| ValueId(i as u32))
    }

    /// The id of a value given by its canonical JSON text, if interned.
    pub fn id_of(&self, canonical: &str) -> Option<ValueId> {
        let i = match canonical_u64(canonical) {
            Some(n) => self.entries.get_index_of(&Interned::Int(n)),
            None => self.entries.get_index_of(&TextKey(canonical)),
        };
        i.map(|i| ValueId(i as u32))
    }

    /// The id of a JSON value, if interned; `buf` is scratch space for its
    /// canonical text, so a caller looking up many values allocates once.
    pub fn find(&self, v: &serde_json::Value, buf: &mut Vec<u8>) -> Option<ValueId> {
        if v.is_null() {
            return Some(ValueId::NIL);
        }
        if let Some(n) = v.as_u64() {
            return self.id_of_u64(n);
        }
        buf.clear();
        serde_json::to_writer(&mut *buf, v).ok()?;
        self.id_of(std::str::from_utf8(buf).ok()?)
    }

    /// True if `id` is the interned form of JSON value `v` (an unsigned
    /// integer or `null` is compared without text; anything else by its
    /// canonical text).
    pub fn is(&self, id: ValueId, v: &serde_json::Value) -> bool {
        if v.is_null() {
            return id == ValueId::NIL;
        }
        match (self.entries.get_index(id.0 as usize), v.as_u64()) {
            (Some(Interned::Int(n)), Some(m)) => *n == m,
            (Some(Interned::Int(_)), None) | (None, _) => false,
            (Some(Interned::Text(_)), Some(_)) => false,
            (Some(Interned::Text(s)), None) => canonical_text_is(v, s),
        }
    }

    /// The number a value is, if it is an unsigned integer.
    pub fn as_u64(&self, v: ValueId) -> Option<u64> {
        match self.entries.get_index(v.0 as usize) {
            Some(Interned::Int(n)) => Some(*n),
            _ => None,
        }
    }

    /// The canonical JSON text of a value.
    pub fn text(&self, v: ValueId) -> std::borrow::Cow<'_, str> {
        match self.entries.get_index(v.0 as usize) {
            Some(Interned::Text(s)) => std::borrow::Cow::Borrowed(s),
            _ => self.display(v).to_string().into(),
        }
    }

    /// The canonical JSON text of a value, to format without allocating
    /// (a writer of many integers pays no `String` per value).
    pub fn display(&self, v: ValueId) -> impl std::fmt::Display + '_ {
        struct Shown<'a>(Option<&'a Interned>);
        impl std::fmt::Display for Shown<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.0 {
                    Some(Interned::Int(n)) => write!(f, "{n}"),
                    Some(Interned::Text(s)) => f.write_str(s),
                    None => f.write_str("?"),
                }
            }
        }
        Shown(self.entries.get_index(v.0 as usize))
    }

    /// The value as JSON.
    pub fn json(&self, v: ValueId) -> serde_json::Value {
        match self.entries.get_index(v.0 as usize) {
            Some(Interned::Int(n)) => serde_json::Value::from(*n),
            _ => serde_json::from_str(&self.text(v)).unwrap_or(serde_json::Value::Null),
        }
    }

    /// The value as a string, if it is a JSON string.
    pub fn as_string(&self, v: ValueId) -> Option<String> {
        match self.json(v) {
            serde_json::Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Number of distinct values (including `null`).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: `null` is always present.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// True if `v`'s canonical text is `text`, compared as it is written
/// (nothing allocated).
fn canonical_text_is(v: &serde_json::Value, text: &str) -> bool {
    struct Compare<'a> {
        rest: &'a [u8],
        same: bool,
    }
    impl std::io::Write for Compare<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match self.rest.strip_prefix(buf) {
                Some(rest) if self.same => self.rest = rest,
                _ => self.same = false,
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Compare {
        rest: text.as_bytes(),
        same: true,
    };
    serde_json::to_writer(&mut c, v).is_ok() && c.same && c.rest.is_empty()
}

fn is_canonical_scalar(raw: &str) -> bool {
    let b = raw.as_bytes();
    if b.is_empty() {
        return false;
    }
    if b[0] == b'"' {
        return b.len() >= 2
            && b[b.len() - 1] == b'"'
            && b[1..b.len() - 1]
                .iter()
                .all(|&c| c != b'"' && c != b'\\' && (0x20..0x7f).contains(&c));
    }
    let digits = if b[0] == b'-' { &b[1..] } else { b };
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits[0] != b'0')
}

/// Per-process pairing state while events are added.
#[derive(Clone, Copy, Debug)]
enum ProcessState {
    /// The operation at this index is in flight.
    InFlight(u32),
    /// Retired by an `info` at this line: it issues nothing more.
    Retired(u32),
}

/// A history: operations in invoke order, with interned keys and values.
#[derive(Clone, Debug, Default)]
pub struct History {
    ops: Vec<Operation>,
    keys: IndexSet<Box<str>, FastHash>,
    values: Values,
    events: u32,
    processes: indexmap::IndexMap<u64, ProcessState, FastHash>,
    last_time: Option<u64>,
    /// Whether the events so far have keys (`None` before the first): a
    /// history has keys or is one register, never both.
    keyed: Option<bool>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a history from events in order (for tests and producers).
    pub fn from_events(
        events: impl IntoIterator<Item = Event>,
    ) -> Result<Self, (usize, EventError)> {
        let mut h = Self::new();
        for (i, e) in events.into_iter().enumerate() {
            h.push(&e).map_err(|err| (i, err))?;
        }
        Ok(h)
    }

    /// The operations, in invoke order.
    pub fn ops(&self) -> &[Operation] {
        &self.ops
    }

    /// Number of events added.
    pub fn event_count(&self) -> u32 {
        self.events
    }

    /// The interned values.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// The name of a key.
    pub fn key_name(&self, k: KeyId) -> &str {
        self.keys.get_index(k.0 as usize).map_or("?", |s| s)
    }

    /// The id of a key name, if it occurs.
    pub fn key_id(&self, name: &str) -> Option<KeyId> {
        self.keys.get_index_of(name).map(|i| KeyId(i as u32))
    }

    /// Number of distinct keys.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// True if every event carries a `time`.
    pub fn has_times(&self) -> bool {
        self.ops
            .iter()
            .all(|o| o.invoke_time.is_some() && (o.complete.is_none() || o.complete_time.is_some()))
    }

    /// Interns a key.
    pub fn intern_key(&mut self, name: &str) -> KeyId {
        if let Some(i) = self.keys.get_index_of(name) {
            return KeyId(i as u32);
        }
        KeyId(self.keys.insert_full(name.into()).0 as u32)
    }

    /// Interns a value.
    pub fn intern_value(&mut self, v: &serde_json::Value) -> ValueId {
        self.values.intern(v)
    }

    pub(crate) fn values_mut(&mut self) -> &mut Values {
        &mut self.values
    }

    /// Adds one event (values as JSON).
    pub fn push(&mut self, e: &Event) -> Result<(), EventError> {
        self.push_from_line(e, 0)
    }

    /// Adds one event read from `line` of a file (witnesses cite it).
    pub fn push_from_line(&mut self, e: &Event, line: u32) -> Result<(), EventError> {
        let key = e.key.as_deref().map(|k| self.intern_key(k));
        let value = self.op_value(e.kind, e.f, &e.value)?;
        self.push_interned(e.process, e.kind, e.f, key, value, e.time, line)
    }

    /// Converts an event's JSON value to its interned form, checking its shape.
    pub(crate) fn op_value(
        &mut self,
        kind: EventType,
        f: OpFn,
        value: &serde_json::Value,
    ) -> Result<Option<OpValue>, EventError> {
        use serde_json::Value as J;
        Ok(match (f, kind) {
            (OpFn::Read, EventType::Ok) => Some(OpValue::One(self.values.intern(value))),
            (OpFn::Read, _) => None,
            (OpFn::Cas, _) => match value {
                J::Array(a) if a.len() == 2 => Some(OpValue::Pair(
                    self.values.intern(&a[0]),
                    self.values.intern(&a[1]),
                )),
                J::Null if kind != EventType::Invoke => None,
                _ => {
                    return Err(EventError::new(
                        "value",
                        "a cas value must be [expected, new]",
                    ));
                }
            },
            (OpFn::Append, _) => match value {
                J::String(_) => Some(OpValue::One(self.values.intern(value))),
                J::Null if kind != EventType::Invoke => None,
                _ => return Err(EventError::new("value", "an append value must be a string")),
            },
            (OpFn::Write, _) => {
                if value.is_null() && kind != EventType::Invoke {
                    None
                } else {
                    Some(OpValue::One(self.values.intern(value)))
                }
            }
        })
    }

    /// Adds one event whose key and value are already interned. `value` is
    /// `None` where the event carries no value (a read invoke, or a
    /// completion that leaves it out). `line` is the source line (0: none).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_interned(
        &mut self,
        process: u64,
        kind: EventType,
        f: OpFn,
        key: Option<KeyId>,
        value: Option<OpValue>,
        time: Option<u64>,
        line: u32,
    ) -> Result<(), EventError> {
        match self.keyed {
            None => self.keyed = Some(key.is_some()),
            Some(keyed) if keyed != key.is_some() => {
                return Err(EventError::new(
                    "key",
                    if keyed {
                        "this event has no key, but earlier ones have keys: a history either has keys or is one register"
                    } else {
                        "this event has a key, but earlier ones have none: a history either has keys or is one register"
                    },
                ));
            }
            Some(_) => {}
        }
        if let Some(t) = time {
            if let Some(last) = self.last_time
                && t < last
            {
                return Err(EventError::new(
                    "time",
                    format!(
                        "{t} is earlier than the previous event's time {last}; time never decreases along a history"
                    ),
                ));
            }
            self.last_time = Some(t);
        }
        let position = self.events;
        match kind {
            EventType::Invoke => {
                match self.processes.get(&process) {
                    Some(ProcessState::InFlight(i)) => {
                        let o = &self.ops[*i as usize];
                        return Err(EventError::new(
                            "process",
                            format!(
                                "process {process} invokes a {f} while its {} invoked{} is still in flight; a process has at most one operation outstanding",
                                o.f,
                                at_line(o.invoke_line)
                            ),
                        ));
                    }
                    Some(ProcessState::Retired(l)) => {
                        return Err(EventError::new(
                            "process",
                            format!(
                                "process {process} was retired by its info{}; after an info a process issues nothing more",
                                at_line(*l)
                            ),
                        ));
                    }
                    None => {}
                }
                let value = match (f, value) {
                    (OpFn::Read, _) => OpValue::One(ValueId::NIL),
                    (_, Some(v)) => v,
                    (_, None) => {
                        return Err(EventError::new(
                            "value",
                            format!("a {f} invoke needs a value"),
                        ));
                    }
                };
                let index = self.ops.len() as u32;
                self.ops.push(Operation {
                    process,
                    f,
                    key,
                    value,
                    outcome: Completion::Info,
                    invoke: position,
                    complete: None,
                    invoke_line: line,
                    complete_line: 0,
                    invoke_time: time,
                    complete_time: None,
                });
                self.processes
                    .insert(process, ProcessState::InFlight(index));
            }
            _ => {
                let index = match self.processes.get(&process) {
                    Some(ProcessState::InFlight(i)) => *i,
                    _ => {
                        return Err(EventError::new(
                            "type",
                            format!(
                                "{} for process {process}, which has no operation in flight (completion without invoke)",
                                kind.as_str()
                            ),
                        ));
                    }
                };
                let op = &mut self.ops[index as usize];
                if op.f != f {
                    return Err(EventError::new(
                        "f",
                        format!(
                            "completion says {f} but process {process} invoked a {}{}",
                            op.f,
                            at_line(op.invoke_line)
                        ),
                    ));
                }
                if op.key != key {
                    return Err(EventError::new(
                        "key",
                        format!(
                            "completion's key differs from the invoke's{}",
                            at_line(op.invoke_line)
                        ),
                    ));
                }
                match (f, kind, value) {
                    (OpFn::Read, EventType::Ok, Some(v)) => op.value = v,
                    (OpFn::Read, EventType::Ok, None) => op.value = OpValue::One(ValueId::NIL),
                    (OpFn::Read, _, _) => {}
                    (_, _, Some(v)) if v != op.value => {
                        return Err(EventError::new(
                            "value",
                            format!(
                                "a {f} completion repeats the invoke's value, and this one differs from it{}",
                                at_line(op.invoke_line)
                            ),
                        ));
                    }
                    _ => {}
                }
                op.outcome = match kind {
                    EventType::Ok => Completion::Ok,
                    EventType::Fail => Completion::Fail,
                    _ => Completion::Info,
                };
                op.complete = Some(position);
                op.complete_line = line;
                op.complete_time = time;
                if kind == EventType::Info {
                    self.processes.insert(process, ProcessState::Retired(line));
                } else {
                    self.processes.swap_remove(&process);
                }
            }
        }
        self.events += 1;
        Ok(())
    }

    /// The events in order, rebuilt from the operations (for writers).
    pub fn events(&self) -> Vec<(usize, EventType)> {
        let mut out = vec![(usize::MAX, EventType::Invoke); self.events as usize];
        for (i, o) in self.ops.iter().enumerate() {
            out[o.invoke as usize] = (i, EventType::Invoke);
            if let Some(c) = o.complete {
                let kind = match o.outcome {
                    Completion::Ok => EventType::Ok,
                    Completion::Fail => EventType::Fail,
                    Completion::Info => EventType::Info,
                };
                out[c as usize] = (i, kind);
            }
        }
        out
    }

    /// The JSON value an event carries.
    pub fn event_value(&self, op: &Operation, kind: EventType) -> serde_json::Value {
        use serde_json::Value as J;
        match (op.f, kind, op.value) {
            (OpFn::Read, EventType::Ok, v) => self.values.json(v.first()),
            (OpFn::Read, _, _) => J::Null,
            (_, _, OpValue::Pair(a, b)) => J::Array(vec![self.values.json(a), self.values.json(b)]),
            (_, _, OpValue::One(v)) => self.values.json(v),
        }
    }

    /// Processes with an operation in flight at the end (indeterminate).
    pub fn pending(&self) -> impl Iterator<Item = &Operation> {
        self.ops.iter().filter(|o| o.complete.is_none())
    }
}

fn at_line(line: u32) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" at line {line}")
    }
}

/// A short human form of an operation: `p3 write 4`, `p1 read -> 2`.
pub fn describe(h: &History, op: &Operation) -> String {
    let v = h.values();
    let key = op
        .key
        .map(|k| format!(" [{}]", h.key_name(k)))
        .unwrap_or_default();
    let body = match (op.f, op.value) {
        (OpFn::Read, x) => match op.outcome {
            Completion::Ok => format!("read -> {}", v.text(x.first())),
            _ => "read".to_string(),
        },
        (f, OpValue::Pair(a, b)) => format!("{f} {} -> {}", v.text(a), v.text(b)),
        (f, OpValue::One(x)) => format!("{f} {}", v.text(x)),
    };
    let outcome = match op.outcome {
        Completion::Ok => "ok",
        Completion::Fail => "fail",
        Completion::Info if op.complete.is_some() => "info",
        Completion::Info => "pending",
    };
    format!("p{} {body}{key} ({outcome})", op.process)
}

#[cfg(test)]
mod tests {

    /// `Values::is` agrees with looking the value up, for every JSON shape
    /// (integers by number, anything else by canonical text).
    #[test]
    fn is_agrees_with_find() {
        let shapes = [
            serde_json::json!(null),
            serde_json::json!(0),
            serde_json::json!(17),
            serde_json::json!("17"),
            serde_json::json!(-3),
            serde_json::json!(1.5),
            serde_json::json!("x"),
            serde_json::json!("x\"y"),
            serde_json::json!([1, "a"]),
            serde_json::json!({"b": 1, "a": [2]}),
            serde_json::json!(u64::MAX),
        ];
        let mut values = Values::default();
        let ids: Vec<ValueId> = shapes.iter().map(|v| values.intern(v)).collect();
        let mut buf = Vec::new();
        for (a, v) in shapes.iter().enumerate() {
            assert_eq!(values.find(v, &mut buf), Some(ids[a]));
            for (b, id) in ids.iter().enumerate() {
                assert_eq!(values.is(*id, v), a == b, "{v} against {}", shapes[b]);
            }
        }
        assert!(!values.is(ValueId(999), &shapes[1]));
    }
    use super::*;

    /// The integer fast paths give the ids the JSON path gives, whichever
    /// comes first, and a lookup misses what was never interned.
    #[test]
    fn integer_fast_paths_agree_with_json_interning() {
        let mut v = Values::default();
        let a = v.intern(&serde_json::json!(17));
        assert_eq!(v.intern_u64(17), a);
        let b = v.intern_u64(0);
        assert_eq!(v.intern(&serde_json::json!(0)), b);
        let big = v.intern_u64(u64::MAX);
        assert_eq!(v.text(big), u64::MAX.to_string());
        let mut buf = Vec::new();
        assert_eq!(v.find(&serde_json::json!(17), &mut buf), Some(a));
        assert_eq!(v.find(&serde_json::json!(0), &mut buf), Some(b));
        assert_eq!(v.find(&serde_json::json!(18), &mut buf), None);
        assert_eq!(v.find(&serde_json::json!("17"), &mut buf), None);
        assert_eq!(
            v.find(&serde_json::Value::Null, &mut buf),
            Some(ValueId::NIL)
        );
        // Interned as text (as a history file does), found as a number.
        let c = v.intern_raw("42").unwrap();
        assert_eq!(v.find(&serde_json::json!(42), &mut buf), Some(c));
        assert_eq!(v.intern_u64(42), c);
        // Only unsigned integers in u64 range are held as numbers; the
        // string "17", a negative and a number past u64 stay text.
        let seventeen = v.intern_raw("\"17\"").unwrap();
        assert_ne!(seventeen, a);
        assert_eq!(v.text(seventeen), "\"17\"");
        let neg = v.intern(&serde_json::json!(-3));
        assert_eq!(v.text(neg), "-3");
        assert_eq!(v.as_u64(neg), None);
        let past = v.intern_raw("18446744073709551616").unwrap();
        assert_eq!(v.text(past), "18446744073709551616");
        assert_eq!(v.id_of("18446744073709551616"), Some(past));
        assert_eq!(v.id_of("42"), Some(c));
        assert_eq!(v.as_u64(c), Some(42));
        let s = v.intern(&serde_json::json!({"b": 1, "a": [2]}));
        assert_eq!(
            v.find(&serde_json::json!({"a": [2], "b": 1}), &mut buf),
            Some(s)
        );
    }
}
