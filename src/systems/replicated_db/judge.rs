//! Judging a finished replicated-database run.
//!
//! After the run, the compact observations become a [`History`] (client
//! operations) and [`Facts`] (roles, accepted writes, final states, the
//! authoritative copy per cluster), the checkers judge them, and the
//! figures an architect compares designs by are computed from the same
//! data: acknowledged writes missing from the surviving copy, seconds of
//! split brain, seconds without a successful write, failovers, write
//! latency.

use super::config::{DbConfig, Engine};
use super::{ClusterIx, DbNode, DbObs, Layout, OpKind, OpResult};
use crate::check::availability::{Availability, Requests};
use crate::check::facts::{Fact, Facts, Role, WriteRef};
use crate::check::linear::{Budget, Linearizable, Model, Options};
use crate::check::lost_writes::LostWrites;
use crate::check::session::StaleReads;
use crate::check::split_brain::SplitBrain;
use crate::check::{CheckInput, Suite, SuiteReport};
use crate::fault::FaultSchedule;
use crate::history::{EventType, History, KeyId, OpFn, OpValue, Completion, ValueId};
use crate::sim::{NodeId, Simulation};
use crate::stats::percentile;
use crate::systems::{Judgement, TimelineEntry};
use crate::time::SimTime;
use indexmap::IndexMap;
use std::sync::Arc;

/// What the observations say, read once in recording order.
struct Recorded {
    history: History,
    facts: Facts,
    timeline: Vec<TimelineEntry>,
    /// Per workload: (invoke time, ok) of writes, for unavailability.
    writes_by_workload: Vec<Vec<(u64, bool)>>,
    /// Acknowledged writes' latencies, ms.
    latencies: Vec<f64>,
    failovers: u64,
    /// Interned key per cluster and key index (`None`: never used).
    key_ids: Vec<Vec<Option<KeyId>>>,
}

/// Key names per cluster, made once each (shared by every fact naming
/// the key).
fn key_names(config: &DbConfig) -> Vec<Vec<Arc<str>>> {
    config
        .cluster
        .iter()
        .map(|c| {
            (0..c.keys)
                .map(|k| format!("{}/{k}", c.name).into())
                .collect()
        })
        .collect()
}

/// Turns a finished simulation into history, facts, findings and figures,
/// in named steps.
pub fn judge(sim: &Simulation<DbNode>, layout: &Layout, faults: &FaultSchedule) -> Judgement {
    let keys = key_names(&layout.config);
    let Recorded {
        history,
        mut facts,
        mut timeline,
        writes_by_workload,
        latencies,
        failovers,
        key_ids,
    } = read_observations(sim, layout, &keys);
    record_crashes(sim, layout, &mut facts);
    let authority = authoritative_copies(sim, layout);
    let interned = Ids {
        history: &history,
        key_ids: &key_ids,
    };
    record_final_states(
        sim, layout, &keys, &interned, &authority, faults, &mut facts,
    );
    let checks = suite(&layout.config, faults).run(&CheckInput::new(&history, &facts));
    let diverged_per_cluster = lost_per_cluster(sim, layout, &authority, &history, &mut timeline);
    timeline.sort_by_key(|e| e.time);
    let metrics = figures(Figures {
        sim,
        faults,
        history: &history,
        checks: &checks,
        diverged_per_cluster: &diverged_per_cluster,
        writes_by_workload: &writes_by_workload,
        latencies,
        failovers,
    });
    let notes = if diverged_per_cluster.is_empty() {
        Vec::new()
    } else {
        let per: Vec<String> = diverged_per_cluster
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        vec![format!(
            "acknowledged writes missing per cluster: {}",
            per.join(", ")
        )]
    };
    Judgement {
        history,
        facts,
        checks,
        metrics,
        timeline,
        series: IndexMap::new(),
        notes,
        tallies: Default::default(),
    }
}

/// Client operations become the history; nodes' role changes and accepted
/// writes become facts; notable moments the timeline.
fn read_observations(
    sim: &Simulation<DbNode>,
    layout: &Layout,
    key_names: &[Vec<Arc<str>>],
) -> Recorded {
    let mut r = Reader::new(layout, key_names);
    for o in sim.observations() {
        r.read(o.time, o.node, o.value);
    }
    r.recorded
}

