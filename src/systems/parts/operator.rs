//! Operators and automation as data: a runbook of steps on named hosts,
//! the mistakes people make running it, and the guards that catch them.
//!
//! Why a part: in the durability incidents the destructive act was a step
//! someone (or a script) meant to run, run on the wrong host (GitLab's
//! `rm -rf` on db1 instead of db2) or with the wrong credentials
//! (DigitalOcean's test runner holding production ones). A runbook here is
//! a list of [`Step`]s, each with the host it is meant for and, as a fault
//! on the operator, the host it actually runs on. Steps run one after
//! another: a step starts at its time, or when the previous one finished,
//! whichever is later, so a slow restore pushes everything after it. The
//! host a step reaches decides, with the [`Guards`] of the design, whether
//! to carry it out: a host-identity check refuses a destructive step on a
//! host other than the one named, and `refuse_primary` refuses one on a
//! primary serving writes.

use crate::time::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};

/// A server setting a step may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// Replication connections the server accepts (PostgreSQL's
    /// `max_wal_senders`).
    MaxWalSenders,
    /// Client connections (`max_connections`).
    MaxConnections,
}

/// Where a restore takes its data from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreFrom {
    /// The newest copy in the backup catalogue that restores.
    Newest,
    /// The newest restorable copy taken of this host (its snapshot).
    Host(String),
}

/// What a step does, as a runbook names it (`do = "wipe"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Do {
    /// Delete the data directory (`rm -rf`): the server stops.
    Wipe,
    /// Drop the database through a client connection: a logged command
    /// that replicates.
    DropDatabase,
    /// Re-seed an empty host from a primary (`from`), then follow it.
    BaseBackup,
    /// Abandon the host's base backup in progress.
    Cancel,
    /// Change `setting` to `value`, effective at the next restart.
    Set,
    /// Restart the server process.
    Restart,
    /// Shut the server down, keeping its data.
    Stop,
    /// Start a stopped server (`as_primary`, or as a member).
    Start,
    /// Make the host the primary.
    Promote,
    /// Stop applying the replication stream.
    PauseApply,
    /// Take a copy of the host's data into the backup store.
    Snapshot,
    /// Restore the host's data (`from` = `newest` or a host's snapshot).
    Restore,
}

/// What a step does to its host.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Delete the data directory (`rm -rf`): the server stops.
    Wipe,
    /// Drop the database through a client connection: a logged command
    /// that replicates.
    DropDatabase,
    /// Re-seed an empty host from a primary (`pg_basebackup`, an initial
    /// sync), then follow it.
    BaseBackup {
        /// The host to copy from.
        from: String,
    },
    /// Abandon the host's base backup in progress (the client goes away;
    /// the server side may linger).
    Cancel,
    /// Change a setting, effective at the next restart.
    Set {
        /// Which.
        setting: Setting,
        /// The new value.
        value: u64,
    },
    /// Restart the server process.
    Restart,
    /// Shut the server down, keeping its data.
    Stop,
    /// Start a stopped server: as a member that syncs from the current
    /// primary, or on its own as primary.
    Start {
        /// Start as primary (isolated from the old replica set).
        as_primary: bool,
    },
    /// Make the host the primary; the other members follow it and clients
    /// are pointed at it.
    Promote,
    /// Stop applying the replication stream (a delayed replica kept from
    /// applying what is coming).
    PauseApply,
    /// Take a copy of the host's data into the backup store.
    Snapshot,
    /// Restore the host's data from a copy, then serve as primary.
    Restore {
        /// Which copy.
        from: RestoreFrom,
    },
}

impl Do {
    /// Steps that destroy data on the host they run on.
    pub fn is_destructive(self) -> bool {
        matches!(self, Do::Wipe | Do::DropDatabase)
    }

    /// Its name in a runbook (`wipe`, `base_backup`).
    pub fn name(self) -> &'static str {
        do_name(self)
    }
}

