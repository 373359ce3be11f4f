//! Backups and restores: scheduled jobs that may fail without anyone
//! knowing, a catalogue of the copies they left, and the arithmetic of
//! restoring one.
//!
//! Why a part: in the durability incidents (GitLab 2017, DigitalOcean 2017,
//! NewsBlur 2021) nothing failed that a replica could cover; what was lost
//! depended on which copy could still be restored and how fast. A job here
//! is data: what it copies (a logical dump, a volume or disk snapshot, the
//! WAL archive), when it runs, how it fails (a tool too old for the server,
//! disabled, writing to an empty target), and whether its failure alert
//! reaches anyone (an e-mail rejected for lack of DMARC does not). The
//! [`Catalogue`] keeps what the jobs produced, with retention, and answers
//! the operator's question after a disaster: what is the newest copy that
//! restores? A WAL archive restores only on top of a base copy, and then
//! up to the last archived segment.

use crate::time::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};

/// What a job copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    /// A logical dump (`pg_dump`, `mongodump`): a base copy.
    Dump,
    /// A volume snapshot (LVM): a base copy.
    VolumeSnapshot,
    /// A provider's disk snapshot: a base copy.
    DiskSnapshot,
    /// Continuous archiving of the write-ahead log: restores only on top of
    /// a base copy, up to the last archived segment.
    WalArchive,
}

impl BackupKind {
    /// True for kinds that restore on their own.
    pub fn is_base(self) -> bool {
        self != BackupKind::WalArchive
    }
}

/// How a job fails, if it does. Every failure but `alerted` ones is silent
/// unless the alert path delivers.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BackupFailure {
    /// It works.
    #[default]
    None,
    /// The tool is older than the server (`pg_dump` 9.2 against 9.6): the
    /// run errors out and produces nothing.
    ToolVersion,
    /// The job was never enabled for this host: it never runs.
    Disabled,
    /// The run reports success but the target stays empty: nothing to
    /// restore, found out only on restore.
    EmptyTarget,
}

/// Where a job's failure is reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertPath {
    /// The channel (`email`, `pager`).
    pub channel: String,
    /// Whether a notification on it reaches a person (`false`: rejected,
    /// as GitLab's cron e-mails were for lack of DMARC).
    pub delivered: bool,
}

/// One backup job, as configured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupJob {
    /// Name (`pg_dump`, `lvm-daily`).
    pub name: String,
    /// What it copies.
    pub kind: BackupKind,
    /// The host whose data it copies.
    pub source: String,
    /// Period of the schedule (absent: only the one-off runs in `at`).
    #[serde(default)]
    pub every: Option<SimDuration>,
    /// Offset of the first scheduled run from the start of the run.
    #[serde(default)]
    pub first: SimDuration,
    /// One-off runs (a manual snapshot), as times from the start.
    #[serde(default)]
    pub at: Vec<SimDuration>,
    /// How it fails.
    #[serde(default)]
    pub failure: BackupFailure,
    /// Where failures are reported (absent: nowhere).
    #[serde(default)]
    pub alert: Option<AlertPath>,
    /// Copies kept (older ones are deleted); 0 keeps all.
    #[serde(default)]
    pub retention: u32,
    /// Rate at which a run reads the source, Mbit/s (a run of a 300 GB copy
    /// at 1000 Mbit/s takes 40 min); 0 for instantaneous (a copy-on-write
    /// snapshot).
    #[serde(default)]
    pub read_mbps: f64,
    /// Promised freshness: a restorable copy at most this old at every
    /// instant (default: the period).
    #[serde(default)]
    pub promise: Option<SimDuration>,
}