/// Reads the observations one at a time into a [`Recorded`].
struct Reader<'a> {
    layout: &'a Layout,
    key_names: &'a [Vec<Arc<str>>],
    recorded: Recorded,
    /// Node and shard names shared by every per-write fact.
    shared_names: Vec<Arc<str>>,
    shared_shards: Vec<Arc<str>>,
    /// Per client node: its open operation, its incarnation (a new
    /// process after an indeterminate one), when it invoked, and the index
    /// of its pending write in `writes_by_workload`.
    open: Vec<Option<super::Op>>,
    incarnation: Vec<u64>,
    invoke_at: Vec<u64>,
    pending_write_ix: Vec<Option<usize>>,
    workload_of: Vec<Option<usize>>,
    first_promoted_write: IndexMap<ClusterIx, ()>,
    promoted: Vec<NodeId>,
}

impl<'a> Reader<'a> {
    fn new(layout: &'a Layout, key_names: &'a [Vec<Arc<str>>]) -> Self {
        let config = &layout.config;
        let n = layout.names.len();
        let mut workload_of: Vec<Option<usize>> = vec![None; n];
        for (w, ids) in layout.clients.iter().enumerate() {
            for id in ids {
                workload_of[id.index()] = Some(w);
            }
        }
        Self {
            layout,
            key_names,
            recorded: Recorded {
                history: History::new(),
                facts: Facts::new(),
                timeline: Vec::new(),
                writes_by_workload: vec![Vec::new(); layout.clients.len()],
                latencies: Vec::new(),
                failovers: 0,
                // Keys interned on first use (so in the order the old JSON
                // path gave).
                key_ids: key_names.iter().map(|ks| vec![None; ks.len()]).collect(),
            },
            shared_names: layout.names.iter().map(|n| Arc::from(n.as_str())).collect(),
            shared_shards: config
                .cluster
                .iter()
                .map(|c| Arc::from(c.name.as_str()))
                .collect(),
            open: vec![None; n],
            incarnation: vec![0; n],
            invoke_at: vec![0; n],
            pending_write_ix: vec![None; n],
            workload_of,
            first_promoted_write: IndexMap::new(),
            promoted: Vec::new(),
        }
    }

    fn shard(&self, c: ClusterIx) -> String {
        self.layout.config.cluster[c as usize].name.clone()
    }

