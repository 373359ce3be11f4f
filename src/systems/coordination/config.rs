//! The `[coordination]` table: the ensemble, its capacity and heap, the
//! proxies that mirror its tree, their customers, and the operators.

use crate::systems::parts::operator::{self as operator, ClientSignal, Delay, Timed};
use crate::systems::parts::session::Backoff;
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};
use crate::bounds::Checked;

/// The whole deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoordinationConfig {
    /// Length of a tally window.
    #[serde(default = "minute")]
    pub resolution: SimDuration,
    /// Ensemble members (voters).
    pub servers: u32,
    /// Their site.
    pub server_site: String,
    /// Their failure-domain paths, round-robin.
    #[serde(default)]
    pub server_domains: Vec<String>,
    /// ZooKeeper's `tickTime`: leader heartbeats and session checks.
    pub tick: SimDuration,
    /// Ticks a follower or observer has to sync with a leader.
    pub init_limit: u32,
    /// Ticks without hearing from the leader (or, for the leader, from a
    /// quorum) before giving up on it.
    pub sync_limit: u32,
    /// Election timeout, drawn in `[min, max]`.
    pub election: Window,
    /// CPU cost of each kind of request.
    pub cpu: Cpu,
    /// Requests a server holds in its queue before it stops reading from
    /// clients (`globalOutstandingLimit`).
    pub queue_max: u64,
    /// The heap and its collector.
    pub heap: Heap,
    /// Non-voting members that serve the proxies (the proxy observer
    /// layer of February 2019); with none, the proxies use the voters.
    #[serde(default)]
    pub observers: u32,
    /// The observers' failure-domain paths, round-robin.
    #[serde(default)]
    pub observer_domains: Vec<String>,
    /// What a learner's sync with a leader costs; without it a sync is
    /// instant.
    #[serde(default)]
    pub sync: Option<SyncCost>,
    /// The ensemble's other clients (allocators, monitoring agents).
    #[serde(default)]
    pub agents: Option<Agents>,
    /// Load shedding at the ensemble.
    #[serde(default)]
    pub shed: Option<Shed>,
    /// Znodes in the subtree every proxy mirrors.
    pub znodes: u64,
    /// The proxies.
    pub proxies: Proxies,
    /// Customers' requests through the proxies.
    pub customers: Customers,
    /// Writes to the tree (cluster locations changing).
    pub writers: Writers,
    /// Operators.
    #[serde(default)]
    pub actor: Vec<CoordActor>,
    /// The metastability judgement.
    pub metastable: MetastableBound,
}

fn minute() -> SimDuration {
    SimDuration::from_secs(60)
}

/// A range of durations.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Shortest.
    pub min: SimDuration,
    /// Longest.
    pub max: SimDuration,
}

/// CPU per request, microseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cpu {
    /// A read (`getData`, `getChildren`, with its watch).
    pub read_us: f64,
    /// A write's proposal, at the leader.
    pub write_us: f64,
    /// A heartbeat.
    pub ping_us: f64,
    /// Setting up a connection and its session (TLS, authentication,
    /// re-registering watches).
    pub connect_us: f64,
}

/// A server's heap: what occupies it, and the pauses its collector takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heap {
    /// Size, MB.
    pub mb: f64,
    /// Occupied at rest (the data tree, caches), MB.
    pub base_mb: f64,
    /// Per queued request, KB.
    pub request_kb: f64,
    /// Per connected session, KB.
    pub session_kb: f64,
    /// Per watch, bytes.
    pub watch_bytes: f64,
    /// Between collections.
    pub gc_every: SimDuration,
    /// Pause of a collection on an empty heap.
    pub gc_base: SimDuration,
    /// Pause growth near full: `gc_base / (1 − occupancy)^gc_exponent`.
    pub gc_exponent: f64,
    /// Longest pause.
    pub gc_max: SimDuration,
}

/// Which client the proxies run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TreeClient {
    /// Curator's TreeCache: on every reconnect, re-read the whole tree in
    /// one batch, stacked on whatever is still unsent.
    TreeCache,
    /// Elastic's TreeWatcher: no refresh on a resumed session; a new
    /// session's refresh paced by responses, replacing one in flight.
    TreeWatcher,
}

