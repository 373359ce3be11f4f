//! The search: Wing & Gong's backtracking over a linked list of call and
//! return entries, with Lowe's memoisation of (linearized set, state).
//!
//! Beyond the published algorithm, four reductions, each sound:
//! - **Completion.** The search succeeds as soon as every determinate
//!   operation is linearized: the indeterminate ones left over can all go at
//!   the end (a write or append is always legal, an indeterminate cas applies
//!   iff its compare holds), which is the same as leaving them out.
//! - **Indeterminate operations last.** They never return, so they are not
//!   in the list; they are tried only after the determinate candidates of a
//!   level, i.e. just in time for the read that needs them.
//! - **State-preserving operations first.** An ok read or a failed cas that
//!   is legal now and is a candidate can be linearized now without loss: it
//!   does not change the state, and any linearization that places it later
//!   can move it here. Such a step is *forced*: if what follows fails, the
//!   whole level fails, so no sibling is tried.
//! - **Identical indeterminate operations in invoke order.** Two pending
//!   indeterminate operations with the same function and arguments are
//!   interchangeable, and the earlier-invoked one is available wherever the
//!   later one is; so the later one is tried only once the earlier is taken.
//!
//! The memo table stores each configuration once: a 64-bit Zobrist hash of
//! the set (updated in O(1) per step) mixed with the state, and the set
//! itself in an arena as the words between the first word that is not all
//! ones and the last non-zero word, which is all that differs between
//! configurations of a long history.

// Hash maps here: the memo table and producer index are looked up, never iterated, so their order cannot reach a verdict.
#![allow(clippy::disallowed_types)]

use super::meter::{Held, Limit, Meter};
use super::model::{Kernel, Step};
use hashbrown::HashTable;

const NIL: u32 = u32::MAX;

/// One operation as the search sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SOp {
    pub step: Step,
    /// Event position of the invoke.
    pub call: u32,
    /// Event position of the completion (`u32::MAX` for indeterminate).
    pub ret: u32,
}

impl SOp {
    pub fn is_info(&self) -> bool {
        self.ret == NIL
    }
}

/// Limits of one search (bytes and time are the [`Meter`]'s).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_states: u64,
}

/// How a search ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Completion {
    Linearizable,
    NotLinearizable,
    /// Out of budget, with the number of states stored and the limit hit.
    Exhausted(u64, Limit),
}

/// What the search saw at its deepest point (for witnesses).
#[derive(Clone, Debug, Default)]
pub(crate) struct Deepest {
    /// Operations (indices into the search's op list) in linearization order,
    /// with the state after each.
    pub prefix: Vec<(u32, u32)>,
    /// The earliest-returning operation not linearized at that point.
    pub blocked: Option<u32>,
    /// Keep the deepest configuration of the whole run (set before the
    /// run): copied as the stack grows past its deepest, each entry at
    /// most once per push, so it costs no more than the search.
    pub track: bool,
}

/// The deepest stack of a tracked run: `ops[..common]` is still the
/// bottom of the live stack.
#[derive(Default)]
struct Tracker {
    ops: Vec<u32>,
    common: usize,
    depth: Option<u32>,
    blocked: Option<u32>,
}

#[derive(Clone, Copy)]
enum Cursor {
    Main(u32),
    Info { k: u32, limit: u32 },
}

#[derive(Clone, Copy)]
struct Frame {
    op: u32,
    state: u32,
    resume: Cursor,
    forced: bool,
}

#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    state: u32,
    lo: u32,
    off: u32,
    len: u32,
}

/// Statistics of a search.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub states: u64,
    pub max_depth: u32,
}