    fn name(&self, node: NodeId) -> &'a str {
        &self.layout.names[node.index()]
    }

    fn key_id(&mut self, c: ClusterIx, k: u32) -> KeyId {
        let names = self.key_names;
        let h = &mut self.recorded.history;
        *self.recorded.key_ids[c as usize][k as usize]
            .get_or_insert_with(|| h.intern_key(&names[c as usize][k as usize]))
    }

    fn process(&self, node: NodeId) -> u64 {
        ((node.index() as u64) << 20) | self.incarnation[node.index()]
    }

    /// One observation.
    fn read(&mut self, time: SimTime, node: NodeId, obs: DbObs) {
        match obs {
            DbObs::Invoke { op } => self.invoke(time.as_nanos(), node, op),
            DbObs::Complete { result } => self.complete(time.as_nanos(), node, result),
            DbObs::Role {
                cluster,
                role,
                epoch,
            } => self.role(time, node, cluster, role, epoch),
            DbObs::Accepted {
                cluster,
                key,
                value,
            } => self.accepted(time, node, cluster, key, value),
            DbObs::Promotion { .. } => {
                self.recorded.failovers += 1;
                self.narrate(time, node, obs);
            }
            _ => self.narrate(time, node, obs),
        }
    }

    fn invoke(&mut self, t: u64, node: NodeId, op: super::Op) {
        let process = self.process(node);
        let key = self.key_id(op.cluster, op.key);
        let h = &mut self.recorded.history;
        let (f, value) = match op.kind {
            OpKind::Read => (OpFn::Read, None),
            OpKind::Write => (
                OpFn::Write,
                Some(OpValue::One(h.values_mut().intern_u64(op.value))),
            ),
        };
        h.push_interned(process, EventType::Invoke, f, Some(key), value, Some(t), 0)
            .expect("the model's clients invoke one operation at a time");
        let i = node.index();
        self.open[i] = Some(op);
        self.invoke_at[i] = t;
        if op.kind == OpKind::Write
            && let Some(w) = self.workload_of[i]
        {
            let writes = &mut self.recorded.writes_by_workload[w];
            self.pending_write_ix[i] = Some(writes.len());
            writes.push((t, false));
        }
    }

    fn complete(&mut self, t: u64, node: NodeId, result: OpResult) {
        let i = node.index();
        let Some(op) = self.open[i].take() else {
            return;
        };
        let process = self.process(node);
        let kind = match result {
            OpResult::Ok(_) => EventType::Ok,
            OpResult::Fail(_) | OpResult::NotLeader(_) => EventType::Fail,
            OpResult::Unknown(_) => EventType::Info,
        };
        let key = self.key_id(op.cluster, op.key);
        let h = &mut self.recorded.history;
        // A read's value only when it succeeded (`null`: the key was never
        // written); a write's is always its own.
        let value = match (result, op.kind) {
            (OpResult::Ok(v), OpKind::Read) => Some(OpValue::One(
                v.map_or(ValueId::NIL, |v| h.values_mut().intern_u64(v)),
            )),
            (_, OpKind::Read) => None,
            (_, OpKind::Write) => Some(OpValue::One(h.values_mut().intern_u64(op.value))),
        };
        let f = if op.kind == OpKind::Read {
            OpFn::Read
        } else {
            OpFn::Write
        };
        h.push_interned(process, kind, f, Some(key), value, Some(t), 0)
            .expect("the model's clients complete what they invoked");
        if kind == EventType::Info {
            // An indeterminate process never invokes again: the client
            // goes on under a new process id.
            self.incarnation[i] += 1;
        }
        if op.kind == OpKind::Write && kind == EventType::Ok {
            let r = &mut self.recorded;
            r.latencies.push((t - self.invoke_at[i]) as f64 / 1e6);
            if let (Some(w), Some(k)) = (self.workload_of[i], self.pending_write_ix[i]) {
                r.writes_by_workload[w][k].1 = true;
            }
        }
        self.pending_write_ix[i] = None;
    }

    fn role(&mut self, time: SimTime, node: NodeId, cluster: ClusterIx, role: Role, epoch: u64) {
        let t = time.as_nanos();
        let who = self.name(node);
        let shard = self.shard(cluster);
        if t > 0 {
            let line = format!("{who} is now {} of {shard} (epoch {epoch})", role.name());
            self.recorded.timeline.push(TimelineEntry::new(time, line));
        }
        self.recorded.facts.push(Fact::Role {
            time: t,
            node: who.to_string(),
            shard,
            role,
            epoch,
        });
        if self.layout.config.engine == Engine::Raft && role == Role::Primary && epoch > 1 {
            self.recorded.failovers += 1;
        }
        if role == Role::Primary && epoch > 1 {
            self.promoted.push(node);
        }
    }

    fn accepted(&mut self, time: SimTime, node: NodeId, cluster: ClusterIx, key: u32, value: u64) {
        let c = cluster as usize;
        let known = self.recorded.key_ids[c][key as usize];
        let write = write_ref(
            &self.recorded.history,
            known,
            &self.key_names[c][key as usize],
            value,
        );
        self.recorded.facts.push(Fact::Accepted {
            time: time.as_nanos(),
            node: Arc::clone(&self.shared_names[node.index()]),
            shard: Arc::clone(&self.shared_shards[c]),
            write,
        });
        if self.promoted.contains(&node) && !self.first_promoted_write.contains_key(&cluster) {
            self.first_promoted_write.insert(cluster, ());
            let line = format!(
                "first write acknowledged by the promoted primary {} of {}",
                self.name(node),
                self.shard(cluster)
            );
            self.recorded.timeline.push(TimelineEntry::new(time, line));
        }
    }

    /// The observations that are only told: the orchestrator's and Raft's
    /// decisions, replication's changes.
    fn narrate(&mut self, time: SimTime, node: NodeId, obs: DbObs) {
        let who = self.name(node);
        let name = |n: NodeId| self.name(n);
        let (line, routine) = match obs {
            DbObs::Leader { term } => (format!("{who} became leader (term {term})"), false),
            DbObs::SteppedDown { term } => (
                format!("{who} stepped down: no quorum (term {term})"),
                false,
            ),
            DbObs::DeadPrimary { primary, .. } => (
                format!(
                    "{who} declares {} dead: unreachable, and every reachable replica agrees",
                    name(primary)
                ),
                false,
            ),
            DbObs::RecoveryStarted {
                cluster,
                old,
                candidate,
            } => (
                format!(
                    "{who} starts recovery of {}: promote {} in place of {}",
                    self.shard(cluster),
                    name(candidate),
                    name(old)
                ),
                false,
            ),
            DbObs::RecoveryRefused { cluster, reason } => (
                format!("{who} does not recover {}: {reason}", self.shard(cluster)),
                false,
            ),
            DbObs::Promotion {
                cluster,
                primary,
                epoch,
            } => (
                format!(
                    "{who} publishes {} as primary of {} (epoch {epoch})",
                    name(primary),
                    self.shard(cluster)
                ),
                false,
            ),
            DbObs::Repointed { cluster, source } => (
                format!(
                    "{who} now replicates {} from {}",
                    self.shard(cluster),
                    name(source)
                ),
                true,
            ),
            DbObs::ReplicationBroken { cluster } => (
                format!("{who}: replication of {} broken", self.shard(cluster)),
                false,
            ),
            DbObs::Invoke { .. }
            | DbObs::Complete { .. }
            | DbObs::Role { .. }
            | DbObs::Accepted { .. } => return,
        };
        let entry = if routine {
            TimelineEntry::routine(time, line)
        } else {
            TimelineEntry::new(time, line)
        };
        self.recorded.timeline.push(entry);
    }
}

