//! The knobs of a replicated-database deployment, as data.
//!
//! Everything a design differs in is here, so that a scenario file can carry
//! it and a design is a handful of overrides of these fields. Defaults are
//! the values of the GitHub 2018 model; each default that the postmortem
//! does not publish is an assumption and says so in the scenario file.

use crate::time::SimDuration;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use crate::bounds::{self, Checked};

/// Which replication engine runs the clusters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// MySQL-style primary/replica with a failover orchestrator.
    #[default]
    Mysql,
    /// A Raft-replicated key-value store per cluster.
    Raft,
}

/// Binlog replication mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationMode {
    /// The primary acknowledges a commit at once.
    #[default]
    Async,
    /// The primary waits for replica acknowledgements (with fallback).
    SemiSync,
}

/// How a deposed primary is kept from taking writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fencing {
    /// Nothing: the old primary stays writable.
    #[default]
    None,
    /// The orchestrator sets the old primary read-only once it reaches it.
    ReadOnly,
    /// The primary holds a lease renewed by the orchestrator leader's probes
    /// and refuses writes once it expires; promotion waits the lease out.
    Lease,
}

/// Where clients read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    /// A replica at the reader's site (any replica if none is local).
    #[default]
    Replicas,
    /// The primary (or Raft leader, through the log).
    Primary,
}

/// One database cluster (a functional shard).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Name (the shard name in facts and keys).
    pub name: String,
    /// Site of the initial primary.
    pub primary: String,
    /// Sites of the replicas, one entry per replica.
    pub replicas: Vec<String>,
    /// Number of keys the workload spreads over.
    #[serde(default = "default_keys")]
    pub keys: u32,
    /// Failure-domain paths of its MySQL servers below their sites (the
    /// equipment they sit in), the primary first, then the replicas in
    /// order; empty: each at its site itself. A Raft design (whose voters
    /// are `raft.voters`, not these servers) does not use them.
    #[serde(default)]
    pub domains: Vec<String>,
}

fn default_keys() -> u32 {
    1000
}

/// Binlog replication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationConfig {
    /// Async or semi-sync.
    pub mode: ReplicationMode,
    /// Semi-sync: sites whose replicas count as ackers (empty: any replica).
    pub semi_sync_ackers: Vec<String>,
    /// Semi-sync: acknowledgements a commit waits for.
    pub semi_sync_wait_for: u32,
    /// Semi-sync: fall back to async after `semi_sync_timeout` (MySQL's
    /// behaviour); `false` waits for acknowledgements forever.
    pub semi_sync_fallback: bool,
    /// Semi-sync: how long a commit waits before the fallback
    /// (`rpl_semi_sync_master_timeout`).
    pub semi_sync_timeout: SimDuration,
    /// Transactions a replica applies per second (its SQL thread).
    pub apply_rate: f64,
    /// Source heartbeat period on an idle connection.
    pub heartbeat_period: SimDuration,
    /// A replica declares its IO thread broken after this much silence
    /// (`slave_net_timeout`).
    pub net_timeout: SimDuration,
    /// A broken IO thread reconnects this often (`MASTER_CONNECT_RETRY`).
    pub connect_retry: SimDuration,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        Self {
            mode: ReplicationMode::Async,
            semi_sync_ackers: Vec::new(),
            semi_sync_wait_for: 1,
            semi_sync_fallback: true,
            semi_sync_timeout: SimDuration::from_secs(10),
            apply_rate: 2000.0,
            heartbeat_period: SimDuration::from_secs(2),
            net_timeout: SimDuration::from_secs(4),
            connect_retry: SimDuration::from_secs(1),
        }
    }
}

/// The failover orchestrator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OrchestratorConfig {
    /// Sites of the Raft voters, one entry per voter; the first starts as
    /// leader.
    pub voters: Vec<String>,
    /// Raft heartbeat interval.
    pub heartbeat_interval: SimDuration,
    /// Election timeout, drawn uniformly in `[min, max]`.
    pub election_timeout_min: SimDuration,
    /// See `election_timeout_min`.
    pub election_timeout_max: SimDuration,
    /// The leader probes every server this often.
    pub detection_interval: SimDuration,
    /// A server not heard from for this long is unreachable.
    pub unreachable_after: SimDuration,
    /// Refuse to promote a replica in another region than the dead primary.
    pub prevent_cross_region_failover: bool,
    /// Anti-flapping: no second recovery of a cluster within this period.
    pub recovery_block: SimDuration,
    /// How the old primary is fenced.
    pub fencing: Fencing,
    /// Lease length for `fencing = "lease"`.
    pub lease: SimDuration,
    /// The leader republishes every cluster's primary this often.
    pub publish_interval: SimDuration,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self {
            voters: Vec::new(),
            heartbeat_interval: SimDuration::from_millis(500),
            election_timeout_min: SimDuration::from_secs(3),
            election_timeout_max: SimDuration::from_secs(6),
            detection_interval: SimDuration::from_secs(1),
            unreachable_after: SimDuration::from_secs(3),
            prevent_cross_region_failover: false,
            recovery_block: SimDuration::from_secs(3600),
            fencing: Fencing::None,
            lease: SimDuration::from_secs(10),
            publish_interval: SimDuration::from_secs(1),
        }
    }
}