pub(crate) struct Search<'a> {
    ops: &'a [SOp],
    /// Determinate ops are `0..det`, indeterminate `det..`, sorted by call.
    det: u32,
    kernel: &'a mut Kernel,
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Event position of each list entry (2i call, 2i+1 return).
    pos: Vec<u32>,
    /// For each indeterminate op, the previous identical one (or NIL).
    prev_same: Vec<u32>,
    /// Bit of each operation in the set: operations ranked by invoke, so
    /// the set is dense behind the search's frontier and the stored window
    /// stays short.
    bit_of: Vec<u32>,
    /// For register keys: value → operations that can set the object to it.
    /// For append keys: read value → operations that can set the object to
    /// a prefix of it (appends can then reach it).
    producers: hashbrown::HashMap<u32, Vec<u32>>,
    bits: Vec<u64>,
    lo: u32,
    hi: u32,
    zobrist_hash: u64,
    table: HashTable<Slot>,
    arena: Vec<u64>,
    limits: Limits,
    /// Bytes charged to the check's meter: the working lists, the memo
    /// table, its arena and the model's tables.
    held: Held<'a>,
    /// Bytes of the working lists (charged when the run starts).
    lists: u64,
    /// Determinate operations linearized so far.
    lifted: u32,
    pub stats: Stats,
}

fn zobrist(i: u32) -> u64 {
    crate::rng::mix64(u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D)
}

fn state_hash(s: u32) -> u64 {
    crate::rng::mix64(u64::from(s) ^ 0xD1B5_4A32_D192_ED03)
}

impl<'a> Search<'a> {
    /// `ops`: determinate operations first (any order), then indeterminate
    /// ones sorted by call.
    pub fn new(ops: &'a [SOp], kernel: &'a mut Kernel, limits: Limits, meter: &'a Meter) -> Self {
        let det = ops.iter().take_while(|o| !o.is_info()).count() as u32;
        let head = 2 * det;
        let mut entries: Vec<(u32, u32)> = Vec::with_capacity(2 * det as usize);
        for (i, o) in ops[..det as usize].iter().enumerate() {
            entries.push((o.call, 2 * i as u32));
            entries.push((o.ret, 2 * i as u32 + 1));
        }
        entries.sort_unstable();
        let mut next = vec![NIL; head as usize + 1];
        let mut prev = vec![NIL; head as usize + 1];
        let mut pos = vec![0; head as usize];
        let mut last = head;
        for &(p, e) in &entries {
            pos[e as usize] = p;
            next[last as usize] = e;
            prev[e as usize] = last;
            last = e;
        }
        let info = &ops[det as usize..];
        let mut prev_same = vec![NIL; info.len()];
        let mut seen: hashbrown::HashMap<Step, u32> = hashbrown::HashMap::new();
        for (k, o) in info.iter().enumerate() {
            if let Some(p) = seen.insert(o.step, k as u32) {
                prev_same[k] = p;
            }
        }
        let words = ops.len().div_ceil(64).max(1);
        let mut by_call: Vec<u32> = (0..ops.len() as u32).collect();
        by_call.sort_by_key(|&i| (ops[i as usize].call, i));
        let mut producers: hashbrown::HashMap<u32, Vec<u32>> = hashbrown::HashMap::new();
        let setters = ops.iter().enumerate().filter_map(|(i, o)| match o.step {
            Step::Write(v) | Step::CasOk(_, v) | Step::CasInfo(_, v) => Some((i as u32, v)),
            _ => None,
        });
        match &kernel.appends {
            None => {
                for (i, v) in setters {
                    producers.entry(v).or_default().push(i);
                }
            }
            Some(a) => {
                // Per distinct read value, the setters of a prefix of it.
                let mut reads: Vec<u32> = ops
                    .iter()
                    .filter_map(|o| match o.step {
                        Step::Read(v) => Some(v),
                        _ => None,
                    })
                    .collect();
                reads.sort_unstable();
                reads.dedup();
                let setters: Vec<(u32, u32)> = setters.collect();
                for r in reads {
                    let bases: Vec<u32> = setters
                        .iter()
                        .filter(|&&(_, w)| a.is_prefix(w, r))
                        .map(|&(i, _)| i)
                        .collect();
                    producers.insert(r, bases);
                }
            }
        }
        let mut bit_of = vec![0u32; ops.len()];
        for (rank, &i) in by_call.iter().enumerate() {
            bit_of[i as usize] = rank as u32;
        }
        Self {
            ops,
            det,
            kernel,
            next,
            prev,
            pos,
            prev_same,
            bit_of,
            producers,
            bits: vec![0; words],
            lo: 0,
            hi: 0,
            zobrist_hash: 0,
            table: HashTable::new(),
            arena: Vec::new(),
            limits,
            held: Held::new(meter),
            // next, prev, pos, bit_of, prev_same, the set, the stack and
            // the producer lists: about 64 bytes per operation.
            lists: ops.len() as u64 * 64,
            lifted: 0,
            stats: Stats::default(),
        }
    }

