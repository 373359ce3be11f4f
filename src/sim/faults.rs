//! Faults in the kernel: a schedule compiled against the world's nodes,
//! links and groups (names to ids, selectors to sets), and each compiled
//! action applied and reverted at its time.

use super::*;

/// A fault compiled against the world: ids instead of names.
#[derive(Clone, Debug)]
pub(super) enum Action {
    InstallRule {
        entry: usize,
        name: Option<String>,
        pairs: Vec<(FixedBitSet, FixedBitSet)>,
        action: RuleAction,
    },
    RevertRule {
        entry: usize,
    },
    RemoveRules {
        name: Option<String>,
        action: RuleAction,
    },
    Cut(Vec<LinkId>),
    Restore(Vec<LinkId>),
    Degrade {
        link: LinkId,
        extra: SimDuration,
        loss: Probability,
    },
    Repair(LinkId),
    Crash {
        nodes: Vec<NodeId>,
        disk: Disk,
    },
    Restart(Vec<NodeId>),
    Pause(Vec<NodeId>),
    Resume(Vec<NodeId>),
    Skew {
        nodes: Vec<NodeId>,
        offset: i64,
    },
    Drift {
        nodes: Vec<NodeId>,
        ppm: f64,
    },
    Slow {
        nodes: Vec<NodeId>,
        delay: SimDuration,
    },
}

#[derive(Clone, Debug)]
pub(super) struct CompiledAction {
    pub(super) label: String,
    pub(super) action: Action,
    /// The schedule entry (index in the installed schedules).
    pub(super) entry: usize,
    /// The entry's own end (its `duration` ran out).
    pub(super) revert: bool,
}

/// What a fault holds while in force, so that a later action that undoes
/// it (its own end, a `heal`, a `restore_link`, a `restart`) is known to
/// end it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Hold {
    Rule(RuleId),
    Cut(LinkId),
    Degraded(LinkId),
    Crashed(NodeId),
    Paused(NodeId),
    Skewed(NodeId),
    Drifting(NodeId),
    Slowed(NodeId),
}

/// A fault as it was applied, for reports' timelines and for what each
/// fault did (see `run::effects`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultRecord {
    /// When it was applied.
    pub time: SimTime,
    /// What was done (`cut_link link="a-b"`, `revert: ...`).
    pub description: String,
    /// The schedule entry it belongs to (0-based, in schedule order).
    #[serde(skip)]
    pub entry: usize,
    /// True for the entry's own end (its duration ran out).
    #[serde(skip)]
    pub revert: bool,
    /// Entries whose effect this action ended (its own, for a revert; the
    /// partitions a `heal` removed; the crash a `restart` undid).
    #[serde(skip)]
    pub ends: Vec<usize>,
    /// Whether the entry holds something after this action (a partition,
    /// a cut, a crash...): false for actions that only undo (`heal`,
    /// `restore_link`, `restart`), which take no time.
    #[serde(skip)]
    pub holds: bool,
    /// Nodes this action stopped (crashed or paused; already stopped ones
    /// not counted).
    #[serde(skip)]
    pub stopped: u32,
    /// The network's counters just before it was applied.
    #[serde(skip)]
    pub net: NetStats,
    /// The nodes it acts on (node indices, sorted): the ends of a rule, the
    /// nodes at both ends of a cut or degraded link, the nodes it crashes,
    /// pauses, restarts, skews or slows.
    #[serde(skip)]
    pub nodes: Vec<u32>,
}

impl<N: Node> Kernel<N> {
    /// The nodes an action acts on (see [`FaultRecord::nodes`]).
    fn touched(&self, action: &Action) -> Vec<u32> {
        let at_ends = |links: &[LinkId]| {
            let topo = self.net.topology();
            links
                .iter()
                .flat_map(|&l| {
                    let link = topo.link(l);
                    [link.a, link.b]
                })
                .flat_map(|site| self.net.nodes_at(site).map(|n| n.0))
                .collect::<Vec<u32>>()
        };
        let mut out: Vec<u32> = match action {
            Action::InstallRule { pairs, .. } => pairs
                .iter()
                .flat_map(|(a, b)| a.ones().chain(b.ones()))
                .map(|i| i as u32)
                .collect(),
            Action::Cut(links) | Action::Restore(links) => at_ends(links),
            Action::Degrade { link, .. } | Action::Repair(link) => at_ends(&[*link]),
            Action::Crash { nodes, .. }
            | Action::Restart(nodes)
            | Action::Pause(nodes)
            | Action::Resume(nodes)
            | Action::Skew { nodes, .. }
            | Action::Drift { nodes, .. }
            | Action::Slow { nodes, .. } => nodes.iter().map(|n| n.0).collect(),
            Action::RevertRule { .. } | Action::RemoveRules { .. } => Vec::new(),
        };
        out.sort_unstable();
        out.dedup();
        out
    }