/// Service discovery (Consul-like, one server per site).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// Sites with a discovery server (Consul-like). With the MySQL engine
    /// every app tier's site needs one: it is how the tier learns of a
    /// failover.
    pub sites: Vec<String>,
    /// Delay between receiving a publication and serving it.
    pub propagation_delay: SimDuration,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            sites: Vec::new(),
            propagation_delay: SimDuration::from_millis(500),
        }
    }
}

/// The Raft-replicated baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RaftConfig {
    /// Sites of each cluster's voters; the first starts as leader.
    pub voters: Vec<String>,
    /// Leader heartbeat interval.
    pub heartbeat_interval: SimDuration,
    /// Election timeout, drawn uniformly in `[min, max]`.
    pub election_timeout_min: SimDuration,
    /// See `election_timeout_min`.
    pub election_timeout_max: SimDuration,
    /// How late a server's election timer may fire past its deadline
    /// (scheduling and disk jitter), drawn uniformly per timer.
    #[serde(default = "default_timer_jitter")]
    pub timer_jitter: SimDuration,
    /// Most log entries per append message.
    pub max_batch: usize,
}

fn default_timer_jitter() -> SimDuration {
    SimDuration::from_millis(1)
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            voters: Vec::new(),
            heartbeat_interval: SimDuration::from_millis(100),
            election_timeout_min: SimDuration::from_secs(1),
            election_timeout_max: SimDuration::from_secs(2),
            timer_jitter: default_timer_jitter(),
            max_batch: 64,
        }
    }
}

/// The application tier: stateless servers that run clients' statements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Name of this tier (clients name it in `via`).
    pub name: String,
    /// Site of the servers.
    pub site: String,
    /// Number of servers.
    #[serde(default = "one")]
    pub servers: u32,
    /// A statement not answered within this is reported as timed out.
    #[serde(default = "default_db_timeout")]
    pub db_timeout: SimDuration,
    /// Redirects followed per statement (Raft `not leader` answers).
    #[serde(default = "three")]
    pub max_redirects: u32,
}

fn one() -> u32 {
    1
}

fn three() -> u32 {
    3
}

fn default_db_timeout() -> SimDuration {
    SimDuration::from_secs(5)
}

/// A group of closed-loop clients (each one process in the history).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// Name (prefix of the client node names).
    pub name: String,
    /// Site of the clients.
    pub site: String,
    /// Application tier they send requests to.
    pub via: String,
    /// Cluster they use.
    pub cluster: String,
    /// Number of clients (processes).
    pub clients: u32,
    /// Mean think time between a completion and the next request
    /// (exponential).
    pub think: SimDuration,
    /// Fraction of requests that are writes.
    pub write_fraction: f64,
    /// The client gives up on a request after this (outcome `info`).
    #[serde(default = "default_client_timeout")]
    pub timeout: SimDuration,
    /// Pause after a failed or timed-out request.
    #[serde(default = "default_backoff")]
    pub backoff: SimDuration,
    /// Where reads go.
    #[serde(default)]
    pub reads: ReadFrom,
    /// First request at or after this.
    #[serde(default)]
    pub start: SimDuration,
}

fn default_client_timeout() -> SimDuration {
    SimDuration::from_secs(10)
}

fn default_backoff() -> SimDuration {
    SimDuration::from_secs(1)
}

/// Checker settings of a replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ChecksConfig {
    /// A read may lag the latest acknowledged write by this much.
    pub stale_read_bound: SimDuration,
    /// Window of the availability figures.
    pub availability_window: SimDuration,
    /// States the linearizability search may visit per key.
    pub max_states: u64,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        Self {
            stale_read_bound: SimDuration::from_secs(10),
            availability_window: SimDuration::from_secs(1),
            max_states: 2_000_000,
        }
    }
}

