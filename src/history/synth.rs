//! Histories that are linearizable by construction.
//!
//! Clients issue operations one at a time; each operation gets an invoke
//! time, a completion time and a *linearization point* strictly between the
//! two. The operations are applied to the true state in the order of their
//! linearization points, which decides what reads return and whether a cas
//! succeeds; so the generated history is linearizable, with exactly the
//! overlap the timing produces. Indeterminate operations (`info`, or never
//! completed) take effect or not at random, and their process is retired
//! as Jepsen does. Used by tests (the brute-force cross-check starts from
//! these), benchmarks and the `gen_history` example.

use super::{EventType, History, KeyId, OpFn, OpValue, ValueId};
use crate::rng::Seed;
use rand::RngExt;

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Operations in total.
    pub ops: usize,
    /// Number of keys; 0 makes a keyless single-register history.
    pub keys: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Values written are drawn from `0..values`; 0 writes unique values.
    pub values: u32,
    /// Fraction of reads.
    pub reads: f64,
    /// Fraction of cas operations.
    pub cas: f64,
    /// Fraction of appends (the rest are writes).
    pub appends: f64,
    /// Fraction of writes, cas and appends that are indeterminate.
    pub info: f64,
    /// Of the indeterminate ones, the fraction that never complete in the file.
    pub pending: f64,
    /// Fraction of writes that fail definitely (no effect).
    pub fail: f64,
    /// Mean operation latency, ns.
    pub latency_ns: u64,
    /// Mean pause between a client's operations, ns.
    pub think_ns: u64,
    /// Skewed key popularity: a few keys take most of the traffic.
    pub hot_keys: bool,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            ops: 100,
            keys: 0,
            clients: 5,
            values: 5,
            reads: 0.5,
            cas: 0.2,
            appends: 0.0,
            info: 0.05,
            pending: 0.3,
            fail: 0.02,
            latency_ns: 10_000_000,
            think_ns: 1_000_000,
            hot_keys: false,
        }
    }
}

impl Params {
    /// The hard shape (`gen_history --shape many-clients`): `clients`
    /// clients on `keys` keys, reads and writes of unique values, 3 %
    /// indeterminate, every operation overlapping dozens of others.
    pub fn many_clients(ops: usize, keys: usize, clients: usize) -> Self {
        Self {
            ops,
            keys,
            clients,
            values: 0,
            reads: 0.5,
            cas: 0.0,
            appends: 0.0,
            info: 0.03,
            pending: 0.2,
            fail: 0.01,
            latency_ns: 1_000_000,
            think_ns: 100_000,
            hot_keys: false,
        }
    }
}

struct Planned {
    process: u64,
    f: OpFn,
    key: Option<KeyId>,
    arg: OpValue,
    invoke: u64,
    lin: u64,
    complete: u64,
    kind: EventType,
    pending: bool,
    result: ValueId,
}

