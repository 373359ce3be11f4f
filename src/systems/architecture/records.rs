//! What the stores recorded, as the checkers read it: the callers' writes
//! and reads become a [`History`] (one process per operation; a write
//! `ok` when acknowledged, `info` when the caller gave up, since a write
//! that timed out may still have been applied; a read `ok` with the value
//! the replica held, `fail` when unanswered); store replicas' role changes and
//! acknowledged writes become [`Facts`], with each replica's final log and
//! a `down` role at every crash. The surviving copy of each store is its
//! latest primary's (the checkers' default authority).

use super::config::ArchitectureConfig;
use super::store::MARKER;
use super::{ArchNode, ArchObs, Architecture};
use crate::check::facts::{Fact, Facts, Role, WriteRef};
use crate::history::{EventType, History, KeyId, OpFn, OpValue, ValueId};
use crate::systems::{Finished, TimelineEntry};
use std::sync::Arc;

/// The stores' history, facts and timeline.
pub struct StoreRecords {
    /// Callers' writes.
    pub history: History,
    /// Roles, acknowledged writes, final logs.
    pub facts: Facts,
    /// Failovers and role changes, for people.
    pub timeline: Vec<TimelineEntry>,
    /// Writes the callers saw acknowledged.
    pub acked: u64,
    /// Writes the callers gave up on.
    pub unacked: u64,
    /// Promotions made by detectors.
    pub failovers: u64,
    /// Reads the callers finished.
    pub reads: u64,
}

/// Per store service, its key names; per node, the store it belongs to.
struct Names {
    keys: Vec<Option<Vec<Arc<str>>>>,
    ids: Vec<Option<Vec<Option<KeyId>>>>,
    store_of: Vec<Option<usize>>,
    shards: Vec<Arc<str>>,
}

impl Names {
    fn key(&mut self, h: &mut History, store: usize, key: u32) -> Option<KeyId> {
        let names = self.keys[store].as_ref()?;
        let ids = self.ids[store].as_mut()?;
        let slot = ids.get_mut(key as usize)?;
        Some(*slot.get_or_insert_with(|| h.intern_key(&names[key as usize])))
    }
}