/// A whole replicated-database deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DbConfig {
    /// Engine.
    #[serde(default)]
    pub engine: Engine,
    /// Region of each site (the unit of `prevent_cross_region_failover`).
    #[serde(default)]
    pub regions: IndexMap<String, String>,
    /// The clusters.
    pub cluster: Vec<ClusterConfig>,
    /// Binlog replication.
    #[serde(default)]
    pub replication: ReplicationConfig,
    /// Failover orchestrator.
    #[serde(default)]
    pub orchestrator: OrchestratorConfig,
    /// Service discovery.
    #[serde(default)]
    pub discovery: DiscoveryConfig,
    /// Raft baseline.
    #[serde(default)]
    pub raft: RaftConfig,
    /// Application tiers.
    pub app: Vec<AppConfig>,
    /// Client groups.
    pub workload: Vec<WorkloadConfig>,
    /// Checker settings.
    #[serde(default)]
    pub checks: ChecksConfig,
}

impl DbConfig {
    /// Checks names and ranges against the sites of a topology; the error is
    /// `(field, message)`. In the table's order, so the first error is the
    /// first field.
    pub fn validate(&self, has_site: &dyn Fn(&str) -> bool) -> Checked {
        let site = |field: String, s: &str| -> Checked {
            if has_site(s) {
                Ok(())
            } else {
                Err((field, format!("unknown site {s:?}")))
            }
        };
        if self.cluster.is_empty() {
            return Err(("cluster".into(), "at least one cluster is needed".into()));
        }
        bounds::at_most("cluster", self.cluster.len() as u64, 1_000)?;
        for (s, _) in &self.regions {
            site(format!("regions.{s}"), s)?;
        }
        self.validate_clusters(&site)?;
        match self.engine {
            Engine::Mysql => self.validate_mysql(&site)?,
            Engine::Raft => self.validate_raft(&site)?,
        }
        self.validate_clients(&site)
    }

    /// Each cluster's servers, keys and name.
    fn validate_clusters(&self, site: &dyn Fn(String, &str) -> Checked) -> Checked {
        for (i, c) in self.cluster.iter().enumerate() {
            site(format!("cluster[{i}].primary"), &c.primary)?;
            let servers = 1 + c.replicas.len();
            if self.engine == Engine::Mysql && !c.domains.is_empty() && c.domains.len() != servers {
                return Err((
                    format!("cluster[{i}].domains"),
                    format!(
                        "{} domains for {servers} servers: give one per server, or none",
                        c.domains.len()
                    ),
                ));
            }
            for s in &c.replicas {
                site(format!("cluster[{i}].replicas"), s)?;
            }
            if c.keys == 0 {
                return Err((format!("cluster[{i}].keys"), "must be positive".into()));
            }
            bounds::at_most(
                format!("cluster[{i}].keys"),
                c.keys.into(),
                bounds::KEYS_MAX,
            )?;
            bounds::at_most(
                format!("cluster[{i}].replicas"),
                c.replicas.len() as u64,
                64,
            )?;
            if self.cluster[..i].iter().any(|o| o.name == c.name) {
                return Err((
                    format!("cluster[{i}].name"),
                    format!("duplicate cluster {:?}", c.name),
                ));
            }
        }
        Ok(())
    }

    /// MySQL's orchestrator, discovery and replication.
    fn validate_mysql(&self, site: &dyn Fn(String, &str) -> Checked) -> Checked {
        if self.orchestrator.voters.is_empty() {
            return Err(("orchestrator.voters".into(), "names no site".into()));
        }
        for s in &self.orchestrator.voters {
            site("orchestrator.voters".into(), s)?;
        }
        for s in &self.discovery.sites {
            site("discovery.sites".into(), s)?;
        }
        // An app tier learns where the primary is only from a
        // discovery server at its own site: without one it would
        // keep writing to the old primary after a failover.
        if let Some((i, a)) = self
            .app
            .iter()
            .enumerate()
            .find(|(_, a)| !self.discovery.sites.contains(&a.site))
        {
            return Err((
                "discovery.sites".into(),
                format!(
                    "app[{i}] ({:?}) runs at {:?}, which has no discovery server, so it would never learn of a failover; add {:?} to [replicated_db.discovery] sites",
                    a.name, a.site, a.site
                ),
            ));
        }
        for s in &self.replication.semi_sync_ackers {
            site("replication.semi_sync_ackers".into(), s)?;
        }
        if !(self.replication.apply_rate > 0.0 && self.replication.apply_rate.is_finite()) {
            return Err((
                "replication.apply_rate".into(),
                "must be a positive number".into(),
            ));
        }
        let o = &self.orchestrator;
        if o.election_timeout_min > o.election_timeout_max
            || o.election_timeout_min <= o.heartbeat_interval
        {
            return Err((
                "orchestrator.election_timeout_min".into(),
                "must exceed heartbeat_interval and not exceed election_timeout_max".into(),
            ));
        }
        bounds::interval("orchestrator.detection_interval", o.detection_interval)?;
        bounds::interval("orchestrator.heartbeat_interval", o.heartbeat_interval)?;
        bounds::interval("orchestrator.publish_interval", o.publish_interval)?;
        bounds::interval(
            "replication.heartbeat_period",
            self.replication.heartbeat_period,
        )?;
        bounds::at_most("orchestrator.voters", o.voters.len() as u64, 64)?;
        self.semi_sync_can_commit()?;
        Ok(())
    }