/// A write of `value` to a key, carrying its ids in `history` when both
/// are interned there (checkers then need no hashing to find it).
fn write_ref(history: &History, key: Option<KeyId>, name: &Arc<str>, value: u64) -> WriteRef {
    match (key, history.values().id_of_u64(value)) {
        (Some(k), Some(v)) => WriteRef::interned(history, Some((name, k)), v),
        _ => WriteRef::new(Some(name), serde_json::Value::from(value)),
    }
}

/// Crashed database nodes stop being anything until they restart.
fn record_crashes(sim: &Simulation<DbNode>, layout: &Layout, facts: &mut Facts) {
    let names = &layout.names;
    let shard = |c: ClusterIx| layout.config.cluster[c as usize].name.clone();
    for &(time, node) in sim.crashes() {
        for (c, list) in layout.servers.iter().enumerate() {
            if list.iter().any(|(s, _)| *s == node) {
                facts.push(Fact::Role {
                    time: time.as_nanos(),
                    node: names[node.index()].clone(),
                    shard: shard(c as ClusterIx),
                    role: Role::Down,
                    epoch: 0,
                });
            }
        }
    }
}

/// The authoritative copy of each cluster: the primary of the most recent
/// orchestrator state (MySQL), or the most advanced Raft server.
fn authoritative_copies(sim: &Simulation<DbNode>, layout: &Layout) -> Vec<Option<NodeId>> {
    let config = &layout.config;
    let mut authority: Vec<Option<NodeId>> = vec![None; layout.servers.len()];
    match config.engine {
        Engine::Mysql => {
            let best = layout
                .orchestrators
                .iter()
                .filter_map(|&id| match sim.node(id) {
                    DbNode::Orchestrator(o) => Some(o.state()),
                    _ => None,
                })
                .max_by_key(|s| s.version);
            if let Some(state) = best {
                for (c, v) in state.clusters.iter().enumerate() {
                    authority[c] = Some(v.primary);
                }
            }
        }
        Engine::Raft => {
            for (c, list) in layout.servers.iter().enumerate() {
                authority[c] = list
                    .iter()
                    .filter_map(|&(id, _)| match sim.node(id) {
                        DbNode::Raft(r) => Some((r.commit_index(), r.is_leader(), id)),
                        _ => None,
                    })
                    .max_by_key(|&(commit, leader, id)| (commit, leader, std::cmp::Reverse(id)))
                    .map(|(_, _, id)| id);
            }
        }
    }
    authority
}

/// The history's interning, for facts that carry ids.
struct Ids<'a> {
    history: &'a History,
    key_ids: &'a [Vec<Option<KeyId>>],
}