impl BackupJob {
    /// Checks ranges; errors are `(field, message)` inside the job.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(e) = self.every
            && e < SimDuration::from_secs(1)
        {
            return Err(("every".into(), format!("a period of at least 1s, not {e}")));
        }
        if self.every.is_none() && self.at.is_empty() {
            return Err((
                "every".into(),
                "a job needs a period (`every`) or one-off runs (`at`)".into(),
            ));
        }
        if !(self.read_mbps.is_finite() && self.read_mbps >= 0.0) {
            return Err(("read_mbps".into(), "must be a finite rate >= 0".into()));
        }
        Ok(())
    }

    /// The freshness the job promises (its `promise`, else its period).
    pub fn promised(&self) -> Option<SimDuration> {
        self.promise.or(self.every)
    }

    /// The first run at or after `t` (none if disabled).
    pub fn next_run(&self, t: SimTime) -> Option<SimTime> {
        if self.failure == BackupFailure::Disabled {
            return None;
        }
        let one_off = self
            .at
            .iter()
            .map(|&d| SimTime::ZERO + d)
            .filter(|&r| r >= t)
            .min();
        let periodic = self.every.map(|every| {
            let first = SimTime::ZERO + self.first;
            if t <= first {
                first
            } else {
                let k = (t - first).as_nanos().div_ceil(every.as_nanos());
                first.saturating_add(SimDuration::from_nanos(k.saturating_mul(every.as_nanos())))
            }
        });
        match (one_off, periodic) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How long a run takes to read `bytes`.
    pub fn read_time(&self, bytes: u64) -> SimDuration {
        transfer_time(bytes, self.read_mbps)
    }

    /// What a run whose source holds data (`has_data`) produces.
    pub fn attempt(&self, has_data: bool) -> Attempt {
        match self.failure {
            BackupFailure::None if has_data => Attempt {
                produced: true,
                restorable: true,
                detail: "ok".into(),
            },
            BackupFailure::None => Attempt {
                produced: true,
                restorable: false,
                detail: "the source held no data: the copy is empty".into(),
            },
            BackupFailure::ToolVersion => Attempt {
                produced: false,
                restorable: false,
                detail: "the tool is older than the server: the run errored out".into(),
            },
            BackupFailure::EmptyTarget => Attempt {
                produced: true,
                restorable: false,
                detail: "reported success, but the target is empty".into(),
            },
            BackupFailure::Disabled => Attempt {
                produced: false,
                restorable: false,
                detail: "disabled".into(),
            },
        }
    }

    /// Whether a failed run's alert reached a person.
    pub fn alert_delivered(&self) -> bool {
        self.alert.as_ref().is_some_and(|a| a.delivered)
    }
}

/// What one run of a job produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// A copy exists in the target.
    pub produced: bool,
    /// It restores.
    pub restorable: bool,
    /// Why not, or "ok".
    pub detail: String,
}

/// Time to move `bytes` at `mbps` Mbit/s (0: no time).
pub fn transfer_time(bytes: u64, mbps: f64) -> SimDuration {
    if mbps <= 0.0 {
        SimDuration::ZERO
    } else {
        SimDuration::from_secs_f64(bytes as f64 * 8.0 / (mbps * 1e6))
    }
}

/// A copy in the catalogue.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyEntry<D> {
    /// The job's index.
    pub job: usize,
    /// Whether the job's kind restores on its own.
    pub base: bool,
    /// When the copy was complete.
    pub done_at: SimTime,
    /// The instant of the data it holds.
    pub data_at: SimTime,
    /// It restores.
    pub restorable: bool,
    /// Its size.
    pub bytes: u64,
    /// The data (the system's representation).
    pub data: D,
}

/// What a restore would start from: a base copy, and archived log on top
/// of it up to `data_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct RestorePoint<'a, D> {
    /// The base copy.
    pub base: &'a CopyEntry<D>,
    /// The newest archive segment on top of it, if any (newer than the
    /// base).
    pub archive: Option<&'a CopyEntry<D>>,
}

impl<D> RestorePoint<'_, D> {
    /// The instant of the data it restores.
    pub fn data_at(&self) -> SimTime {
        self.archive.map_or(self.base.data_at, |a| a.data_at)
    }
}

/// The copies the jobs left, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Catalogue<D> {
    copies: Vec<CopyEntry<D>>,
}

impl<D> Catalogue<D> {
    /// No copies.
    pub fn new() -> Self {
        Self { copies: Vec::new() }
    }

