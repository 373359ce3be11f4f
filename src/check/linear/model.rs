//! Sequential specifications, compiled to integer steps.
//!
//! A state is a `u32`: for registers the interned [`ValueId`] itself, so a
//! step is a couple of integer comparisons; for keys that see `append`, an
//! id in a per-key table of the strings reached so far (transitions are
//! memoised, so each concatenation is built once).

// Hash maps here: the interner and transition memo are looked up, never iterated, so their order cannot reach a verdict.
#![allow(clippy::disallowed_types)]

use crate::history::ValueId;

/// A state id that equals no value: "some value other than all of these",
/// used as the unknown start state of a sub-history.
pub(crate) const OTHER: u32 = u32::MAX - 1;

/// One operation as a state transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Step {
    /// An ok read of this state.
    Read(u32),
    /// A write (ok, or indeterminate and so optional).
    Write(u32),
    /// A successful cas: the state was `.0` and becomes `.1`.
    CasOk(u32, u32),
    /// A failed cas: the state was not `.0` (`.1` is what it would have
    /// set, for a cut of the history taken while it still ran).
    CasFail(u32, u32),
    /// An indeterminate cas: applies iff the compare holds.
    CasInfo(u32, u32),
    /// Concatenate the string with this id.
    Append(u32),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Local {
    Nil,
    Str(Box<str>),
    /// A value that is not a string (appending to it is not legal).
    Other(ValueId),
}

/// Strings reachable by appends on one key.
#[derive(Clone, Debug, Default)]
pub(crate) struct AppendStates {
    table: Vec<Local>,
    index: hashbrown::HashMap<Local, u32>,
    memo: hashbrown::HashMap<(u32, u32), Option<u32>>,
    /// Bytes held by the three, estimated (a search's budget counts them).
    bytes: u64,
}

impl AppendStates {
    pub fn new() -> Self {
        let mut s = Self::default();
        s.intern(Local::Nil);
        s
    }

    fn intern(&mut self, l: Local) -> u32 {
        if let Some(&i) = self.index.get(&l) {
            return i;
        }
        let i = self.table.len() as u32;
        // The string twice (table and index), each behind a 24-byte
        // entry, plus the index's slot and control byte.
        let text = match &l {
            Local::Str(x) => x.len() as u64,
            _ => 0,
        };
        self.bytes += 2 * (text + 24) + 9;
        self.table.push(l.clone());
        self.index.insert(l, i);
        i
    }

    /// Bytes held, estimated.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The local id of an interned value (`text` is its JSON string
    /// content, if it is a string).
    pub fn local(&mut self, v: ValueId, text: Option<String>) -> u32 {
        if v == ValueId::NIL {
            return 0;
        }
        match text {
            Some(s) => self.intern(Local::Str(s.into())),
            None => self.intern(Local::Other(v)),
        }
    }

    /// The JSON form of a local state, for witnesses: the text itself, or
    /// the interned value it stands for.
    pub fn describe(&self, s: u32) -> Result<String, ValueId> {
        match self.table.get(s as usize) {
            Some(Local::Nil) | None => Ok("null".into()),
            Some(Local::Str(x)) => Ok(serde_json::to_string(&**x).unwrap_or_default()),
            Some(Local::Other(v)) => Err(*v),
        }
    }

    /// The text of a state: `Some("")` for the absent value, `None` for a
    /// value that is not a string.
    pub fn text(&self, s: u32) -> Option<&str> {
        match self.table.get(s as usize)? {
            Local::Nil => Some(""),
            Local::Str(x) => Some(x),
            Local::Other(_) => None,
        }
    }

    /// True if state `a` can become state `b` by appends alone: `a` is
    /// absent, or a string `b` starts with.
    pub fn is_prefix(&self, a: u32, b: u32) -> bool {
        match (self.table.get(a as usize), self.table.get(b as usize)) {
            (Some(Local::Nil), _) => true,
            (Some(Local::Str(x)), Some(Local::Str(y))) => y.starts_with(&**x),
            _ => a == b,
        }
    }

    fn append(&mut self, state: u32, s: u32) -> Option<u32> {
        if let Some(&r) = self.memo.get(&(state, s)) {
            return r;
        }
        let suffix = match self.table.get(s as usize) {
            Some(Local::Str(x)) => x.clone(),
            _ => return None,
        };
        let r = match self.table.get(state as usize) {
            Some(Local::Nil) => Some(self.intern(Local::Str(suffix))),
            Some(Local::Str(x)) => {
                let joined = format!("{x}{suffix}");
                Some(self.intern(Local::Str(joined.into())))
            }
            _ => None,
        };
        self.memo.insert((state, s), r);
        self.bytes += 17;
        r
    }
}

/// The transition function of one key's object.
#[derive(Clone, Debug, Default)]
pub(crate) struct Kernel {
    pub appends: Option<AppendStates>,
}

impl Kernel {
    /// Bytes its tables hold, estimated.
    pub fn bytes(&self) -> u64 {
        self.appends.as_ref().map_or(0, AppendStates::bytes)
    }

    /// The state after `step` from `state`, or `None` if it is not legal.
    #[inline]
    pub fn apply(&mut self, state: u32, step: Step) -> Option<u32> {
        match step {
            Step::Read(v) => (state == v).then_some(state),
            Step::Write(v) => Some(v),
            Step::CasOk(a, b) => (state == a).then_some(b),
            Step::CasFail(a, _) => (state != a).then_some(state),
            Step::CasInfo(a, b) => Some(if state == a { b } else { state }),
            Step::Append(s) => self.appends.as_mut()?.append(state, s),
        }
    }
}
