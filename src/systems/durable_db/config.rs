//! The knobs of a database deployment judged for durability, as data: the
//! engine and its replication limits, the hosts and how they are exposed,
//! the application's writes, the backup jobs, the runbooks operators and
//! scripts follow, an internet scanner, and how restores run. A design
//! (working backups, a host guard, scoped credentials, authentication on)
//! is a handful of overrides of these fields.

use crate::systems::parts::backup::{BackupJob, BackupKind};
use crate::systems::parts::exposure::{Credential, Exposure, ProbeSchedule};
use crate::systems::parts::operator::{Do, Guards, Step};
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};
use crate::bounds::Checked;

/// Bytes per GB (decimal, as disks and postmortems count).
pub const GB: f64 = 1e9;

/// The whole deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DurableDbConfig {
    /// Length of a series and tally window.
    #[serde(default = "default_resolution")]
    pub resolution: SimDuration,
    /// The dataset's name (the shard of the facts).
    pub shard: String,
    /// The engine: its replication limits and names.
    pub engine: Engine,
    /// Size of the dataset at the start, GB.
    pub size_gb: f64,
    /// Write-ahead log written by everything the application does besides
    /// the tracked writes, MB/s.
    pub wal_mb_per_s: f64,
    /// Log bytes of one tracked write.
    #[serde(default = "default_write_bytes")]
    pub write_bytes: u64,
    /// Periods of extra load (spam, a mass delete): the log rate times
    /// `factor`.
    #[serde(default)]
    pub surge: Vec<Surge>,
    /// Log a primary keeps for replicas that fall behind, GB (PostgreSQL's
    /// `wal_keep_segments` × 16 MB, MongoDB's oplog size).
    pub wal_keep_gb: f64,
    /// Interval at which replicas pull the log.
    #[serde(default = "default_poll")]
    pub poll: SimDuration,
    /// Replication lag that pages someone, GB (absent: no alert).
    #[serde(default)]
    pub lag_alert_gb: Option<f64>,
    /// PostgreSQL's limits (ignored by other engines).
    #[serde(default)]
    pub postgres: PostgresLimits,
    /// The database hosts.
    pub host: Vec<HostConfig>,
    /// Firewall, container runtime and authentication per host, by host
    /// name (`[durable_db.exposure.db1]`); a host not named has no
    /// firewall and no authentication.
    #[serde(default)]
    pub exposure: indexmap::IndexMap<String, Exposure>,
    /// The application: tracked writes and reads.
    pub app: AppConfig,
    /// Where backup copies are kept.
    pub store: StoreConfig,
    /// Backup jobs.
    #[serde(default)]
    pub backup: Vec<BackupJob>,
    /// Named credentials actors hold (`[durable_db.credentials.ci]`), so a
    /// design can rescope one without restating the runbooks.
    #[serde(default)]
    pub credentials: indexmap::IndexMap<String, Credential>,
    /// Operators and scripts, each with a runbook.
    #[serde(default)]
    pub actor: Vec<ActorConfig>,
    /// An internet scanner, if any.
    #[serde(default)]
    pub scanner: Option<ScannerConfig>,
    /// Guards on destructive steps.
    #[serde(default)]
    pub guards: Guards,
    /// How a restore runs once the data is in place.
    pub restore: RestoreConfig,
    /// What availability is held to.
    #[serde(default)]
    pub slo: SloConfig,
}

fn default_resolution() -> SimDuration {
    SimDuration::from_secs(60)
}
fn default_poll() -> SimDuration {
    SimDuration::from_secs(1)
}
fn default_write_bytes() -> u64 {
    8192
}

/// The engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// PostgreSQL streaming replication: a limit on replication senders,
    /// base backups that wait for a checkpoint, restarts that need
    /// semaphores.
    Postgres,
    /// MySQL-style binlog replication (no sender limit modelled).
    Mysql,
    /// A MongoDB replica set: members sync the oplog from the primary.
    Mongodb,
}

/// A period of extra load.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Surge {
    /// Start, from the start of the run.
    pub from: SimDuration,
    /// End.
    pub until: SimDuration,
    /// Multiplier of the log rate.
    pub factor: f64,
}