/// The proxy fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Proxies {
    /// Proxies running at the start.
    pub count: u32,
    /// Proxies deployed but off, for an operator to start.
    #[serde(default)]
    pub spare: u32,
    /// Their site.
    pub site: String,
    /// Their failure-domain paths, round-robin.
    #[serde(default)]
    pub domains: Vec<String>,
    /// The client implementation.
    pub client: TreeClient,
    /// Session timeout.
    pub session_timeout: SimDuration,
    /// Reconnect back-off.
    pub backoff: Backoff,
    /// Memory limit, MB: past it the proxy dies.
    pub memory_mb: f64,
    /// Memory at rest (the mirror, the routing table), MB.
    pub base_mb: f64,
    /// Per outstanding request (unsent or unanswered), KB.
    pub request_kb: f64,
    /// Curator's retry policy: an operation failed by a connection loss
    /// is retried at most this many times, then given up (the mirror
    /// re-reads it at the next refresh). Every loss fails every operation
    /// queued or in flight, as ZooKeeper's client does. Absent: retried
    /// for ever, so a proxy's backlog only grows while it reconnects.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Requests per message on the wire.
    pub chunk: u64,
    /// Requests sent and not yet answered at most (socket buffers);
    /// `tree-watcher` keeps one chunk in flight.
    pub send_window: u64,
    /// From a proxy's death to its supervisor restarting it.
    pub restart_after: SimDuration,
    /// A proxy counts as unhealthy while not connected to the ensemble
    /// (as in February 2019), not only before its first full mirror.
    #[serde(default)]
    pub healthy_needs_connection: bool,
    /// Between the load balancer's health checks.
    pub health_every: SimDuration,
    /// The proxy's own collector (it is a JVM too): occupancy is its
    /// memory over `memory_mb`, and while paused it answers nothing (the
    /// load balancer's checks, customers, its session's pings). Absent:
    /// no pauses, a proxy is either serving or dead.
    #[serde(default)]
    pub gc: Option<ProxyGc>,
}

/// A proxy's collections: `base / (1 − occupancy)^exponent`, capped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyGc {
    /// Between collections.
    pub every: SimDuration,
    /// Pause of a collection on an empty heap.
    pub base: SimDuration,
    /// Growth near full.
    pub exponent: f64,
    /// Longest pause.
    pub max: SimDuration,
}

/// Customers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Customers {
    /// Site.
    pub site: String,
    /// Requests per second (Poisson).
    pub per_s: f64,
    /// Retries of a failed request.
    #[serde(default)]
    pub retries: u32,
    /// Before a retry.
    #[serde(default = "second")]
    pub retry_after: SimDuration,
}

fn second() -> SimDuration {
    SimDuration::from_secs(1)
}

/// The writers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Writers {
    /// Site.
    pub site: String,
    /// Writes per second (Poisson).
    pub per_s: f64,
}

/// What the metastability checker allows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetastableBound {
    /// Longest failure after the trigger ends.
    pub bound: SimDuration,
    /// A window is healthy at this success fraction.
    pub healthy: f64,
    /// The trigger, from the start of the run; without it, the first
    /// fault of the schedule (when later faults are operators' actions,
    /// not part of the trigger).
    #[serde(default)]
    pub trigger: Option<Trigger>,
}

/// When the trigger acted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Start.
    pub from: SimDuration,
    /// End.
    pub to: SimDuration,
}

/// A learner's sync with its leader. The leader sends a `DIFF` (the
/// transactions the learner misses) when it holds them in its committed
/// log, which a leader starts anew when it takes over, and a `SNAP` (the
/// whole data tree) otherwise. Either goes in chunks, each costing the
/// leader CPU to serialise and the learner CPU to apply, queued behind
/// the requests each already holds: under load a sync slows, and one not
/// done within `init_limit` ticks fails and starts again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncCost {
    /// The data tree's snapshot, MB.
    pub snapshot_mb: f64,
    /// One transaction in a DIFF, KB.
    pub txn_kb: f64,
    /// Serialising or applying, MB per CPU second.
    pub mb_per_s: f64,
    /// Per chunk, MB.
    pub chunk_mb: f64,
    /// Most transactions a DIFF carries (the committed log's length).
    pub diff_max: u64,
}