    /// Raft's voters and timers.
    fn validate_raft(&self, site: &dyn Fn(String, &str) -> Checked) -> Checked {
        if self.raft.voters.is_empty() {
            return Err(("raft.voters".into(), "names no site".into()));
        }
        for s in &self.raft.voters {
            site("raft.voters".into(), s)?;
        }
        let r = &self.raft;
        if r.election_timeout_min > r.election_timeout_max
            || r.election_timeout_min <= r.heartbeat_interval
        {
            return Err((
                "raft.election_timeout_min".into(),
                "must exceed heartbeat_interval and not exceed election_timeout_max".into(),
            ));
        }
        bounds::interval("raft.heartbeat_interval", r.heartbeat_interval)?;
        bounds::at_most("raft.voters", r.voters.len() as u64, 64)?;
        if r.max_batch == 0 {
            return Err(("raft.max_batch".into(), "must be positive".into()));
        }
        Ok(())
    }

    /// The app tiers and the workloads through them.
    fn validate_clients(&self, site: &dyn Fn(String, &str) -> Checked) -> Checked {
        for (i, a) in self.app.iter().enumerate() {
            site(format!("app[{i}].site"), &a.site)?;
            if a.servers == 0 {
                return Err((format!("app[{i}].servers"), "must be positive".into()));
            }
            bounds::at_most(
                format!("app[{i}].servers"),
                a.servers.into(),
                bounds::GROUP_MAX,
            )?;
        }
        for (i, w) in self.workload.iter().enumerate() {
            site(format!("workload[{i}].site"), &w.site)?;
            if !self.app.iter().any(|a| a.name == w.via) {
                return Err((
                    format!("workload[{i}].via"),
                    format!("unknown app tier {:?}", w.via),
                ));
            }
            if !self.cluster.iter().any(|c| c.name == w.cluster) {
                return Err((
                    format!("workload[{i}].cluster"),
                    format!("unknown cluster {:?}", w.cluster),
                ));
            }
            if !(0.0..=1.0).contains(&w.write_fraction) {
                return Err((
                    format!("workload[{i}].write_fraction"),
                    "must be in [0, 1]".into(),
                ));
            }
            if w.think == SimDuration::ZERO {
                return Err((format!("workload[{i}].think"), "must be positive".into()));
            }
            bounds::at_most(
                format!("workload[{i}].clients"),
                w.clients.into(),
                bounds::GROUP_MAX,
            )?;
        }
        Ok(())
    }

    /// Semi-synchronous replication without fallback must be able to
    /// commit: every cluster needs `semi_sync_wait_for` replicas at acker
    /// sites, or no write is ever acknowledged.
    fn semi_sync_can_commit(&self) -> Result<(), (String, String)> {
        let r = &self.replication;
        if r.mode != ReplicationMode::SemiSync || r.semi_sync_fallback {
            return Ok(());
        }
        for c in &self.cluster {
            let ackers = c
                .replicas
                .iter()
                .filter(|s| r.semi_sync_ackers.is_empty() || r.semi_sync_ackers.contains(s))
                .count() as u32;
            if ackers < r.semi_sync_wait_for {
                return Err((
                    "replication.semi_sync_wait_for".into(),
                    format!(
                        "{} acknowledgements needed but cluster {:?} has only {ackers} replica(s) at acker sites, and there is no fallback to async: no write could ever commit",
                        r.semi_sync_wait_for, c.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The region of a site (the site itself if unmapped).
    pub fn region<'a>(&'a self, site: &'a str) -> &'a str {
        self.regions.get(site).map_or(site, String::as_str)
    }
}