/// PostgreSQL's limits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresLimits {
    /// Replication connections (`max_wal_senders`).
    #[serde(default = "default_senders")]
    pub max_wal_senders: u64,
    /// Client connections (`max_connections`).
    #[serde(default = "default_connections")]
    pub max_connections: u64,
    /// Semaphores the kernel grants: a restart with `max_connections +
    /// max_wal_senders` above it fails (0: no limit).
    #[serde(default)]
    pub semaphores: u64,
    /// How long a base backup waits for the primary's checkpoint before it
    /// sends anything (it says nothing meanwhile).
    #[serde(default = "default_checkpoint")]
    pub checkpoint_wait: SimDuration,
    /// A replication connection not heard from for this long is closed.
    #[serde(default = "default_sender_timeout")]
    pub sender_timeout: SimDuration,
}

fn default_senders() -> u64 {
    10
}
fn default_connections() -> u64 {
    100
}
fn default_checkpoint() -> SimDuration {
    SimDuration::from_secs(5)
}
fn default_sender_timeout() -> SimDuration {
    SimDuration::from_secs(60)
}

impl Default for PostgresLimits {
    fn default() -> Self {
        Self {
            max_wal_senders: default_senders(),
            max_connections: default_connections(),
            semaphores: 0,
            checkpoint_wait: default_checkpoint(),
            sender_timeout: default_sender_timeout(),
        }
    }
}

/// A host's role at the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartRole {
    /// Serves writes.
    Primary,
    /// Follows `upstream`.
    Replica,
    /// Shut down, data kept.
    Stopped,
}

/// One database host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Name.
    pub name: String,
    /// Site.
    pub site: String,
    /// Role at the start.
    pub role: StartRole,
    /// The host a replica follows.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Rate at which it receives and applies the log, and receives a base
    /// backup, Mbit/s.
    pub throughput_mbps: f64,
    /// Apply delay (a delayed replica applies a record this long after
    /// the primary wrote it).
    #[serde(default)]
    pub delay: SimDuration,
    /// Rate of a snapshot of this host into the backup store, Mbit/s.
    #[serde(default = "default_snapshot")]
    pub snapshot_mbps: f64,
    /// Its failure-domain path below the site (`room-3/vnx-1`): the
    /// equipment it sits in, for `analyze` and `equipment:`/`hazard:`
    /// faults.
    #[serde(default)]
    pub domain: String,
}

fn default_snapshot() -> f64 {
    1000.0
}

/// A kind of tracked write, at a rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteKind {
    /// Name (`project`, `comment`): the key of its writes.
    pub kind: String,
    /// Writes per hour (Poisson).
    pub per_hour: f64,
}

/// The application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Site.
    pub site: String,
    /// The host it writes to (until a promotion points it elsewhere).
    pub primary: String,
    /// Hosts it reads from (empty: the primary).
    #[serde(default)]
    pub reads_from: Vec<String>,
    /// Tracked writes, recorded one by one.
    pub writes: Vec<WriteKind>,
    /// Reads per second (Poisson), tallied.
    pub reads_per_s: f64,
    /// A request unanswered for this long failed.
    #[serde(default = "default_timeout")]
    pub timeout: SimDuration,
}

fn default_timeout() -> SimDuration {
    SimDuration::from_secs(10)
}

/// Where backups are kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Site (restores cross the network from here).
    pub site: String,
    /// Node name.
    #[serde(default = "default_store")]
    pub name: String,
}

fn default_store() -> String {
    "backup-store".into()
}

/// An operator or a script, with its runbook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActorConfig {
    /// Name.
    pub name: String,
    /// Site (its commands cross the network from here).
    pub site: String,
    /// The credential it presents (a name in `credentials`), if any.
    #[serde(default)]
    pub credential: Option<String>,
    /// Its steps, run in order.
    #[serde(default)]
    pub step: Vec<Step>,
    /// How often its monitoring asks every host how it is (only actors
    /// with reactions, `on` or `only_if`, watch).
    #[serde(default = "default_scrape")]
    pub scrape: SimDuration,
}

fn default_scrape() -> SimDuration {
    SimDuration::from_secs(30)
}