/// Reads the stores' observations; `None` when the architecture has no
/// store.
pub fn read(config: &ArchitectureConfig, run: &Finished<'_, Architecture>) -> Option<StoreRecords> {
    if config.services.iter().all(|s| s.store.is_none()) {
        return None;
    }
    let sim = run.sim;
    let node_names: Vec<Arc<str>> = sim.nodes().map(|(_, name, _)| Arc::from(name)).collect();
    let mut names = Names {
        keys: config
            .services
            .iter()
            .map(|s| {
                s.store
                    .as_ref()
                    .map(|k| (0..k.keys).map(|i| format!("{}/{i}", s.name).into()).collect())
            })
            .collect(),
        ids: config
            .services
            .iter()
            .map(|s| s.store.as_ref().map(|k| vec![None; k.keys as usize]))
            .collect(),
        store_of: vec![None; node_names.len()],
        shards: config.services.iter().map(|s| Arc::from(s.name.as_str())).collect(),
    };
    for (i, (s, ids)) in config.services.iter().zip(&run.layout.replicas).enumerate() {
        if s.store.is_some() {
            for id in ids.iter() {
                names.store_of[id.index()] = Some(i);
            }
        }
    }
    let mut r = StoreRecords {
        history: History::new(),
        facts: Facts::new(),
        timeline: Vec::new(),
        acked: 0,
        unacked: 0,
        failovers: 0,
        reads: 0,
    };
    // Write value → (store, key), for completions.
    let mut open: indexmap::IndexMap<u64, (usize, u32), crate::history::FastHash> = Default::default();
    for o in sim.observations() {
        let t = o.time.as_nanos();
        let who = &node_names[o.node.index()];
        match o.value {
            ArchObs::Invoke { store, key, value } => {
                let (store, k) = (store as usize, names.key(&mut r.history, store as usize, key));
                let v = OpValue::One(r.history.values_mut().intern_u64(value));
                r.history
                    .push_interned(value, EventType::Invoke, OpFn::Write, k, Some(v), Some(t), 0)
                    .expect("each write is its own process");
                open.insert(value, (store, key));
            }
            ArchObs::Done { value, ok } => {
                let Some((store, key)) = open.swap_remove(&value) else {
                    continue;
                };
                let k = names.key(&mut r.history, store, key);
                let v = OpValue::One(r.history.values_mut().intern_u64(value));
                let kind = if ok { EventType::Ok } else { EventType::Info };
                r.history
                    .push_interned(value, kind, OpFn::Write, k, Some(v), Some(t), 0)
                    .expect("a write completes once");
                if ok {
                    r.acked += 1;
                } else {
                    r.unacked += 1;
                }
            }
            ArchObs::ReadInvoke { store, key, id } => {
                let k = names.key(&mut r.history, store as usize, key);
                r.history
                    .push_interned(id, EventType::Invoke, OpFn::Read, k, None, Some(t), 0)
                    .expect("each read is its own process");
                open.insert(id, (store as usize, key));
            }
            ArchObs::ReadDone { id, value, ok } => {
                let Some((store, key)) = open.swap_remove(&id) else {
                    continue;
                };
                let k = names.key(&mut r.history, store, key);
                let (kind, v) = if ok {
                    let v = match value {
                        0 => ValueId::NIL,
                        v => r.history.values_mut().intern_u64(v),
                    };
                    (EventType::Ok, Some(OpValue::One(v)))
                } else {
                    (EventType::Fail, None)
                };
                r.history
                    .push_interned(id, kind, OpFn::Read, k, v, Some(t), 0)
                    .expect("a read completes once");
                r.reads += 1;
            }
            ArchObs::Role { role, epoch } => {
                let Some(store) = names.store_of[o.node.index()] else {
                    continue;
                };
                r.facts.push(Fact::Role {
                    time: t,
                    node: who.to_string(),
                    shard: names.shards[store].to_string(),
                    role,
                    epoch: u64::from(epoch),
                });
                if t > 0 {
                    let what = format!("{who} is now {} of {} (epoch {epoch})", role.name(), names.shards[store]);
                    r.timeline.push(TimelineEntry::new(o.time, what));
                }
            }
            ArchObs::Accepted { key, value } => {
                let Some(store) = names.store_of[o.node.index()] else {
                    continue;
                };
                let write = write_ref(&mut r.history, &mut names, store, key, value);
                r.facts.push(Fact::Accepted {
                    time: t,
                    node: who.clone(),
                    shard: names.shards[store].clone(),
                    write,
                });
            }
            ArchObs::Degraded => {
                let what = format!("{who}: no replica acknowledged in time, semi-sync falls back to asynchronous");
                r.timeline.push(TimelineEntry::new(o.time, what));
            }
            ArchObs::Declared { primary } => {
                let what = format!("{who} declares primary #{primary} failed");
                r.timeline.push(TimelineEntry::new(o.time, what));
            }
            ArchObs::Promoted { primary, epoch } => {
                r.failovers += 1;
                let what = format!("{who} promotes replica #{primary} (epoch {epoch})");
                r.timeline.push(TimelineEntry::new(o.time, what));
            }
            ArchObs::NoQuorum { reached } => {
                let what = format!("{who} reaches only {reached} replica(s): no majority, no promotion");
                r.timeline.push(TimelineEntry::new(o.time, what));
            }
        }
    }
    crashes_and_final_logs(run, &mut names, &mut r);
    Some(r)
}

fn write_ref(h: &mut History, names: &mut Names, store: usize, key: u32, value: u64) -> WriteRef {
    let name = names.keys[store].as_ref().and_then(|k| k.get(key as usize)).cloned();
    match (names.key(h, store, key), name) {
        (Some(k), Some(name)) => {
            let v = h.values_mut().intern_u64(value);
            WriteRef::interned(h, Some((&name, k)), v)
        }
        _ => WriteRef::new(None, serde_json::Value::from(value)),
    }
}

/// A `down` role at every crash of a store replica, and every replica's
/// final log.
fn crashes_and_final_logs(run: &Finished<'_, Architecture>, names: &mut Names, r: &mut StoreRecords) {
    let sim = run.sim;
    for &(time, node) in sim.crashes() {
        if let Some(store) = names.store_of[node.index()] {
            r.facts.push(Fact::Role {
                time: time.as_nanos(),
                node: sim.node_name(node).to_string(),
                shard: names.shards[store].to_string(),
                role: Role::Down,
                epoch: 0,
            });
        }
    }
    for (i, ids) in run.layout.replicas.iter().enumerate() {
        if names.keys[i].is_none() {
            continue;
        }
        for &id in ids.iter() {
            let ArchNode::Replica(rep) = sim.node(id) else { continue };
            let Some(store) = &rep.store else { continue };
            let writes = store
                .log
                .iter()
                .filter(|e| e.key != MARKER)
                .map(|e| write_ref(&mut r.history, names, i, e.key, e.value))
                .collect();
            r.facts.push(Fact::Final {
                node: sim.node_name(id).to_string(),
                shard: names.shards[i].to_string(),
                writes,
            });
        }
    }
}