    /// Adds a copy, then deletes the job's oldest copies beyond
    /// `retention` (0 keeps all).
    pub fn add(&mut self, copy: CopyEntry<D>, retention: u32) {
        let job = copy.job;
        self.copies.push(copy);
        if retention > 0 {
            let n = self.copies.iter().filter(|c| c.job == job).count();
            let mut excess = n.saturating_sub(retention as usize);
            self.copies.retain(|c| {
                if c.job == job && excess > 0 {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }

    /// All copies, oldest first.
    pub fn copies(&self) -> &[CopyEntry<D>] {
        &self.copies
    }

    /// The newest point that restores with data from at most `before`:
    /// the newest restorable base copy, with the newest restorable archive
    /// segment newer than it (an archive is continuous, so its newest
    /// segment covers everything since the base). `None` if no base copy
    /// restores.
    pub fn newest_restorable(&self, before: SimTime) -> Option<RestorePoint<'_, D>> {
        let base = self
            .copies
            .iter()
            .filter(|c| c.base && c.restorable && c.data_at <= before)
            .max_by_key(|c| (c.data_at, c.done_at))?;
        let archive = self
            .copies
            .iter()
            .filter(|c| !c.base && c.restorable && c.data_at > base.data_at && c.data_at <= before)
            .max_by_key(|c| c.data_at);
        Some(RestorePoint { base, archive })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(every: Option<u64>, at: &[u64], failure: BackupFailure) -> BackupJob {
        BackupJob {
            name: "j".into(),
            kind: BackupKind::Dump,
            source: "db".into(),
            every: every.map(SimDuration::from_secs),
            first: SimDuration::from_secs(10),
            at: at.iter().map(|&s| SimDuration::from_secs(s)).collect(),
            failure,
            alert: None,
            retention: 0,
            read_mbps: 0.0,
            promise: None,
        }
    }

    #[test]
    fn schedules_merge_periodic_and_one_off_runs() {
        let j = job(Some(100), &[15, 210], BackupFailure::None);
        let mut runs = Vec::new();
        let mut t = SimTime::ZERO;
        while let Some(r) = j.next_run(t) {
            if r >= SimTime::from_secs(300) {
                break;
            }
            runs.push(r.as_nanos() / 1_000_000_000);
            t = r + SimDuration::from_nanos(1);
        }
        assert_eq!(runs, vec![10, 15, 110, 210]);
        assert_eq!(
            job(Some(100), &[], BackupFailure::Disabled).next_run(SimTime::ZERO),
            None
        );
        assert_eq!(
            job(None, &[15], BackupFailure::None).next_run(SimTime::from_secs(16)),
            None
        );
    }

    #[test]
    fn failures_decide_what_a_run_leaves() {
        assert!(
            job(Some(1), &[], BackupFailure::None)
                .attempt(true)
                .restorable
        );
        assert!(
            !job(Some(1), &[], BackupFailure::None)
                .attempt(false)
                .restorable
        );
        let tv = job(Some(1), &[], BackupFailure::ToolVersion).attempt(true);
        assert!(!tv.produced && !tv.restorable);
        let et = job(Some(1), &[], BackupFailure::EmptyTarget).attempt(true);
        assert!(et.produced && !et.restorable);
    }

    fn entry(job: usize, base: bool, at: u64, restorable: bool) -> CopyEntry<u64> {
        CopyEntry {
            job,
            base,
            done_at: SimTime::from_secs(at),
            data_at: SimTime::from_secs(at),
            restorable,
            bytes: 1,
            data: at,
        }
    }

    #[test]
    fn newest_restorable_needs_a_base_and_uses_the_archive_on_top() {
        let mut c = Catalogue::new();
        c.add(entry(1, false, 5, true), 0);
        assert!(c.newest_restorable(SimTime::from_secs(100)).is_none());
        c.add(entry(0, true, 10, true), 0);
        c.add(entry(0, true, 20, false), 0);
        c.add(entry(1, false, 30, true), 0);
        let p = c.newest_restorable(SimTime::from_secs(100)).unwrap();
        assert_eq!(p.base.data, 10);
        assert_eq!(p.data_at(), SimTime::from_secs(30));
        let p = c.newest_restorable(SimTime::from_secs(25)).unwrap();
        assert_eq!(p.data_at(), SimTime::from_secs(10));
    }

    #[test]
    fn retention_deletes_the_oldest_copies_of_the_job_only() {
        let mut c = Catalogue::new();
        for t in 0..5 {
            c.add(entry(0, true, t, true), 2);
            c.add(entry(1, true, t, true), 0);
        }
        let kept: Vec<u64> = c
            .copies()
            .iter()
            .filter(|e| e.job == 0)
            .map(|e| e.data)
            .collect();
        assert_eq!(kept, vec![3, 4]);
        assert_eq!(c.copies().iter().filter(|e| e.job == 1).count(), 5);
    }

    #[test]
    fn transfer_time_is_size_over_rate() {
        // 300 GB at 60 Mbit/s: 40,000 s, about 11 h.
        let t = transfer_time(300_000_000_000, 60.0);
        assert_eq!(t.as_secs_f64().round(), 40_000.0);
        assert_eq!(transfer_time(5, 0.0), SimDuration::ZERO);
    }
}