    pub(super) fn select(&self, selector: &str) -> Result<Vec<NodeId>, String> {
        let all = || (0..self.nodes.len() as u32).map(NodeId);
        let found: Vec<NodeId> = if selector == "*" {
            all().collect()
        } else if let Some(site) = selector.strip_prefix("site:") {
            let id = self
                .net
                .topology()
                .site_id(site)
                .map_err(|e| e.to_string())?;
            self.net.nodes_at(id).collect()
        } else if let Some(rest) = selector
            .strip_prefix("equipment:")
            .map(|e| (e, false))
            .or_else(|| selector.strip_prefix("hazard:").map(|h| (h, true)))
        {
            // Every node that sits in equipment the failure reaches.
            let (name, hazard) = rest;
            let t = self.net.topology();
            let failing = if hazard {
                t.hazard_id(name).map(|h| t.failing_with_hazard(h))
            } else {
                t.equipment_id(name).map(|e| t.failing_with_equipment(e))
            }
            .map_err(|e| e.to_string())?;
            all()
                .filter(|n| {
                    let site = self.net.site_of(*n);
                    !t.equipment_of(site, &self.nodes[n.index()].domain)
                        .is_disjoint(&failing)
                })
                .collect()
        } else if let Some(path) = selector.strip_prefix("domain:") {
            let path = path.trim_end_matches('/');
            all()
                .filter(|n| {
                    let d = &self.nodes[n.index()].domain;
                    d == path || d.starts_with(&format!("{path}/"))
                })
                .collect()
        } else {
            return self
                .node_id(selector)
                .map(|n| vec![n])
                .ok_or_else(|| format!("unknown node {selector:?}"));
        };
        if found.is_empty() {
            Err(format!("selector {selector:?} matches no node"))
        } else {
            Ok(found)
        }
    }

    pub(super) fn bitset(&self, nodes: &[NodeId]) -> FixedBitSet {
        let mut set = FixedBitSet::with_capacity(self.nodes.len());
        nodes.iter().for_each(|n| set.insert(n.index()));
        set
    }

