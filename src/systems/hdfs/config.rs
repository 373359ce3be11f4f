//! The `[hdfs]` table: the NameNode pair and its heap, the journal, the
//! failover controllers, the DataNodes, the clients and the job.

use crate::systems::parts::operator::{self as operator, ClientSignal, Delay, Timed};
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};

/// The whole deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HdfsConfig {
    /// Length of a tally window.
    #[serde(default = "minute")]
    pub resolution: SimDuration,
    /// Site of the cluster.
    pub site: String,
    /// Failure-domain paths of the two NameNodes.
    #[serde(default)]
    pub namenode_domains: Vec<String>,
    /// Objects (files and blocks) in the namespace at the start.
    pub objects: u64,
    /// The NameNodes' heap.
    pub heap: NnHeap,
    /// Clients' RPCs to the active NameNode.
    pub rpc: Rpc,
    /// The JournalNodes.
    pub journal: Journal,
    /// The failover controllers.
    pub zkfc: Zkfc,
    /// The DataNodes, in groups.
    pub datanodes: DataNodes,
    /// A NameNode's start: loading the image, then waiting for block
    /// reports.
    pub startup: Startup,
    /// The job that creates objects.
    pub job: Job,
    /// A per-user quota on objects created (absent: none).
    #[serde(default)]
    pub object_quota: Option<u64>,
    /// Operators.
    #[serde(default)]
    pub actor: Vec<HdfsActor>,
}

fn minute() -> SimDuration {
    SimDuration::from_secs(60)
}

/// A NameNode's heap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NnHeap {
    /// Size, GB.
    pub gb: f64,
    /// Occupied besides the namespace, GB.
    pub base_gb: f64,
    /// Per million objects, GB.
    pub gb_per_million_objects: f64,
    /// Per queued RPC, KB.
    pub rpc_kb: f64,
    /// Per block queued for re-replication, bytes.
    pub pending_block_bytes: f64,
    /// Between collections.
    pub gc_every: SimDuration,
    /// A collection's pause on an empty heap.
    pub gc_base: SimDuration,
    /// Growth near full.
    pub gc_exponent: f64,
    /// Longest pause.
    pub gc_max: SimDuration,
}

/// Clients' RPCs, sent in batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rpc {
    /// Site of the clients.
    pub site: String,
    /// Calls per second.
    pub per_s: f64,
    /// Calls per message.
    pub batch: u64,
    /// CPU per call, microseconds.
    pub us: f64,
    /// A call unanswered this long fails.
    pub timeout: SimDuration,
    /// Calls a NameNode queues at most (its call queue); past it a call
    /// is refused at once.
    pub queue_max: u64,
}

/// The journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// JournalNodes (a majority must acknowledge).
    pub nodes: u32,
    /// An edit flush not acknowledged by a majority within this aborts the
    /// NameNode (`dfs.qjournal.write-txns.timeout.ms`).
    pub write_timeout: SimDuration,
    /// Between flushes.
    pub flush_every: SimDuration,
}

/// The failover controllers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Zkfc {
    /// The lock's session timeout on the coordination service.
    pub session_timeout: SimDuration,
    /// Between health checks of the local NameNode.
    pub health_every: SimDuration,
    /// A health check unanswered this long: the NameNode is unhealthy.
    pub health_timeout: SimDuration,
    /// A standby takes over only if its heap is below this occupancy
    /// (absent: always).
    #[serde(default)]
    pub capacity_check: Option<f64>,
}

/// DataNodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataNodes {
    /// Groups (each one node standing for `per_group` DataNodes).
    pub groups: u32,
    /// DataNodes per group.
    pub per_group: u32,
    /// Between heartbeats.
    pub heartbeat: SimDuration,
    /// Without a heartbeat this long, a DataNode is dead.
    pub dead_after: SimDuration,
    /// CPU to process a block report, per million blocks, ms.
    pub report_ms_per_million: f64,
}

/// A start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Startup {
    /// Loading the image and edits, per million objects.
    pub per_million_objects: SimDuration,
}

/// The job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// When it starts, from the start of the run.
    pub at: SimDuration,
    /// Objects it creates.
    pub objects: u64,
    /// Over how long.
    pub over: SimDuration,
}

/// What an operator step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HdfsDo {
    /// Cut `namenode` off from client RPCs (network isolation).
    Isolate,
    /// Let clients back.
    Readmit,
    /// Restart `namenode` (it loads the image, then serves).
    Restart,
    /// Delete the job's objects (on the active NameNode).
    DeleteJobObjects,
    /// Stop the job.
    KillJob,
    /// Set `namenode`'s heap to `heap_gb` (JVM settings for a start).
    SetHeap,
}

/// One operator step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HdfsStep {
    /// Earliest start, from the start of the run.
    #[serde(default)]
    pub at: Option<SimDuration>,
    /// A reaction: `errors` (clients' calls failing) above a fraction.
    #[serde(default)]
    pub on: Option<operator::Trigger<ClientSignal>>,
    /// The response delay after `on`, or after the previous step.
    #[serde(default)]
    pub after: Option<Delay>,
    /// What.
    #[serde(rename = "do")]
    pub what: HdfsDo,
    /// The NameNode (`nn-1`, `nn-2`) for `isolate`, `readmit`, `restart`,
    /// `set_heap`.
    #[serde(default)]
    pub namenode: Option<String>,
    /// `set_heap`: GB.
    #[serde(default)]
    pub heap_gb: Option<f64>,
    /// Why.
    #[serde(default)]
    pub note: String,
}