/// The ensemble's other clients: each holds a session, reads `reads`
/// znodes on a new session and watches `watches` of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Agents {
    /// Clients.
    pub count: u32,
    /// Their site.
    pub site: String,
    /// Session timeout.
    pub session_timeout: SimDuration,
    /// Reconnect back-off.
    pub backoff: Backoff,
    /// Reads on a new session.
    pub reads: u64,
    /// Watches held.
    pub watches: u64,
    /// Sessions each client stands for (1: one session). A host running
    /// many ZooKeeper clients is one node whose connect, pings, reads and
    /// heap cost this many sessions', so a storm of thousands of sessions
    /// costs what it does without an event per session. Watches are per
    /// node (`watches` is the host's total).
    #[serde(default = "one_per_host")]
    pub per_host: u32,
    /// Their failure-domain paths, round-robin (so a fault can name a
    /// share of them: `domain:PATH`).
    #[serde(default)]
    pub domains: Vec<String>,
}

fn one_per_host() -> u32 {
    1
}

/// Admission control at the ensemble: a server turns a connect away at
/// once (at the cost of a ping) while it already holds `connects_max`
/// connects, instead of queueing work whose client will have given up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shed {
    /// Connects queued at most.
    pub connects_max: u64,
}

/// What an operator step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoordDo {
    /// Start `add` spare proxies and give every proxy `memory_mb`.
    ScaleProxies,
    /// Make the leader step down: a new election.
    ForceElection,
    /// Give every member `ticks` as its `init_limit`.
    SetInitLimit,
}

impl CoordDo {
    /// The name in files.
    pub fn name(self) -> &'static str {
        match self {
            CoordDo::ScaleProxies => "scale_proxies",
            CoordDo::ForceElection => "force_election",
            CoordDo::SetInitLimit => "set_init_limit",
        }
    }
}

/// One operator step: scheduled (`at`), a reaction (`on` what the
/// monitoring shows of the customers or the writers, `after` a response
/// delay) or a follow-up of the step before (`after`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoordStep {
    /// Earliest start, from the start of the run: a scheduled step.
    #[serde(default)]
    pub at: Option<SimDuration>,
    /// A reaction: `errors` (customers' requests) or `api_errors` (cluster
    /// changes) above a fraction.
    #[serde(default)]
    pub on: Option<operator::Trigger<ClientSignal>>,
    /// The response delay after `on`, or after the previous step.
    #[serde(default)]
    pub after: Option<Delay>,
    /// What.
    #[serde(rename = "do")]
    pub what: CoordDo,
    /// `scale_proxies`: spares started.
    #[serde(default)]
    pub add: Option<u32>,
    /// `scale_proxies`: the new memory limit.
    #[serde(default)]
    pub memory_mb: Option<f64>,
    /// `set_init_limit`: the new limit, in ticks.
    #[serde(default)]
    pub ticks: Option<u32>,
    /// Why.
    #[serde(default)]
    pub note: String,
}

impl operator::ClientStep for CoordStep {
    fn trigger(&self) -> Option<&operator::Trigger<ClientSignal>> {
        self.on.as_ref()
    }
    fn label(&self) -> String {
        self.what.name().to_string()
    }
}

impl Timed for CoordStep {
    fn at(&self) -> Option<SimDuration> {
        self.at
    }
    fn triggered(&self) -> bool {
        self.on.is_some()
    }
    fn after(&self) -> Option<Delay> {
        self.after
    }
}

/// An operator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoordActor {
    /// Name.
    pub name: String,
    /// Site.
    pub site: String,
    /// Steps, in order.
    pub step: Vec<CoordStep>,
    /// How often its monitoring measures the clients' failures (only
    /// operators with reactions watch).
    #[serde(default = "default_scrape")]
    pub scrape: SimDuration,
}

fn default_scrape() -> SimDuration {
    SimDuration::from_secs(60)
}

/// The most retries a proxy's client may give a read (Curator's own
/// `ExponentialBackoffRetry` stops at 29).
const RETRIES_MAX: u32 = 10_000;

/// `v` is a finite number at least `min`.
fn finite(field: &str, v: f64, min: f64) -> Checked {
    if v.is_finite() && v >= min {
        Ok(())
    } else {
        Err((field.to_string(), format!("a finite number >= {min}")))
    }
}