/// Final states of the authoritative copies, which copy is authoritative,
/// and when faults stopped.
fn record_final_states(
    sim: &Simulation<DbNode>,
    layout: &Layout,
    key_names: &[Vec<Arc<str>>],
    interned: &Ids<'_>,
    authority: &[Option<NodeId>],
    faults: &FaultSchedule,
    facts: &mut Facts,
) {
    let config = &layout.config;
    let names = &layout.names;
    let shard = |c: ClusterIx| config.cluster[c as usize].name.clone();
    // Final states: of the authoritative copies only. Every server's would
    // cost a list of every write per server per run, and no checker here
    // reads them (convergence would; it is not part of this suite).
    for (c, list) in layout.servers.iter().enumerate() {
        let cluster = c as ClusterIx;
        let write = |k: u32, v: u64| {
            write_ref(
                interned.history,
                interned.key_ids[c][k as usize],
                &key_names[c][k as usize],
                v,
            )
        };
        for &(id, _) in list.iter().filter(|(id, _)| authority[c] == Some(*id)) {
            let writes: Vec<WriteRef> = match sim.node(id) {
                DbNode::Mysql(m) => m.binlog().iter().map(|t| write(t.key, t.value)).collect(),
                DbNode::Raft(r) => r.committed_writes().map(|(k, v)| write(k, v)).collect(),
                _ => Vec::new(),
            };
            facts.push(Fact::Final {
                node: names[id.index()].clone(),
                shard: shard(cluster),
                writes,
            });
        }
        if let Some(a) = authority[c] {
            facts.push(Fact::Authority {
                node: names[a.index()].clone(),
                shard: shard(cluster),
            });
        }
    }
    if !faults.is_empty()
        && faults
            .faults()
            .iter()
            .all(|f| f.duration.is_some() || !f.fault.reversible())
    {
        facts.push(Fact::Healed {
            time: faults.end().as_nanos(),
        });
    }
}

/// The checks this design is held to.
fn suite(config: &DbConfig, faults: &FaultSchedule) -> Suite {
    let fault_at = faults.faults().first().map(|f| f.at.as_nanos());
    let mut suite = Suite::new()
        .with(LostWrites)
        .with(SplitBrain)
        .with(StaleReads {
            bound_ns: config.checks.stale_read_bound.as_nanos(),
        })
        .with(Availability {
            window_ns: config.checks.availability_window.as_nanos().max(1),
            requests: Requests::Writes,
            slo: None,
            fault_at,
        });
    if linearizable_by_design(config) {
        suite = suite.with(Linearizable {
            options: Options {
                model: Model::Kv,
                budget: Budget {
                    max_states: config.checks.max_states,
                    ..Budget::default()
                },
                witness: true,
                read_mapping: true,
                deadline: None,
            },
        });
    }
    suite
}

/// Acknowledged writes missing from each cluster's surviving copy, and a
/// timeline entry for the first of each cluster.
fn lost_per_cluster(
    sim: &Simulation<DbNode>,
    layout: &Layout,
    authority: &[Option<NodeId>],
    history: &History,
    timeline: &mut Vec<TimelineEntry>,
) -> IndexMap<String, usize> {
    let shard = |c: ClusterIx| layout.config.cluster[c as usize].name.clone();
    let mut diverged_per_cluster: IndexMap<String, usize> = IndexMap::new();
    let mut first_lost: Vec<Option<(u64, String)>> = vec![None; layout.servers.len()];
    // Each key's cluster, found once (key names are `cluster/k`).
    let cluster_of: Vec<Option<usize>> = (0..history.key_count())
        .map(|k| {
            let name = history.key_name(KeyId(k as u32));
            layout.config.cluster.iter().position(|c| {
                name.strip_prefix(c.name.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            })
        })
        .collect();
    let present: Vec<std::collections::BTreeSet<u64>> = authority
        .iter()
        .map(|a| {
            a.and_then(|a| match sim.node(a) {
                DbNode::Mysql(m) => Some(m.binlog().iter().map(|t| t.value).collect()),
                DbNode::Raft(r) => Some(r.committed_writes().map(|(_, v)| v).collect()),
                _ => None,
            })
            .unwrap_or_default()
        })
        .collect();
    let mut lost = vec![0usize; authority.len()];
    let values = history.values();
    for op in history.ops() {
        if op.outcome != Completion::Ok || op.f != OpFn::Write {
            continue;
        }
        let Some(k) = op.key else { continue };
        let Some(c) = cluster_of[k.0 as usize] else {
            continue;
        };
        let v: u64 = values.as_u64(op.value.first()).unwrap_or(0);
        if !present[c].contains(&v) {
            lost[c] += 1;
            let t = op.complete_time.unwrap_or(0);
            if first_lost[c].as_ref().is_none_or(|(ft, _)| t < *ft) {
                first_lost[c] = Some((t, history.key_name(k).to_string()));
            }
        }
    }
    for (c, n) in lost.into_iter().enumerate() {
        diverged_per_cluster.insert(shard(c as ClusterIx), n);
    }
    for (c, fl) in first_lost.iter().enumerate() {
        if let Some((t, key)) = fl {
            timeline.push(TimelineEntry::new(SimTime::from_nanos(*t), format!(
                    "first acknowledged write missing from the surviving copy of {} (key {key}); {} in all",
                    shard(c as ClusterIx),
                    diverged_per_cluster[c]
                )));
        }
    }
    diverged_per_cluster
}

/// What the figures are computed from.
struct Figures<'a> {
    sim: &'a Simulation<DbNode>,
    faults: &'a FaultSchedule,
    history: &'a History,
    checks: &'a SuiteReport,
    diverged_per_cluster: &'a IndexMap<String, usize>,
    writes_by_workload: &'a [Vec<(u64, bool)>],
    latencies: Vec<f64>,
    failovers: u64,
}