/// An internet scanner that drops what it can reach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScannerConfig {
    /// Site.
    pub site: String,
    /// When it sweeps every host.
    pub probes: ProbeSchedule,
    /// Time it takes to drop everything once in (a database and its
    /// collections), then it leaves a ransom note.
    pub drop_duration: SimDuration,
}

/// How a restore runs once the data is in place.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreConfig {
    /// Size of one transfer chunk over the network, MB.
    #[serde(default = "default_chunk")]
    pub chunk_mb: f64,
    /// Rate at which archived or relayed log is replayed, MB/s.
    pub replay_mb_per_s: f64,
    /// Fixed start-up once the data is in place (crash recovery, checks).
    #[serde(default)]
    pub start_time: SimDuration,
    /// A restore from a delayed replica's snapshot replays its relay log up
    /// to, and not including, the first destructive record.
    #[serde(default)]
    pub replay_relay_log: bool,
}

fn default_chunk() -> f64 {
    1000.0
}

/// What availability is held to.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    /// Success ratio a window needs.
    pub success: f64,
    /// Fraction of windows that must meet it.
    pub windows: f64,
}

impl Default for SloConfig {
    fn default() -> Self {
        Self {
            success: 0.99,
            windows: 0.99,
        }
    }
}

fn positive(field: &str, v: f64) -> Result<(), (String, String)> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err((
            field.into(),
            format!("must be a finite number > 0, not {v}"),
        ))
    }
}

/// Chunks of one transfer (each is a message and a timer).
pub const CHUNKS_MAX: f64 = 100_000.0;

fn at_most(field: &str, v: f64, max: f64) -> Result<(), (String, String)> {
    if v <= max {
        Ok(())
    } else {
        Err((field.into(), format!("at most {max}, not {v}")))
    }
}

fn non_negative(field: &str, v: f64) -> Result<(), (String, String)> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err((
            field.into(),
            format!("must be a finite number >= 0, not {v}"),
        ))
    }
}

impl DurableDbConfig {
    /// Checks names and ranges; errors are `(field path, message)`.
    pub fn validate(&self, site_exists: &dyn Fn(&str) -> bool) -> Checked {
        let site = |field: String, s: &str| {
            if site_exists(s) {
                Ok(())
            } else {
                Err((field, format!("no site called {s:?}")))
            }
        };
        // In the table's order, so the first error is the first field.
        self.validate_sizes()?;
        self.validate_hosts(&site)?;
        self.validate_app(&site)?;
        site("store.site".into(), &self.store.site)?;
        let host = |field: String, name: &str| self.host_named(field, name);
        for (i, b) in self.backup.iter().enumerate() {
            b.validate()
                .map_err(|(f, m)| (format!("backup[{i}].{f}"), m))?;
            host(format!("backup[{i}].source"), &b.source)?;
            if self.backup[..i].iter().any(|o| o.name == b.name) {
                return Err((format!("backup[{i}].name"), format!("{:?} twice", b.name)));
            }
        }
        self.validate_actors(&site)?;
        self.validate_recovery(&site)
    }

    /// `field` names a host of the table.
    fn host_named(&self, field: String, name: &str) -> Checked {
        if self.host.iter().any(|h| h.name == name) {
            Ok(())
        } else {
            Err((field, format!("no host called {name:?}")))
        }
    }

    /// The run's resolution and the data set's sizes and rates.
    fn validate_sizes(&self) -> Checked {
        if self.resolution < SimDuration::from_secs(1) {
            return Err(("resolution".into(), "must be at least 1s".into()));
        }
        if self.poll < crate::bounds::INTERVAL_MIN {
            return Err((
                "poll".into(),
                format!("must be at least {}", crate::bounds::INTERVAL_MIN),
            ));
        }
        positive("size_gb", self.size_gb)?;
        if self.size_gb * GB > crate::bounds::DATASET_BYTES_MAX {
            return Err((
                "size_gb".into(),
                format!("at most {} GB", crate::bounds::DATASET_BYTES_MAX / GB),
            ));
        }
        non_negative("wal_mb_per_s", self.wal_mb_per_s)?;
        at_most("wal_mb_per_s", self.wal_mb_per_s, 100_000.0)?;
        non_negative("wal_keep_gb", self.wal_keep_gb)?;
        at_most(
            "wal_keep_gb",
            self.wal_keep_gb,
            crate::bounds::DATASET_BYTES_MAX / GB,
        )?;
        if self.write_bytes > 1 << 30 {
            return Err(("write_bytes".into(), "at most 1 GiB per write".into()));
        }
        for (i, s) in self.surge.iter().enumerate() {
            non_negative(&format!("surge[{i}].factor"), s.factor)?;
            at_most(&format!("surge[{i}].factor"), s.factor, 1000.0)?;
            if s.until <= s.from {
                return Err((format!("surge[{i}].until"), "must be after `from`".into()));
            }
        }
        if let Some(g) = self.lag_alert_gb {
            positive("lag_alert_gb", g)?;
        }
        Ok(())
    }