/// One step of a runbook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Earliest start, from the start of the run.
    pub at: SimDuration,
    /// The host the step is meant for.
    pub host: String,
    /// The host it actually runs on, if not `host` (the operator's
    /// mistake: a fault).
    #[serde(default)]
    pub executed_on: Option<String>,
    /// What it does.
    #[serde(rename = "do")]
    pub what: Do,
    /// `base_backup`: the host to copy from; `restore`: `newest` or the
    /// host whose snapshot to restore.
    #[serde(default)]
    pub from: Option<String>,
    /// `set`: which setting.
    #[serde(default)]
    pub setting: Option<Setting>,
    /// `set`: its new value.
    #[serde(default)]
    pub value: Option<u64>,
    /// `start`: as primary, on its own.
    #[serde(default)]
    pub as_primary: bool,
    /// Give up on the step if it has not finished by then (a base backup
    /// that hangs); the host is told to abandon it.
    #[serde(default)]
    pub timeout: Option<SimDuration>,
    /// Why (shown in the timeline).
    #[serde(default)]
    pub note: String,
}

impl Step {
    /// The host the step reaches.
    pub fn target(&self) -> &str {
        self.executed_on.as_deref().unwrap_or(&self.host)
    }

    /// The action, with its parameters; `Err((field, message))` if one is
    /// missing.
    pub fn action(&self) -> Result<Action, (String, String)> {
        let need = |field: &str| {
            (
                field.to_string(),
                format!("`do = \"{}\"` needs `{field}`", do_name(self.what)),
            )
        };
        Ok(match self.what {
            Do::Wipe => Action::Wipe,
            Do::DropDatabase => Action::DropDatabase,
            Do::BaseBackup => Action::BaseBackup {
                from: self.from.clone().ok_or_else(|| need("from"))?,
            },
            Do::Cancel => Action::Cancel,
            Do::Set => Action::Set {
                setting: self.setting.ok_or_else(|| need("setting"))?,
                value: self.value.ok_or_else(|| need("value"))?,
            },
            Do::Restart => Action::Restart,
            Do::Stop => Action::Stop,
            Do::Start => Action::Start {
                as_primary: self.as_primary,
            },
            Do::Promote => Action::Promote,
            Do::PauseApply => Action::PauseApply,
            Do::Snapshot => Action::Snapshot,
            Do::Restore => Action::Restore {
                from: match self.from.as_deref() {
                    None => return Err(need("from")),
                    Some("newest") => RestoreFrom::Newest,
                    Some(h) => RestoreFrom::Host(h.to_string()),
                },
            },
        })
    }
}

fn do_name(d: Do) -> &'static str {
    match d {
        Do::Wipe => "wipe",
        Do::DropDatabase => "drop_database",
        Do::BaseBackup => "base_backup",
        Do::Cancel => "cancel",
        Do::Set => "set",
        Do::Restart => "restart",
        Do::Stop => "stop",
        Do::Start => "start",
        Do::Promote => "promote",
        Do::PauseApply => "pause_apply",
        Do::Snapshot => "snapshot",
        Do::Restore => "restore",
    }
}

/// Guards on destructive steps: design knobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guards {
    /// A destructive step checks that it runs on the host it names.
    #[serde(default)]
    pub host_identity: bool,
    /// A destructive step refuses to run on a primary serving writes.
    #[serde(default)]
    pub refuse_primary: bool,
}

impl Guards {
    /// Whether a destructive step meant for `intended` may run on host
    /// `on` (a primary serving writes if `primary`): `Err` with the
    /// refusal. Steps that destroy nothing are never refused.
    pub fn allow(
        &self,
        destructive: bool,
        intended: &str,
        on: &str,
        primary: bool,
    ) -> Result<(), String> {
        if !destructive {
            return Ok(());
        }
        if self.host_identity && on != intended {
            return Err(format!(
                "host-identity guard: this is {on}, the step names {intended}"
            ));
        }
        if self.refuse_primary && primary {
            return Err(format!("guard: {on} is a primary serving writes"));
        }
        Ok(())
    }
}

/// A step of some runbook: all a runbook needs is when it may start.
/// Systems with actions of their own (a control plane's "disable
/// workflows") give their own step type.
pub trait Timed {
    /// Earliest start, from the start of the run.
    fn at(&self) -> SimDuration;
}

impl Timed for Step {
    fn at(&self) -> SimDuration {
        self.at
    }
}

/// The progress of a runbook: steps run one after another.
#[derive(Clone, Debug, Default)]
pub struct Runbook<S = Step> {
    /// The steps.
    pub steps: Vec<S>,
    next: usize,
    running: bool,
    last_done: SimTime,
}

impl<S: Timed> Runbook<S> {
    /// A runbook not started.
    pub fn new(steps: Vec<S>) -> Self {
        Self {
            steps,
            next: 0,
            running: false,
            last_done: SimTime::ZERO,
        }
    }