/// The figures an architect compares designs by.
fn figures(f: Figures<'_>) -> IndexMap<String, f64> {
    let Figures {
        sim,
        faults,
        history,
        checks,
        diverged_per_cluster,
        writes_by_workload,
        mut latencies,
        failovers,
    } = f;
    let mut metrics: IndexMap<String, f64> = IndexMap::new();
    let diverged = diverged_per_cluster.values().copied().max().unwrap_or(0);
    metrics.insert("diverged_acked_writes".into(), diverged as f64);
    metrics.insert(
        "lost_acked_writes_total".into(),
        diverged_per_cluster.values().sum::<usize>() as f64,
    );
    for (cluster, n) in diverged_per_cluster {
        metrics.insert(format!("diverged_acked_writes_{cluster}"), *n as f64);
    }
    let sb = checks.get("split-brain");
    let metric = |f: Option<&crate::check::Finding>, k: &str| {
        f.and_then(|f| f.metrics.get(k).copied()).unwrap_or(0.0)
    };
    metrics.insert(
        "split_brain_seconds".into(),
        metric(sb, "split_brain_seconds"),
    );
    metrics.insert(
        "dual_primary_seconds".into(),
        metric(sb, "dual_primary_seconds"),
    );
    // Per client group: an outage runs from the invocation of a failed
    // write that follows a successful one to the invocation of the next
    // successful write; the worst group's total is reported.
    let unavailable = writes_by_workload
        .iter()
        .map(|writes| {
            let mut writes = writes.clone();
            writes.sort_by_key(|&(t, _)| t);
            let mut total = 0u64;
            let mut down_since: Option<u64> = None;
            for &(t, ok) in &writes {
                match (ok, down_since) {
                    (false, None) => down_since = Some(t),
                    (true, Some(s)) => {
                        total += t - s;
                        down_since = None;
                    }
                    _ => {}
                }
            }
            total as f64 / 1e9
        })
        .fold(0.0, f64::max);
    metrics.insert("write_unavailable_seconds".into(), unavailable);
    metrics.insert("failovers".into(), failovers as f64);
    metrics.insert(
        "partition_seconds".into(),
        fault_seconds_in_effect(faults, sim.now()),
    );
    latencies.sort_unstable_by(f64::total_cmp);
    metrics.insert("write_latency_p50_ms".into(), percentile(&latencies, 0.5));
    metrics.insert("write_latency_p99_ms".into(), percentile(&latencies, 0.99));
    metrics.insert(
        "stale_reads".into(),
        metric(checks.get("stale-reads"), "violations"),
    );
    metrics.insert("operations".into(), history.ops().len() as f64);
    metrics
}

/// Seconds the schedule's timed faults were in effect before `end`: a
/// fault that never fired (the run stopped first) counts nothing, one cut
/// short by the end counts up to it.
fn fault_seconds_in_effect(faults: &FaultSchedule, end: SimTime) -> f64 {
    faults
        .faults()
        .iter()
        .filter_map(|f| {
            let d = f.duration?;
            (f.at <= end).then(|| d.min(end.saturating_since(f.at)).as_secs_f64())
        })
        .sum()
}

/// True if the design promises linearizable reads (Raft, or every client
/// reading from the primary); replica reads are judged by `stale-reads`
/// instead.
pub fn linearizable_by_design(config: &DbConfig) -> bool {
    config.engine == Engine::Raft
        || config
            .workload
            .iter()
            .all(|w| w.reads == super::ReadFrom::Primary || w.write_fraction >= 1.0)
}