impl Timed for HdfsStep {
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

impl operator::ClientStep for HdfsStep {
    fn trigger(&self) -> Option<&operator::Trigger<ClientSignal>> {
        self.on.as_ref()
    }
    fn label(&self) -> String {
        format!("{:?}", self.what).to_lowercase()
    }
}

/// An operator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HdfsActor {
    /// Name.
    pub name: String,
    /// Site.
    pub site: String,
    /// Steps.
    pub step: Vec<HdfsStep>,
    /// How often its monitoring measures the clients' failures (only
    /// operators with reactions watch).
    #[serde(default = "default_scrape")]
    pub scrape: SimDuration,
}

fn default_scrape() -> SimDuration {
    SimDuration::from_secs(60)
}

impl HdfsConfig {
    /// The index (0, 1) of a NameNode name.
    pub fn namenode_index(name: &str) -> Option<usize> {
        match name {
            "nn-1" => Some(0),
            "nn-2" => Some(1),
            _ => None,
        }
    }

    /// Checks every field, in the table's order; the error names the field.
    pub(super) fn validate(
        &self,
        site_exists: &dyn Fn(&str) -> bool,
    ) -> Result<(), (String, String)> {
        for (field, s) in [("site", &self.site), ("rpc.site", &self.rpc.site)] {
            if !site_exists(s) {
                return Err((field.into(), format!("no site called {s:?}")));
            }
        }
        self.validate_numbers()?;
        self.validate_intervals()?;
        self.validate_actors(site_exists)
    }

    /// Sizes, rates and counts: finite, positive where they divide, and
    /// within bounds.
    fn validate_numbers(&self) -> Result<(), (String, String)> {
        let h = &self.heap;
        let pos = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err((field.to_string(), "a finite number > 0".to_string()))
            }
        };
        pos("heap.gb", h.gb)?;
        pos("heap.gb_per_million_objects", h.gb_per_million_objects)?;
        pos("rpc.per_s", self.rpc.per_s)?;
        pos("rpc.us", self.rpc.us)?;
        pos(
            "datanodes.report_ms_per_million",
            self.datanodes.report_ms_per_million,
        )?;
        for (field, v) in [
            ("heap.base_gb", h.base_gb),
            ("heap.rpc_kb", h.rpc_kb),
            ("heap.pending_block_bytes", h.pending_block_bytes),
            ("heap.gc_exponent", h.gc_exponent),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err((field.into(), "a finite number >= 0".into()));
            }
        }
        if self.rpc.per_s > crate::bounds::RPS_MAX {
            return Err(("rpc.per_s".into(), "at most 1000000".into()));
        }
        if self.rpc.batch == 0 || self.rpc.per_s / self.rpc.batch as f64 > 10_000.0 {
            return Err((
                "rpc.batch".into(),
                "at least 1, and at most 10000 batches per second".into(),
            ));
        }
        if self.objects > 10_000_000_000 || self.job.objects > 10_000_000_000 {
            return Err(("objects".into(), "at most 1e10".into()));
        }
        if !(1..=15).contains(&self.journal.nodes) {
            return Err(("journal.nodes".into(), "between 1 and 15".into()));
        }
        if !(1..=1000).contains(&self.datanodes.groups) {
            return Err(("datanodes.groups".into(), "between 1 and 1000".into()));
        }
        Ok(())
    }

    /// Intervals of at least 10 ms, the job's spread, the capacity check.
    fn validate_intervals(&self) -> Result<(), (String, String)> {
        let h = &self.heap;
        for (field, d) in [
            ("heap.gc_every", h.gc_every),
            ("journal.flush_every", self.journal.flush_every),
            ("zkfc.health_every", self.zkfc.health_every),
            ("zkfc.session_timeout", self.zkfc.session_timeout),
            ("datanodes.heartbeat", self.datanodes.heartbeat),
            ("resolution", self.resolution),
        ] {
            if d < SimDuration::from_millis(10) {
                return Err((field.into(), "at least 10ms".into()));
            }
        }
        if self.job.over == SimDuration::ZERO {
            return Err(("job.over".into(), "longer than 0s".into()));
        }
        if let Some(c) = self.zkfc.capacity_check
            && !(c > 0.0 && c <= 1.0)
        {
            return Err(("zkfc.capacity_check".into(), "a fraction in (0, 1]".into()));
        }
        Ok(())
    }

    /// The operators: their site, scrape interval and steps.
    fn validate_actors(&self, site_exists: &dyn Fn(&str) -> bool) -> Result<(), (String, String)> {
        for (i, a) in self.actor.iter().enumerate() {
            if !site_exists(&a.site) {
                return Err((
                    format!("actor[{i}].site"),
                    format!("no site called {:?}", a.site),
                ));
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
                let needs = matches!(
                    s.what,
                    HdfsDo::Isolate | HdfsDo::Readmit | HdfsDo::Restart | HdfsDo::SetHeap
                );
                if s.what == HdfsDo::SetHeap && !s.heap_gb.is_some_and(|g| g.is_finite() && g > 0.0)
                {
                    return Err((
                        format!("actor[{i}].step[{k}].heap_gb"),
                        "`set_heap` needs `heap_gb` > 0".into(),
                    ));
                }
                match (&s.namenode, needs) {
                    (Some(n), true) if Self::namenode_index(n).is_some() => {}
                    (_, true) => {
                        return Err((
                            format!("actor[{i}].step[{k}].namenode"),
                            "`nn-1` or `nn-2`".into(),
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}