impl CoordinationConfig {
    /// Checks names, counts and ranges, in the table's order.
    pub(super) fn validate(&self, site_exists: &dyn Fn(&str) -> bool) -> Checked {
        self.validate_members(site_exists)?;
        self.validate_proxies()?;
        self.validate_costs()?;
        self.validate_workload()?;
        self.validate_actors(site_exists)
    }

    /// Sites, the ensemble's members, its other clients, load shedding.
    fn validate_members(&self, site_exists: &dyn Fn(&str) -> bool) -> Checked {
        for (field, s) in [
            ("server_site", &self.server_site),
            ("proxies.site", &self.proxies.site),
            ("customers.site", &self.customers.site),
            ("writers.site", &self.writers.site),
        ] {
            if !site_exists(s) {
                return Err((field.into(), format!("no site called {s:?}")));
            }
        }
        if !(1..=15).contains(&self.servers) {
            return Err(("servers".into(), "between 1 and 15".into()));
        }
        if self.observers > 50 {
            return Err(("observers".into(), "at most 50".into()));
        }
        if let Some(a) = &self.agents {
            if !site_exists(&a.site) {
                return Err(("agents.site".into(), format!("no site called {:?}", a.site)));
            }
            if a.count == 0 || a.count > 10_000 {
                return Err(("agents.count".into(), "between 1 and 10000".into()));
            }
            if !(1..=10_000).contains(&a.per_host) {
                return Err(("agents.per_host".into(), "between 1 and 10000".into()));
            }
            if a.session_timeout < SimDuration::from_millis(10) {
                return Err(("agents.session_timeout".into(), "at least 10ms".into()));
            }
        }
        if let Some(sh) = &self.shed
            && sh.connects_max == 0
        {
            return Err(("shed.connects_max".into(), "at least 1".into()));
        }
        Ok(())
    }

    /// The proxy fleet's sizes and the intervals of the run.
    fn validate_proxies(&self) -> Checked {
        let p = &self.proxies;
        if p.count == 0 || p.count + p.spare > 10_000 {
            return Err((
                "proxies.count".into(),
                "at least 1, and count + spare at most 10000".into(),
            ));
        }
        if self.znodes == 0 || self.znodes > 100_000_000 {
            return Err(("znodes".into(), "between 1 and 100000000".into()));
        }
        if p.chunk == 0 || self.znodes / p.chunk > 100_000 {
            return Err((
                "proxies.chunk".into(),
                "at least 1, and at most 100000 chunks per tree".into(),
            ));
        }
        if p.send_window < p.chunk {
            return Err(("proxies.send_window".into(), "at least one chunk".into()));
        }
        if p.retries.is_some_and(|r| r > RETRIES_MAX) {
            return Err((
                "proxies.retries".into(),
                format!("at most {RETRIES_MAX}"),
            ));
        }
        for (field, d) in [
            ("resolution", self.resolution),
            ("tick", self.tick),
            ("heap.gc_every", self.heap.gc_every),
            ("proxies.session_timeout", p.session_timeout),
            ("proxies.health_every", p.health_every),
            (
                "proxies.gc.every",
                p.gc.as_ref().map_or(SimDuration::from_secs(1), |g| g.every),
            ),
        ] {
            if d < SimDuration::from_millis(10) {
                return Err((field.into(), "at least 10ms".into()));
            }
        }
        Ok(())
    }