    /// The next step to start and when (its time, or when the previous one
    /// finished), unless a step is running or none is left.
    pub fn due(&self) -> Option<(usize, SimTime)> {
        if self.running {
            return None;
        }
        let s = self.steps.get(self.next)?;
        let at = SimTime::ZERO + s.at();
        Some((self.next, at.max(self.last_done)))
    }

    /// Starts the next step if it is due at `now`: its index.
    pub fn start_due(&mut self, now: SimTime) -> Option<usize> {
        let (k, at) = self.due()?;
        if at > now {
            return None;
        }
        self.started(k);
        Some(k)
    }

    /// Step `k` started.
    pub fn started(&mut self, k: usize) {
        debug_assert_eq!(k, self.next);
        self.running = true;
    }

    /// The running step finished at `now` (done or not: a runbook goes on).
    pub fn finished(&mut self, now: SimTime) {
        if self.running {
            self.running = false;
            self.next += 1;
            self.last_done = now;
        }
    }

    /// True when every step ran.
    pub fn is_done(&self) -> bool {
        self.next >= self.steps.len()
    }
}

/// Time a step waits for an acknowledgement before it counts as failed.
pub const STEP_TIMEOUT: SimDuration = SimDuration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at: u64, host: &str, on: Option<&str>, what: Do) -> Step {
        Step {
            at: SimDuration::from_secs(at),
            host: host.into(),
            executed_on: on.map(str::to_string),
            what,
            from: None,
            setting: None,
            value: None,
            as_primary: false,
            timeout: None,
            note: String::new(),
        }
    }

    #[test]
    fn steps_run_in_order_and_wait_for_the_previous_one() {
        let mut r = Runbook::new(vec![
            step(10, "a", None, Do::Restart),
            step(20, "a", None, Do::Stop),
        ]);
        assert_eq!(r.due(), Some((0, SimTime::from_secs(10))));
        r.started(0);
        assert_eq!(r.due(), None);
        r.finished(SimTime::from_secs(50));
        assert_eq!(r.due(), Some((1, SimTime::from_secs(50))));
        r.started(1);
        r.finished(SimTime::from_secs(51));
        assert!(r.is_done());
    }

    #[test]
    fn guards_refuse_destructive_steps_only() {
        let wipe = step(0, "db2", Some("db1"), Do::Wipe);
        assert_eq!(wipe.target(), "db1");
        let none = Guards::default();
        assert!(
            none.allow(wipe.what.is_destructive(), &wipe.host, wipe.target(), true)
                .is_ok()
        );
        let id = Guards {
            host_identity: true,
            refuse_primary: false,
        };
        assert!(id.allow(true, &wipe.host, "db1", false).is_err());
        assert!(id.allow(true, &wipe.host, "db2", false).is_ok());
        let prim = Guards {
            host_identity: false,
            refuse_primary: true,
        };
        assert!(prim.allow(true, &wipe.host, "db1", true).is_err());
        assert!(prim.allow(true, &wipe.host, "db1", false).is_ok());
        let restart = step(0, "db2", Some("db1"), Do::Restart);
        assert!(
            id.allow(restart.what.is_destructive(), &restart.host, "db1", true)
                .is_ok()
        );
    }

    #[test]
    fn steps_read_from_toml() {
        let s: Step = toml::from_str(
            "at = \"6h7m\"\nhost = \"db2\"\nexecuted_on = \"db1\"\ndo = \"wipe\"\nnote = \"rm -rf\"",
        )
        .unwrap();
        assert_eq!(s.action(), Ok(Action::Wipe));
        let s: Step =
            toml::from_str("at = \"1h\"\nhost = \"db1\"\ndo = \"restore\"\nfrom = \"delayed\"")
                .unwrap();
        assert_eq!(
            s.action(),
            Ok(Action::Restore {
                from: RestoreFrom::Host("delayed".into())
            })
        );
        let s: Step = toml::from_str("at = \"1h\"\nhost = \"db1\"\ndo = \"base_backup\"").unwrap();
        assert_eq!(s.action().unwrap_err().0, "from");
        assert!(
            toml::from_str::<Step>("at = \"1h\"\nhost = \"db1\"\ndo = \"wipe\"\nform = \"x\"")
                .is_err()
        );
    }
}