    /// Hosts (one primary, replicas with upstreams) and their exposure.
    fn validate_hosts(&self, site: &dyn Fn(String, &str) -> Checked) -> Checked {
        if self.host.is_empty() {
            return Err(("host".into(), "at least one host".into()));
        }
        let host = |field: String, name: &str| self.host_named(field, name);
        for (i, h) in self.host.iter().enumerate() {
            site(format!("host[{i}].site"), &h.site)?;
            positive(&format!("host[{i}].throughput_mbps"), h.throughput_mbps)?;
            at_most(
                &format!("host[{i}].throughput_mbps"),
                h.throughput_mbps,
                1e7,
            )?;
            positive(&format!("host[{i}].snapshot_mbps"), h.snapshot_mbps)?;
            if self.host[..i].iter().any(|o| o.name == h.name) {
                return Err((format!("host[{i}].name"), format!("{:?} twice", h.name)));
            }
            match (h.role, &h.upstream) {
                (StartRole::Replica, None) => {
                    return Err((
                        format!("host[{i}].upstream"),
                        "a replica needs an upstream".into(),
                    ));
                }
                (_, Some(u)) => {
                    host(format!("host[{i}].upstream"), u)?;
                    if *u == h.name {
                        return Err((
                            format!("host[{i}].upstream"),
                            "a host cannot follow itself".into(),
                        ));
                    }
                }
                _ => {}
            }
        }
        for (name, e) in &self.exposure {
            host(format!("exposure.{name}"), name)?;
            if let Some(allow) = &e.allow
                && allow.is_empty()
            {
                return Err((
                    format!("exposure.{name}.allow"),
                    "an empty allow list drops everyone, the application too".into(),
                ));
            }
        }
        if self
            .host
            .iter()
            .filter(|h| h.role == StartRole::Primary)
            .count()
            != 1
        {
            return Err(("host".into(), "exactly one host starts as primary".into()));
        }
        Ok(())
    }

    /// The application: where it runs, whom it talks to, what it writes.
    fn validate_app(&self, site: &dyn Fn(String, &str) -> Checked) -> Checked {
        let host = |field: String, name: &str| self.host_named(field, name);
        site("app.site".into(), &self.app.site)?;
        host("app.primary".into(), &self.app.primary)?;
        for (i, r) in self.app.reads_from.iter().enumerate() {
            host(format!("app.reads_from[{i}]"), r)?;
        }
        if self.app.writes.is_empty() {
            return Err(("app.writes".into(), "at least one kind of write".into()));
        }
        for (i, w) in self.app.writes.iter().enumerate() {
            positive(&format!("app.writes[{i}].per_hour"), w.per_hour)?;
            if w.per_hour > crate::bounds::WRITES_PER_HOUR_MAX {
                return Err((
                    format!("app.writes[{i}].per_hour"),
                    format!("at most {}", crate::bounds::WRITES_PER_HOUR_MAX),
                ));
            }
        }
        non_negative("app.reads_per_s", self.app.reads_per_s)?;
        if self.app.reads_per_s > crate::bounds::RPS_MAX {
            return Err((
                "app.reads_per_s".into(),
                format!("at most {}", crate::bounds::RPS_MAX),
            ));
        }
        Ok(())
    }