    /// Elections, sync limits, CPU costs, the heap and syncs.
    fn validate_costs(&self) -> Checked {
        if self.election.min > self.election.max || self.election.min == SimDuration::ZERO {
            return Err(("election.min".into(), "a positive range, min <= max".into()));
        }
        if self.init_limit == 0 || self.sync_limit == 0 {
            return Err((
                "sync_limit".into(),
                "`init_limit` and `sync_limit` are at least 1 tick".into(),
            ));
        }
        finite("cpu.read_us", self.cpu.read_us, 0.0)?;
        finite("cpu.write_us", self.cpu.write_us, 0.0)?;
        finite("cpu.ping_us", self.cpu.ping_us, 0.0)?;
        finite("cpu.connect_us", self.cpu.connect_us, 0.0)?;
        let h = &self.heap;
        finite("heap.mb", h.mb, 1.0)?;
        finite("heap.base_mb", h.base_mb, 0.0)?;
        if h.base_mb >= h.mb {
            return Err(("heap.base_mb".into(), "less than `heap.mb`".into()));
        }
        finite("heap.request_kb", h.request_kb, 0.0)?;
        finite("heap.session_kb", h.session_kb, 0.0)?;
        finite("heap.watch_bytes", h.watch_bytes, 0.0)?;
        finite("heap.gc_exponent", h.gc_exponent, 0.0)?;
        if let Some(c) = &self.sync {
            finite("sync.snapshot_mb", c.snapshot_mb, 0.0)?;
            finite("sync.txn_kb", c.txn_kb, 0.0)?;
            if !(c.mb_per_s.is_finite() && c.mb_per_s > 0.0) {
                return Err(("sync.mb_per_s".into(), "a positive number".into()));
            }
            if !(c.chunk_mb.is_finite() && c.chunk_mb > 0.0)
                || c.snapshot_mb / c.chunk_mb > 100_000.0
            {
                return Err((
                    "sync.chunk_mb".into(),
                    "a positive size, at most 100000 chunks per snapshot".into(),
                ));
            }
        }
        Ok(())
    }

    /// Customers, writers, the proxies' memory and the metastability
    /// bound.
    fn validate_workload(&self) -> Checked {
        let p = &self.proxies;
        if self.customers.retries > 10 {
            return Err(("customers.retries".into(), "at most 10".into()));
        }
        if let Some(t) = &self.metastable.trigger
            && t.from > t.to
        {
            return Err(("metastable.trigger.from".into(), "not after `to`".into()));
        }
        finite("proxies.memory_mb", p.memory_mb, 1.0)?;
        finite("proxies.base_mb", p.base_mb, 0.0)?;
        finite("proxies.request_kb", p.request_kb, 0.0)?;
        if let Some(g) = &p.gc {
            finite("proxies.gc.exponent", g.exponent, 0.0)?;
            if g.base > g.max {
                return Err(("proxies.gc.base".into(), "not above `max`".into()));
            }
        }
        for (field, v) in [
            ("customers.per_s", self.customers.per_s),
            ("writers.per_s", self.writers.per_s),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= crate::bounds::RPS_MAX) {
                return Err((field.into(), "a rate in (0, 1000000]".into()));
            }
        }
        if !(self.metastable.healthy > 0.0 && self.metastable.healthy <= 1.0) {
            return Err(("metastable.healthy".into(), "a fraction in (0, 1]".into()));
        }
        Ok(())
    }

    /// The operators' runbooks.
    fn validate_actors(&self, site_exists: &dyn Fn(&str) -> bool) -> Checked {
        let p = &self.proxies;
        for (i, a) in self.actor.iter().enumerate() {
            if !site_exists(&a.site) {
                return Err((
                    format!("actor[{i}].site"),
                    format!("no site called {:?}", a.site),
                ));
            }
            if a.step.len() > crate::bounds::RUNBOOK_STEPS_MAX {
                return Err((format!("actor[{i}].step"), "too many steps".into()));
            }
            if a.scrape < crate::bounds::INTERVAL_MIN {
                return Err((
                    format!("actor[{i}].scrape"),
                    format!("must be at least {}", crate::bounds::INTERVAL_MIN),
                ));
            }
            for (k, s) in a.step.iter().enumerate() {
                operator::check_start(s.at, s.on.as_ref(), s.after.as_ref())
                    .map_err(|(f, m)| (format!("actor[{i}].step[{k}].{f}"), m))?;
                if s.what == CoordDo::ScaleProxies {
                    if s.add.is_none_or(|n| n > p.spare) {
                        return Err((
                            format!("actor[{i}].step[{k}].add"),
                            format!(
                                "`scale_proxies` needs `add`, at most the {} spares",
                                p.spare
                            ),
                        ));
                    }
                    if let Some(m) = s.memory_mb {
                        finite(&format!("actor[{i}].step[{k}].memory_mb"), m, 1.0)?;
                    }
                }
                if s.what == CoordDo::SetInitLimit && s.ticks.is_none_or(|t| t == 0) {
                    return Err((
                        format!("actor[{i}].step[{k}].ticks"),
                        "`set_init_limit` needs `ticks`, at least 1".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}