    pub(super) fn select_all(
        &self,
        selectors: &[String],
        index: usize,
        field: &'static str,
    ) -> Result<Vec<NodeId>, ScheduleError> {
        let mut out = Vec::new();
        for s in selectors {
            let found = self.select(s).map_err(|reason| ScheduleError {
                index,
                field,
                reason,
            })?;
            out.extend(found);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Compiles schedule entry `index` into its apply and revert actions.
    pub(super) fn compile(
        &self,
        index: usize,
        fault: &Fault,
    ) -> Result<(Action, Option<Action>), ScheduleError> {
        let err = |field, reason: String| ScheduleError {
            index,
            field,
            reason,
        };
        let link = |l: &String| {
            self.net
                .topology()
                .link_id(l)
                .map_err(|e| err("link", e.to_string()))
        };
        let rule = |name: &Option<String>, pairs, action| Self::rule(index, name, pairs, action);
        let nodes = |target: &String| self.select(target).map_err(|r| err("target", r));
        let both_ways =
            |a: &FixedBitSet, b: &FixedBitSet| vec![(a.clone(), b.clone()), (b.clone(), a.clone())];
        let from_to = |from, to| -> Result<_, ScheduleError> {
            Ok(vec![(
                self.bitset(&self.select_all(from, index, "from")?),
                self.bitset(&self.select_all(to, index, "to")?),
            )])
        };
        Ok(match fault {
            Fault::Partition { name, groups } => {
                rule(name, self.partition(index, groups)?, RuleAction::Drop)
            }
            Fault::PartitionOneWay { name, from, to } => {
                rule(name, from_to(from, to)?, RuleAction::Drop)
            }
            Fault::PartitionBridge {
                name,
                left,
                bridge,
                right,
            } => {
                let l = self.bitset(&self.select_all(left, index, "left")?);
                self.select_all(bridge, index, "bridge")?;
                let r = self.bitset(&self.select_all(right, index, "right")?);
                rule(name, both_ways(&l, &r), RuleAction::Drop)
            }
            Fault::PartitionMajoritiesRing { name, nodes } => {
                let ring = self.select_all_ordered(nodes, index)?;
                rule(name, self.majorities_ring(&ring), RuleAction::Drop)
            }
            Fault::Isolate { name, target } => {
                let inside = self.bitset(&nodes(target)?);
                let mut outside = FixedBitSet::with_capacity(self.nodes.len());
                outside.insert_range(..);
                outside.difference_with(&inside);
                rule(name, both_ways(&inside, &outside), RuleAction::Drop)
            }
            Fault::Clog { name, from, to } => rule(name, from_to(from, to)?, RuleAction::Hold),
            Fault::Heal { name } => (Self::remove_rules(name, RuleAction::Drop), None),
            Fault::Unclog { name } => (Self::remove_rules(name, RuleAction::Hold), None),
            Fault::CutLink { link: l } => (
                Action::Cut(vec![link(l)?]),
                Some(Action::Restore(vec![link(l)?])),
            ),
            Fault::RestoreLink { link: l } => (Action::Restore(vec![link(l)?]), None),
            Fault::CutGroup { group } | Fault::RestoreGroup { group } => {
                let links = self
                    .net
                    .topology()
                    .group(group)
                    .map_err(|e| err("group", e.to_string()))?
                    .to_vec();
                if matches!(fault, Fault::CutGroup { .. }) {
                    (Action::Cut(links.clone()), Some(Action::Restore(links)))
                } else {
                    (Action::Restore(links), None)
                }
            }
            Fault::DegradeLink {
                link: l,
                extra_latency,
                loss,
            } => (
                Action::Degrade {
                    link: link(l)?,
                    extra: *extra_latency,
                    loss: *loss,
                },
                Some(Action::Repair(link(l)?)),
            ),
            Fault::RepairLink { link: l } => (Action::Repair(link(l)?), None),
            Fault::Crash { target, .. }
            | Fault::Restart { target }
            | Fault::Pause { target }
            | Fault::Resume { target }
            | Fault::SkewClock { target, .. }
            | Fault::DriftClock { target, .. }
            | Fault::SlowNode { target, .. } => Self::on_nodes(fault, nodes(target)?),
        })
    }

    /// A rule installed by entry `index` and removed when it reverts.
    fn rule(
        index: usize,
        name: &Option<String>,
        pairs: Vec<(FixedBitSet, FixedBitSet)>,
        action: RuleAction,
    ) -> (Action, Option<Action>) {
        (
            Action::InstallRule {
                entry: index,
                name: name.clone(),
                pairs,
                action,
            },
            Some(Action::RevertRule { entry: index }),
        )
    }

    fn remove_rules(name: &Option<String>, action: RuleAction) -> Action {
        Action::RemoveRules {
            name: name.clone(),
            action,
        }
    }

    /// Every ordered pair of distinct groups: no message crosses groups.
    fn partition(
        &self,
        index: usize,
        groups: &[Vec<String>],
    ) -> Result<Vec<(FixedBitSet, FixedBitSet)>, ScheduleError> {
        let sets = groups
            .iter()
            .map(|g| self.select_all(g, index, "groups").map(|n| self.bitset(&n)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut pairs = Vec::new();
        for (i, a) in sets.iter().enumerate() {
            for (j, b) in sets.iter().enumerate() {
                if i != j {
                    pairs.push((a.clone(), b.clone()));
                }
            }
        }
        Ok(pairs)
    }

    /// Each node of the ring sees only its nearest neighbours, so every
    /// node sees a majority but no two see the same one.
    fn majorities_ring(&self, ring: &[NodeId]) -> Vec<(FixedBitSet, FixedBitSet)> {
        let n = ring.len();
        let majority = n / 2 + 1;
        let reach = majority / 2; // ring distance each node still sees
        let mut pairs = Vec::new();
        for (i, node) in ring.iter().enumerate() {
            let mut unseen = FixedBitSet::with_capacity(self.nodes.len());
            for (j, other) in ring.iter().enumerate() {
                let d = i.abs_diff(j).min(n - i.abs_diff(j));
                if d > reach {
                    unseen.insert(other.index());
                }
            }
            pairs.push((self.bitset(&[*node]), unseen));
        }
        pairs
    }

    /// A node fault's apply and revert actions on `nodes`; [`Self::compile`]
    /// sends only the node faults here.
    fn on_nodes(fault: &Fault, nodes: Vec<NodeId>) -> (Action, Option<Action>) {
        match fault {
            Fault::Crash { disk, .. } => (
                Action::Crash {
                    nodes: nodes.clone(),
                    disk: *disk,
                },
                Some(Action::Restart(nodes)),
            ),
            Fault::Restart { .. } => (Action::Restart(nodes), None),
            Fault::Pause { .. } => (Action::Pause(nodes.clone()), Some(Action::Resume(nodes))),
            Fault::Resume { .. } => (Action::Resume(nodes), None),
            Fault::SkewClock { offset, .. } => (
                Action::Skew {
                    nodes: nodes.clone(),
                    offset: offset.as_nanos(),
                },
                Some(Action::Skew { nodes, offset: 0 }),
            ),
            Fault::DriftClock { ppm, .. } => (
                Action::Drift {
                    nodes: nodes.clone(),
                    ppm: *ppm,
                },
                Some(Action::Drift { nodes, ppm: 0.0 }),
            ),
            Fault::SlowNode { delay, .. } => (
                Action::Slow {
                    nodes: nodes.clone(),
                    delay: *delay,
                },
                Some(Action::Slow {
                    nodes,
                    delay: SimDuration::ZERO,
                }),
            ),
            _ => unreachable!("compile passes only node faults"),
        }
    }

    pub(super) fn select_all_ordered(
        &self,
        selectors: &[String],
        index: usize,
    ) -> Result<Vec<NodeId>, ScheduleError> {
        let mut out: Vec<NodeId> = Vec::new();
        for s in selectors {
            for n in self.select(s).map_err(|reason| ScheduleError {
                index,
                field: "nodes",
                reason,
            })? {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        if out.len() < 3 {
            return Err(ScheduleError {
                index,
                field: "nodes",
                reason: "a majorities ring needs at least three distinct nodes".into(),
            });
        }
        Ok(out)
    }
}

impl<N: Node> Simulation<N> {
    /// Compiles `schedule` against this simulation's nodes, links and groups
    /// and schedules it. Errors name the entry and field.
    pub fn install_faults(&mut self, schedule: &FaultSchedule) -> Result<(), SimError> {
        let k = &mut self.kernel;
        let base = k.entry_rules.len();
        let mut compiled = Vec::new();
        for (i, entry) in schedule.faults().iter().enumerate() {
            let (apply, revert) = k.compile(base + i, &entry.fault).map_err(|mut e| {
                e.index -= base;
                e
            })?;
            compiled.push((entry, apply, revert));
        }
        k.entry_rules.resize(base + schedule.len(), None);
        // Reverts are queued after every apply at the same instant is
        // queued... but ordering is by (time, insertion): schedule reverts
        // first in a separate pass so a revert at t precedes an apply at t.
        let mut timeline: Vec<(SimTime, u8, usize, CompiledAction)> = Vec::new();
        for (i, (entry, apply, revert)) in compiled.into_iter().enumerate() {
            let i = base + i;
            let label = entry.to_string();
            let label = label
                .split_once(' ')
                .map(|(_, rest)| rest.to_string())
                .unwrap_or(label);
            if let (Some(d), Some(revert)) = (entry.duration, revert) {
                timeline.push((
                    entry.at + d,
                    0,
                    i,
                    CompiledAction {
                        label: format!("end of: {label}"),
                        action: revert,
                        entry: i,
                        revert: true,
                    },
                ));
            }
            timeline.push((
                entry.at,
                1,
                i,
                CompiledAction {
                    label,
                    action: apply,
                    entry: i,
                    revert: false,
                },
            ));
        }
        timeline.sort_by_key(|(t, order, i, _)| (*t, *order, *i));
        k.holds_by.resize(base + schedule.len(), Vec::new());
        for (time, _, _, action) in timeline {
            let index = k.actions.len() as u32;
            k.actions.push(action);
            k.queue
                .push(time.as_nanos().max(k.now), Event::Fault { action: index });
        }
        Ok(())
    }

    pub(super) fn apply(&mut self, index: usize) {
        let CompiledAction {
            label,
            action,
            entry,
            revert,
        } = self.kernel.actions[index].clone();
        let k = &mut self.kernel;
        let ordinal = k.ordinal;
        let record = k.fault_log.len();
        k.fault_log.push(FaultRecord {
            time: SimTime::from_nanos(k.now),
            description: label.clone(),
            entry,
            revert,
            ends: Vec::new(),
            holds: false,
            stopped: 0,
            net: k.net.stats().clone(),
            nodes: k.touched(&action),
        });
        k.trace_push(TraceKind::Fault, None, None, label);
        let stopped_before = self.stopped_count();
        let (mut holds, mut released) = self.apply_action(action, ordinal);
        let stopped = self.stopped_count().saturating_sub(stopped_before);
        let k = &mut self.kernel;
        if revert {
            // An entry's own end releases whatever it still holds.
            holds.clear();
            released = k.holds_by[entry].clone();
        }
        let mut ends: Vec<usize> = Vec::new();
        for h in released {
            if let Some(owner) = k.holders.remove(&h) {
                k.holds_by[owner].retain(|x| *x != h);
                if !ends.contains(&owner) {
                    ends.push(owner);
                }
            }
        }
        if revert && !ends.contains(&entry) {
            ends.push(entry);
        }
        for h in holds {
            if let Some(prev) = k.holders.insert(h, entry)
                && prev != entry
            {
                // Replaced (a second degrade of the link, a new skew): the
                // earlier entry ends once it holds nothing else.
                k.holds_by[prev].retain(|x| *x != h);
                if k.holds_by[prev].is_empty() && !ends.contains(&prev) {
                    ends.push(prev);
                }
            }
            if !k.holds_by[entry].contains(&h) {
                k.holds_by[entry].push(h);
            }
        }
        ends.sort_unstable();
        let holds_now = !k.holds_by[entry].is_empty();
        let r = &mut k.fault_log[record];
        r.ends = ends;
        r.holds = holds_now;
        r.stopped = stopped as u32;
    }

    fn stopped_count(&self) -> usize {
        self.kernel
            .nodes
            .iter()
            .filter(|n| n.status != Status::Up)
            .count()
    }

    /// Applies one action; returns what it now holds and what it released.
    fn apply_action(&mut self, action: Action, ordinal: u64) -> (Vec<Hold>, Vec<Hold>) {
        let (mut holds, mut released) = (Vec::new(), Vec::new());
        let k = &mut self.kernel;
        match &action {
            Action::Cut(links) => holds.extend(links.iter().map(|l| Hold::Cut(*l))),
            Action::Restore(links) => released.extend(links.iter().map(|l| Hold::Cut(*l))),
            Action::Degrade { link, .. } => holds.push(Hold::Degraded(*link)),
            Action::Repair(link) => released.push(Hold::Degraded(*link)),
            Action::Crash { nodes, .. } => holds.extend(nodes.iter().map(|n| Hold::Crashed(*n))),
            Action::Restart(nodes) => released.extend(nodes.iter().map(|n| Hold::Crashed(*n))),
            Action::Pause(nodes) => holds.extend(nodes.iter().map(|n| Hold::Paused(*n))),
            Action::Resume(nodes) => released.extend(nodes.iter().map(|n| Hold::Paused(*n))),
            Action::Skew { nodes, .. } => holds.extend(nodes.iter().map(|n| Hold::Skewed(*n))),
            Action::Drift { nodes, .. } => holds.extend(nodes.iter().map(|n| Hold::Drifting(*n))),
            Action::Slow { nodes, .. } => holds.extend(nodes.iter().map(|n| Hold::Slowed(*n))),
            _ => {}
        }
        match action {
            Action::InstallRule {
                entry,
                name,
                pairs,
                action,
            } => {
                let id = k.net.install_rule(name, pairs, action, ordinal);
                k.entry_rules[entry] = Some(id);
                holds.push(Hold::Rule(id));
            }
            Action::RevertRule { entry } => {
                if let Some(id) = k.entry_rules[entry].take() {
                    released.push(Hold::Rule(id));
                    if let Some(rule) = k.net.remove_rule(id)
                        && rule.action == RuleAction::Hold
                    {
                        k.release_held(id);
                    }
                }
            }
            Action::RemoveRules { name, action } => {
                let ids: Vec<RuleId> = k
                    .net
                    .rules()
                    .iter()
                    .filter(|r| r.action == action && (name.is_none() || r.name == name))
                    .map(|r| r.id)
                    .collect();
                for id in ids {
                    released.push(Hold::Rule(id));
                    k.net.remove_rule(id);
                    if action == RuleAction::Hold {
                        k.release_held(id);
                    }
                    k.entry_rules
                        .iter_mut()
                        .filter(|r| **r == Some(id))
                        .for_each(|r| *r = None);
                }
            }
            Action::Cut(links) => links.iter().for_each(|l| k.net.cut_link(*l, ordinal)),
            Action::Restore(links) => links.iter().for_each(|l| k.net.restore_link(*l, ordinal)),
            Action::Degrade { link, extra, loss } => k.net.degrade_link(link, extra, loss, ordinal),
            Action::Repair(link) => k.net.repair_link(link, ordinal),
            Action::Crash { nodes, disk } => {
                for node in nodes {
                    self.crash(node, disk);
                }
            }
            Action::Restart(nodes) => {
                for node in nodes {
                    let k = &mut self.kernel;
                    if k.nodes[node.index()].status == Status::Crashed {
                        k.nodes[node.index()].status = Status::Up;
                        k.refresh_ready(node);
                        let mut ctx = Ctx {
                            kernel: k,
                            me: node,
                        };
                        self.nodes[node.index()].on_restart(&mut ctx);
                    }
                }
            }
            Action::Pause(nodes) => {
                for node in nodes {
                    let state = &mut k.nodes[node.index()];
                    if state.status == Status::Up {
                        state.status = Status::Paused;
                        k.ready[node.index()] = false;
                    }
                }
            }
            Action::Resume(nodes) => {
                for node in nodes {
                    let state = &mut self.kernel.nodes[node.index()];
                    if state.status == Status::Paused {
                        state.status = Status::Up;
                        self.kernel.refresh_ready(node);
                        self.schedule_wake(node);
                    }
                }
            }
            Action::Skew { nodes, offset } => {
                for node in nodes {
                    let clock = &mut k.nodes[node.index()].clock;
                    clock.base_true = k.now;
                    clock.base_local = (k.now as i64).saturating_add(offset);
                }
            }
            Action::Drift { nodes, ppm } => {
                for node in nodes {
                    let clock = &mut k.nodes[node.index()].clock;
                    clock.base_local = clock.local(k.now);
                    clock.base_true = k.now;
                    clock.ppm = ppm;
                }
            }
            Action::Slow { nodes, delay } => {
                for node in nodes {
                    k.nodes[node.index()].slow_ns = delay.as_nanos();
                    k.refresh_ready(node);
                }
            }
        }
        (holds, released)
    }

    pub(super) fn crash(&mut self, node: NodeId, disk: Disk) {
        let k = &mut self.kernel;
        let state = &mut k.nodes[node.index()];
        if state.status == Status::Crashed {
            return;
        }
        state.status = Status::Crashed;
        k.crashes.push((SimTime::from_nanos(k.now), node));
        k.ready[node.index()] = false;
        state.busy_until = 0;
        state.wake_pending = false;
        let lost: Vec<_> = state.inbox.drain(..).collect();
        for item in lost {
            if let Pending::Message { from, message, .. } = item {
                k.count_drop(DropReason::NodeDown, from, node, &message);
            }
        }
        // Cancel the node's timers: its process is gone.
        for slot in 0..k.timers.len() {
            let t = k.timers[slot];
            if t.live && t.owner == node.0 {
                k.cancel_timer(TimerId {
                    slot: slot as u32,
                    generation: t.generation,
                });
            }
        }
        self.nodes[node.index()].on_crash(disk);
    }
}