    /// The operators' runbooks: sites, credentials, steps and their
    /// triggers.
    fn validate_actors(&self, site: &dyn Fn(String, &str) -> Checked) -> Checked {
        let host = |field: String, name: &str| self.host_named(field, name);
        for (i, a) in self.actor.iter().enumerate() {
            site(format!("actor[{i}].site"), &a.site)?;
            if let Some(c) = &a.credential
                && !self.credentials.contains_key(c)
            {
                return Err((
                    format!("actor[{i}].credential"),
                    format!("no credential called {c:?} in `credentials`"),
                ));
            }
            if a.scrape < crate::bounds::INTERVAL_MIN {
                return Err((
                    format!("actor[{i}].scrape"),
                    format!("must be at least {}", crate::bounds::INTERVAL_MIN),
                ));
            }
            if a.step.len() > crate::bounds::RUNBOOK_STEPS_MAX {
                return Err((
                    format!("actor[{i}].step"),
                    format!("at most {} steps", crate::bounds::RUNBOOK_STEPS_MAX),
                ));
            }
            for (k, s) in a.step.iter().enumerate() {
                let at = |f: &str| format!("actor[{i}].step[{k}].{f}");
                host(at("host"), &s.host)?;
                if let Some(on) = &s.executed_on {
                    host(at("executed_on"), on)?;
                }
                s.action().map_err(|(f, m)| (at(&f), m))?;
                s.check_start().map_err(|(f, m)| (at(&f), m))?;
                for (field, t) in [("on", &s.on), ("only_if", &s.only_if)] {
                    let Some(t) = t else { continue };
                    if let Some(h) = &t.host {
                        host(at(&format!("{field}.host")), h)?;
                    }
                    if let Some(j) = &t.job
                        && !self.backup.iter().any(|b| &b.name == j)
                    {
                        return Err((
                            at(&format!("{field}.job")),
                            format!("no backup job called {j:?}"),
                        ));
                    }
                }
                if let Some(from) = &s.from
                    && !(s.what == Do::Restore && from == "newest")
                {
                    host(at("from"), from)?;
                }
            }
        }
        Ok(())
    }

    /// The scanner, restores and the SLO.
    fn validate_recovery(&self, site: &dyn Fn(String, &str) -> Checked) -> Checked {
        if let Some(s) = &self.scanner {
            site("scanner.site".into(), &s.site)?;
            if s.probes.every < crate::bounds::INTERVAL_MIN {
                return Err((
                    "scanner.probes.every".into(),
                    format!("must be at least {}", crate::bounds::INTERVAL_MIN),
                ));
            }
        }
        positive("restore.chunk_mb", self.restore.chunk_mb)?;
        if self.restore.chunk_mb > 4000.0 {
            return Err(("restore.chunk_mb".into(), "at most 4000 MB".into()));
        }
        let chunks = self.size_gb * 1000.0 / self.restore.chunk_mb;
        if chunks > CHUNKS_MAX {
            return Err((
                "restore.chunk_mb".into(),
                format!(
                    "a copy of {} GB would take {chunks:.0} chunks, more than {CHUNKS_MAX}: make the chunks larger",
                    self.size_gb
                ),
            ));
        }
        positive("restore.replay_mb_per_s", self.restore.replay_mb_per_s)?;
        if !(0.0..=1.0).contains(&self.slo.success) || !(0.0..=1.0).contains(&self.slo.windows) {
            return Err(("slo".into(), "fractions in [0, 1]".into()));
        }
        Ok(())
    }

    /// Whether a working WAL archive of `host` exists (replicas that fall
    /// behind fetch from it instead of breaking).
    pub fn archives(&self, host: &str) -> bool {
        self.backup.iter().any(|b| {
            b.kind == BackupKind::WalArchive
                && b.source == host
                && b.failure == crate::systems::parts::backup::BackupFailure::None
        })
    }

    /// A host's exposure (none configured: no firewall, no authentication).
    pub fn exposure_of(&self, host: &str) -> Exposure {
        self.exposure.get(host).cloned().unwrap_or_default()
    }

    /// The log rate at `t` (from the start), bytes per second.
    pub fn wal_rate(&self, t: SimDuration) -> f64 {
        let factor: f64 = self
            .surge
            .iter()
            .filter(|s| s.from <= t && t < s.until)
            .map(|s| s.factor)
            .product();
        self.wal_mb_per_s * 1e6 * factor
    }
}