    fn head(&self) -> u32 {
        2 * self.det
    }

    fn is_set(&self, op: u32) -> bool {
        let i = self.bit_of[op as usize];
        self.bits[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, op: u32) {
        let i = self.bit_of[op as usize];
        let w = (i / 64) as usize;
        self.bits[w] |= 1 << (i % 64);
        self.zobrist_hash ^= zobrist(i);
        if w as u32 + 1 > self.hi {
            self.hi = w as u32 + 1;
        }
        while (self.lo as usize) < self.bits.len() && self.bits[self.lo as usize] == u64::MAX {
            self.lo += 1;
        }
    }

    fn clear(&mut self, op: u32) {
        let i = self.bit_of[op as usize];
        let w = (i / 64) as usize;
        self.bits[w] &= !(1 << (i % 64));
        self.zobrist_hash ^= zobrist(i);
        if (w as u32) < self.lo {
            self.lo = w as u32;
        }
        while self.hi > 0 && self.bits[self.hi as usize - 1] == 0 {
            self.hi -= 1;
        }
    }

    /// Records the current configuration; false if it was seen before.
    fn remember(&mut self, state: u32) -> Result<bool, Limit> {
        let hash = self.zobrist_hash ^ state_hash(state);
        let lo = self.lo;
        let hi = self.hi.max(lo);
        let words = (hi - lo) as usize;
        let window = &self.bits[lo as usize..hi as usize];
        let arena = &self.arena;
        let found = self.table.find(hash, |s| {
            s.hash == hash
                && s.state == state
                && s.lo == lo
                && s.len as usize == window.len()
                && &arena[s.off as usize..(s.off + s.len) as usize] == window
        });
        if found.is_some() {
            return Ok(false);
        }
        self.stats.states += 1;
        if self.stats.states > self.limits.max_states {
            return Err(Limit::States);
        }
        if self.stats.states.is_multiple_of(4096) && self.held.meter().past_deadline() {
            return Err(Limit::Deadline);
        }
        // Offsets into the arena are u32: a search that would pass 2^32
        // words stops as over budget rather than wrap and alias an entry.
        let Ok(off) = u32::try_from(self.arena.len() + words).map(|end| end - words as u32) else {
            return Err(Limit::Memory);
        };
        self.make_room(words)?;
        let window = &self.bits[lo as usize..hi as usize];
        self.arena.extend_from_slice(window);
        let slot = Slot {
            hash,
            state,
            lo,
            off,
            len: words as u32,
        };
        self.table.insert_unique(hash, slot, |s| s.hash);
        Ok(true)
    }

    /// Bytes of a memo table of `capacity` entries: hashbrown keeps at
    /// most 7/8 of its buckets full, each a slot and a control byte.
    fn table_bytes(capacity: usize) -> u64 {
        (capacity as u64 * 8).div_ceil(7) * (std::mem::size_of::<Slot>() as u64 + 1)
    }

    /// Grows the memo table and arena, if one more entry of `words` needs
    /// it, within the meter: charged first (old and new tables are both
    /// held while it rehashes), allocated with `try_reserve`, so a refusal
    /// is an answer, not an abort.
    fn make_room(&mut self, words: usize) -> Result<(), Limit> {
        if self.table.len() == self.table.capacity() {
            let want = (self.table.capacity() * 2).max(1024);
            let new = Self::table_bytes(want);
            self.held.grow(new)?;
            let grown = self.table.try_reserve(want - self.table.len(), |s| s.hash);
            self.held.shrink(new);
            grown.map_err(|_| Limit::Memory)?;
        }
        if self.arena.len() + words > self.arena.capacity() {
            let want = (self.arena.capacity() * 2)
                .max(self.arena.len() + words)
                .max(4096);
            let new = want as u64 * 8;
            self.held.grow(new)?;
            let grown = self.arena.try_reserve_exact(want - self.arena.len());
            self.held.shrink(new);
            grown.map_err(|_| Limit::Memory)?;
        }
        let total = self.lists
            + Self::table_bytes(self.table.capacity())
            + self.arena.capacity() as u64 * 8
            + self.kernel.bytes();
        self.held.set(total)
    }

    fn lift(&mut self, op: u32) {
        for e in [2 * op, 2 * op + 1] {
            let (p, n) = (self.prev[e as usize], self.next[e as usize]);
            self.next[p as usize] = n;
            if n != NIL {
                self.prev[n as usize] = p;
            }
        }
    }

    fn unlift(&mut self, op: u32) {
        for e in [2 * op + 1, 2 * op] {
            let (p, n) = (self.prev[e as usize], self.next[e as usize]);
            self.next[p as usize] = e;
            if n != NIL {
                self.prev[n as usize] = e;
            }
        }
    }

    /// True if read `op` of `v` can never become legal from here: the state
    /// is not `v` and nothing left that may precede the read's return sets
    /// it (on append keys: the state is not a prefix of `v`, which appends
    /// only extend, and nothing left sets a prefix of it).
    fn read_is_hopeless(&self, op: u32, v: u32, state: u32) -> bool {
        if state == v {
            return false;
        }
        if let Some(a) = &self.kernel.appends
            && a.is_prefix(state, v)
        {
            return false;
        }
        let ret = self.ops[op as usize].ret;
        !self.producers.get(&v).is_some_and(|ps| {
            ps.iter()
                .any(|&p| !self.is_set(p) && self.ops[p as usize].call < ret)
        })
    }

    /// True if one of the next 16 pending reads (by call, not only the
    /// candidates), among the next 64 entries of the list, is hopeless from
    /// `state`. Any subset is sound to check: a hopeless read fails every
    /// order. Both bounds keep the check constant-time per configuration.
    fn pending_read_is_hopeless(&self, state: u32) -> bool {
        const READS: usize = 16;
        const ENTRIES: usize = 64;
        let mut e = self.next[self.head() as usize];
        let (mut seen, mut walked) = (0, 0);
        while e != NIL && seen < READS && walked < ENTRIES {
            walked += 1;
            if e.is_multiple_of(2) {
                let op = e / 2;
                if let Step::Read(v) = self.ops[op as usize].step {
                    seen += 1;
                    if self.read_is_hopeless(op, v, state) {
                        return true;
                    }
                }
            }
            e = self.next[e as usize];
        }
        false
    }

    fn is_forced_kind(step: Step) -> bool {
        matches!(step, Step::Read(_) | Step::CasFail(..))
    }

    /// Tries to take `op` (a candidate) from `state`: on a new configuration
    /// pushes a frame and returns the new state.
    fn take(
        &mut self,
        op: u32,
        state: u32,
        resume: Cursor,
        forced: bool,
        stack: &mut Vec<Frame>,
    ) -> Result<Option<u32>, Limit> {
        let Some(next_state) = self.kernel.apply(state, self.ops[op as usize].step) else {
            return Ok(None);
        };
        self.set(op);
        if self.remember(next_state)? {
            stack.push(Frame {
                op,
                state,
                resume,
                forced,
            });
            if op < self.det {
                self.lift(op);
                self.lifted += 1;
            }
            Ok(Some(next_state))
        } else {
            self.clear(op);
            Ok(None)
        }
    }

    /// Runs the search from `initial`. With `record_depth`, the first
    /// configuration reached at that depth is copied into `deepest`.
    pub fn run(
        &mut self,
        initial: u32,
        record_depth: Option<u32>,
        deepest: &mut Deepest,
    ) -> Completion {
        let mut tracker = Tracker::default();
        let outcome = self.run_inner(initial, record_depth, deepest, &mut tracker);
        if deepest.track {
            let mut s = initial;
            deepest.prefix.clear();
            for &op in &tracker.ops {
                s = self
                    .kernel
                    .apply(s, self.ops[op as usize].step)
                    .unwrap_or(s);
                deepest.prefix.push((op, s));
            }
            deepest.blocked = tracker.blocked;
        }
        outcome
    }

    /// The earliest-returning operation not linearized now.
    fn blocked_now(&self) -> Option<u32> {
        let mut e = self.next[self.head() as usize];
        while e != NIL && e.is_multiple_of(2) {
            e = self.next[e as usize];
        }
        (e != NIL).then_some(e / 2)
    }

    fn run_inner(
        &mut self,
        initial: u32,
        record_depth: Option<u32>,
        deepest: &mut Deepest,
        tracker: &mut Tracker,
    ) -> Completion {
        let track = deepest.track;
        let det = self.det;
        let head = self.head();
        let info = self.ops.len() as u32 - det;
        let mut state = initial;
        let mut stack: Vec<Frame> = Vec::new();
        let mut recorded = false;
        // `None`: a new configuration was just entered.
        let mut cursor: Option<Cursor> = None;
        let exhausted = |s: &Self, l: Limit| Completion::Exhausted(s.stats.states, l);
        if let Err(l) = self.held.grow(self.lists) {
            return exhausted(self, l);
        }
        // A read of a value nothing before its return can produce fails
        // every order: no search needed. The one returning first is the
        // operation to blame.
        let hopeless = (0..det)
            .filter(|&op| match self.ops[op as usize].step {
                Step::Read(v) => self.read_is_hopeless(op, v, initial),
                _ => false,
            })
            .min_by_key(|&op| self.ops[op as usize].ret);
        if let Some(op) = hopeless {
            if record_depth == Some(0) {
                self.record(initial, &stack, deepest);
                deepest.blocked = Some(op);
            }
            if track {
                tracker.depth = Some(0);
                tracker.blocked = Some(op);
            }
            return Completion::NotLinearizable;
        }
        loop {
            let mut walk = match cursor {
                Some(c) => Some(c),
                None => {
                    let depth = stack.len() as u32;
                    self.stats.max_depth = self.stats.max_depth.max(depth);
                    if !recorded && record_depth == Some(depth) {
                        recorded = true;
                        self.record(initial, &stack, deepest);
                    }
                    if track && tracker.depth.is_none_or(|d| depth > d) {
                        let common = tracker.common;
                        tracker.ops.truncate(common);
                        tracker.ops.extend(stack[common..].iter().map(|f| f.op));
                        tracker.common = stack.len();
                        tracker.depth = Some(depth);
                        tracker.blocked = self.blocked_now();
                    }
                    if self.lifted == det {
                        // The linearization found, whatever was deepest.
                        if track {
                            tracker.ops = stack.iter().map(|f| f.op).collect();
                            tracker.blocked = None;
                        }
                        return Completion::Linearizable;
                    }
                    // On append keys, a pending read a little further on
                    // that no order can satisfy any more fails this
                    // configuration now (candidates are checked below).
                    if self.kernel.appends.is_some() && self.pending_read_is_hopeless(state) {
                        cursor = Some(Cursor::Info { k: info, limit: 0 });
                        continue;
                    }
                    // Forced steps: a legal state-preserving candidate goes first.
                    let mut e = self.next[head as usize];
                    let mut walk = Some(Cursor::Main(e));
                    while e != NIL && e.is_multiple_of(2) {
                        let op = e / 2;
                        let step = self.ops[op as usize].step;
                        if let Step::Read(v) = step
                            && self.read_is_hopeless(op, v, state)
                        {
                            walk = None;
                            break;
                        }
                        if Self::is_forced_kind(step) && self.kernel.apply(state, step).is_some() {
                            match self.take(op, state, Cursor::Main(e), true, &mut stack) {
                                Err(l) => return exhausted(self, l),
                                Ok(Some(s)) => state = s,
                                // Seen before, so this configuration fails.
                                Ok(None) => walk = None,
                            }
                            break;
                        }
                        e = self.next[e as usize];
                    }
                    if walk.is_some() && stack.len() as u32 > depth {
                        cursor = None;
                        continue;
                    }
                    walk
                }
            };
            // Walk the candidates of this level from `walk`.
            let mut pushed = false;
            while let Some(c) = walk {
                match c {
                    Cursor::Main(e) if e != NIL && e.is_multiple_of(2) => {
                        let op = e / 2;
                        if !Self::is_forced_kind(self.ops[op as usize].step) {
                            match self.take(op, state, c, false, &mut stack) {
                                Err(l) => return exhausted(self, l),
                                Ok(Some(s)) => {
                                    state = s;
                                    pushed = true;
                                    break;
                                }
                                Ok(None) => {}
                            }
                        }
                        walk = Some(Cursor::Main(self.next[e as usize]));
                    }
                    Cursor::Main(e) => {
                        let limit = if e == NIL { NIL } else { self.pos[e as usize] };
                        walk = Some(Cursor::Info { k: 0, limit });
                    }
                    Cursor::Info { k, limit } => {
                        walk = None;
                        let mut k = k;
                        while k < info {
                            let op = det + k;
                            if self.ops[op as usize].call >= limit {
                                break;
                            }
                            let prev = self.prev_same[k as usize];
                            if !self.is_set(op) && (prev == NIL || self.is_set(det + prev)) {
                                match self.take(
                                    op,
                                    state,
                                    Cursor::Info { k, limit },
                                    false,
                                    &mut stack,
                                ) {
                                    Err(l) => return exhausted(self, l),
                                    Ok(Some(s)) => {
                                        state = s;
                                        pushed = true;
                                        break;
                                    }
                                    Ok(None) => {}
                                }
                            }
                            k += 1;
                        }
                        if pushed {
                            break;
                        }
                    }
                }
            }
            if pushed {
                cursor = None;
                continue;
            }
            // Backtrack: undo frames until one has siblings left to try.
            cursor = loop {
                let Some(frame) = stack.pop() else {
                    return Completion::NotLinearizable;
                };
                tracker.common = tracker.common.min(stack.len());
                self.clear(frame.op);
                if frame.op < det {
                    self.unlift(frame.op);
                    self.lifted -= 1;
                }
                state = frame.state;
                if !frame.forced {
                    break Some(match frame.resume {
                        Cursor::Main(e) => Cursor::Main(self.next[e as usize]),
                        Cursor::Info { k, limit } => Cursor::Info { k: k + 1, limit },
                    });
                }
            };
        }
    }

    fn record(&mut self, initial: u32, stack: &[Frame], deepest: &mut Deepest) {
        let mut s = initial;
        deepest.prefix.clear();
        for f in stack {
            s = self
                .kernel
                .apply(s, self.ops[f.op as usize].step)
                .unwrap_or(s);
            deepest.prefix.push((f.op, s));
        }
        deepest.blocked = self.blocked_now();
    }
}