/// Generates a linearizable history from `seed`.
pub fn generate(p: &Params, seed: Seed) -> History {
    let mut rng = seed.stream("synth", "history");
    let mut h = History::new();
    let keys: Vec<KeyId> = (0..p.keys).map(|k| h.intern_key(&k.to_string())).collect();
    let mut value_ids: Vec<ValueId> = Vec::new();
    let mut next_unique = 0u64;
    let mut value = |h: &mut History, rng: &mut crate::rng::SimRng| -> ValueId {
        let n = if p.values == 0 {
            next_unique += 1;
            next_unique - 1
        } else {
            u64::from(rng.random_range(0..p.values))
        };
        if p.values > 0
            && let Some(&id) = value_ids.get(n as usize)
            && id != ValueId::NIL
        {
            return id;
        }
        let id = h
            .values_mut()
            .intern_raw(&n.to_string())
            .unwrap_or(ValueId::NIL);
        if p.values > 0 {
            value_ids.resize(n as usize + 1, ValueId::NIL);
            value_ids[n as usize] = id;
        }
        id
    };
    let mut appended = 0u64;
    let clients = p.clients.max(1);
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let mut clock: Vec<u64> = (0..clients)
        .map(|_| rng.random_range(0..p.think_ns.max(1)))
        .collect();
    let mut planned = Vec::with_capacity(p.ops);
    for _ in 0..p.ops {
        // The client whose next invoke is earliest goes next.
        let c = (0..clients).min_by_key(|&c| (clock[c], c)).unwrap_or(0);
        let invoke = clock[c];
        let latency = 2 + rng.random_range(0..p.latency_ns.max(1) * 2);
        let complete = invoke + latency;
        let lin = invoke + 1 + rng.random_range(0..latency - 1);
        let key = if keys.is_empty() {
            None
        } else if p.hot_keys {
            // Squared uniform: a few keys take most of the traffic.
            let u: f64 = rng.random();
            Some(keys[((u * u) * keys.len() as f64) as usize % keys.len()])
        } else {
            Some(keys[rng.random_range(0..keys.len())])
        };
        let roll: f64 = rng.random();
        let (f, arg) = if roll < p.reads {
            (OpFn::Read, OpValue::One(ValueId::NIL))
        } else if roll < p.reads + p.cas {
            let a = value(&mut h, &mut rng);
            let b = value(&mut h, &mut rng);
            (OpFn::Cas, OpValue::Pair(a, b))
        } else if roll < p.reads + p.cas + p.appends {
            appended += 1;
            let s = format!("\"x{}\"", appended);
            let id = h.values_mut().intern_raw(&s).unwrap_or(ValueId::NIL);
            (OpFn::Append, OpValue::One(id))
        } else {
            (OpFn::Write, OpValue::One(value(&mut h, &mut rng)))
        };
        let mut kind = EventType::Ok;
        let mut pending = false;
        if f != OpFn::Read && rng.random::<f64>() < p.info {
            kind = EventType::Info;
            pending = rng.random::<f64>() < p.pending;
        } else if f == OpFn::Write && rng.random::<f64>() < p.fail {
            kind = EventType::Fail;
        }
        planned.push(Planned {
            process: process[c],
            f,
            key,
            arg,
            invoke,
            lin,
            complete,
            kind,
            pending,
            result: ValueId::NIL,
        });
        clock[c] = complete + rng.random_range(0..p.think_ns.max(1) * 2);
        if kind == EventType::Info {
            process[c] = next_process;
            next_process += 1;
        }
    }
    // Apply in linearization order to the true state.
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| (planned[i].lin, i));
    let mut state: Vec<ValueId> = vec![ValueId::NIL; keys.len().max(1)];
    let mut texts: Vec<String> = vec![String::new(); keys.len().max(1)];
    for i in order {
        let op = &mut planned[i];
        let slot = op.key.map_or(0, |k| k.0 as usize);
        if op.kind == EventType::Fail {
            continue;
        }
        if op.kind == EventType::Info && rng.random::<bool>() {
            continue; // this indeterminate operation did not take effect
        }
        match (op.f, op.arg) {
            (OpFn::Read, _) => op.result = state[slot],
            (OpFn::Write, OpValue::One(v)) => {
                state[slot] = v;
                texts[slot] = h.values().as_string(v).unwrap_or_default();
            }
            (OpFn::Cas, OpValue::Pair(a, b)) => {
                if state[slot] == a {
                    state[slot] = b;
                    texts[slot] = h.values().as_string(b).unwrap_or_default();
                } else if op.kind == EventType::Ok {
                    op.kind = EventType::Fail;
                }
            }
            (OpFn::Append, OpValue::One(v)) => {
                if state[slot] == ValueId::NIL || h.values().as_string(state[slot]).is_some() {
                    texts[slot].push_str(&h.values().as_string(v).unwrap_or_default());
                    let json = serde_json::Value::String(texts[slot].clone());
                    state[slot] = h.intern_value(&json);
                } else if op.kind == EventType::Ok {
                    op.kind = EventType::Fail;
                }
            }
            _ => {}
        }
    }
    // Emit events in time order; completions before invokes at equal times.
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(planned.len() * 2);
    for (i, op) in planned.iter().enumerate() {
        events.push((op.invoke, 1, i));
        if !op.pending {
            events.push((op.complete, 0, i));
        }
    }
    events.sort_unstable();
    for (time, is_invoke, i) in events {
        let op = &planned[i];
        let (kind, value) = if is_invoke == 1 {
            (EventType::Invoke, Some(op.arg))
        } else if op.f == OpFn::Read {
            (op.kind, Some(OpValue::One(op.result)))
        } else {
            (op.kind, Some(op.arg))
        };
        let pushed = h.push_interned(op.process, kind, op.f, op.key, value, Some(time), 0);
        debug_assert!(pushed.is_ok(), "synth produced a malformed history");
    }
    h
}

/// A change that makes a generated history invalid, for benchmarks and
/// corpora of invalid histories (applied to its JSON Lines text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// The last ok read returns a value nothing wrote.
    NeverWritten,
    /// The last ok read of a key returns an old value of that key (its
    /// first write, or for an append key its first non-empty read): a
    /// stale read, which only the real-time order exposes.
    Stale,
}

/// `text` (JSON Lines) with `how` applied; `None` if the history has no
/// ok read to change (or, for `Stale`, no older value of that key).
pub fn corrupt(text: &str, how: Corruption) -> Option<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect();
    let is = |e: &serde_json::Value, kind: &str, f: &str| e["type"] == kind && e["f"] == f;
    let (i, read) = parsed
        .iter()
        .enumerate()
        .rev()
        .find(|(_, e)| is(e, "ok", "read") && !e["value"].is_null())?;
    let key = read["key"].clone();
    let new = match how {
        Corruption::NeverWritten => serde_json::Value::from("never-written"),
        Corruption::Stale => parsed.iter().find(|e| {
            e["key"] == key
                && e["value"] != read["value"]
                && !e["value"].is_null()
                && (is(e, "ok", "write") || (is(e, "ok", "read") && e["value"].is_string()))
        })?["value"]
            .clone(),
    };
    let mut e = read.clone();
    e["value"] = new;
    lines[i] = e.to_string();
    let mut out = lines.join("\n");
    out.push('\n');
    Some(out)
}
