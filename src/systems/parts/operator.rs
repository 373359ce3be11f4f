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
//!
//! Steps start in one of three ways. A step with `at` was scheduled (a
//! maintenance, a deploy, a cut-over). A step with `on` is a reaction: it
//! waits until the operators' monitoring shows a [`Trigger`]'s condition,
//! then for a response [`Delay`] (notice, acknowledge, act), and stands
//! down if the condition cleared meanwhile; if the condition never shows,
//! the step and everything after it never run. A step with neither
//! follows the previous one, `after` a delay. So when a design removes a
//! cause the people stop reacting to it, and when the cause moves their
//! response moves with it.

use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// A server setting a step may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// What a database's monitoring shows the operators, host by host: the
/// conditions a runbook step can react to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DbSignal {
    /// The host does not answer the monitoring, or its server is stopped.
    Down,
    /// The host answers but its database is gone (dropped, or the data
    /// directory deleted).
    DataMissing,
    /// The host's replication broke and cannot resume (the log it needs
    /// was removed upstream).
    ReplicationBroken,
    /// The host is more than `above` GB behind its upstream.
    Lagging,
    /// A backup job's last run failed and its alert reached someone
    /// (`job`): a failure whose alert path is broken is never seen.
    BackupFailed,
}

impl DbSignal {
    /// Its name in a runbook.
    pub fn name(self) -> &'static str {
        match self {
            DbSignal::Down => "down",
            DbSignal::DataMissing => "data_missing",
            DbSignal::ReplicationBroken => "replication_broken",
            DbSignal::Lagging => "lagging",
            DbSignal::BackupFailed => "backup_failed",
        }
    }
}

/// A condition on what the operators can see: `signal` about `host` (or
/// `job`), holding for at least `for`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger<S> {
    /// What is seen.
    pub signal: S,
    /// The host it is about.
    #[serde(default)]
    pub host: Option<String>,
    /// The job it is about (backup signals).
    #[serde(default)]
    pub job: Option<String>,
    /// Threshold of a measured signal (`lagging`: GB behind).
    #[serde(default)]
    pub above: Option<f64>,
    /// How long it must hold before anyone reacts.
    #[serde(default, rename = "for")]
    pub lasting: Option<SimDuration>,
}

/// How long people take from a signal (or the previous step) to acting: a
/// fixed time (`after = "10m"`), or stages, each drawn uniformly within
/// `spread` of its value (`after = { notice = "5m", acknowledge = "2m",
/// act = "3m", spread = 0.5 }`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Delay {
    /// Always this long.
    Fixed(SimDuration),
    /// Notice, acknowledge, act.
    Stages {
        /// From the condition to someone noticing it.
        notice: SimDuration,
        /// From noticing to someone taking it on.
        #[serde(default)]
        acknowledge: Option<SimDuration>,
        /// From taking it on to the action.
        #[serde(default)]
        act: Option<SimDuration>,
        /// Each stage is drawn uniformly in `[d × (1 − spread), d × (1 +
        /// spread)]`; 0 (the default) makes it fixed.
        #[serde(default)]
        spread: f64,
    },
}

impl Delay {
    /// One draw.
    pub fn draw(&self, rng: &mut SimRng) -> SimDuration {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Stages {
                notice,
                acknowledge,
                act,
                spread,
            } => [Some(notice), acknowledge, act]
                .into_iter()
                .flatten()
                .map(|d| {
                    if spread <= 0.0 {
                        return d;
                    }
                    let f = rng.random_range((1.0 - spread)..=(1.0 + spread));
                    SimDuration::from_secs_f64(d.as_secs_f64() * f)
                })
                .fold(SimDuration::ZERO, |a, b| a + b),
        }
    }

    /// `Err(message)` unless the spread is within 0..=1.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Delay::Stages { spread, .. } if !(0.0..=1.0).contains(&spread) => {
                Err(format!("spread must be within 0 and 1, not {spread}"))
            }
            _ => Ok(()),
        }
    }
}

/// One step of a runbook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Earliest start, from the start of the run: a scheduled step.
    #[serde(default)]
    pub at: Option<SimDuration>,
    /// A reaction: the step waits for this condition to show.
    #[serde(default)]
    pub on: Option<Trigger<DbSignal>>,
    /// The response delay after `on`, or, without `on` and `at`, after the
    /// previous step finished.
    #[serde(default)]
    pub after: Option<Delay>,
    /// Skip the step unless this holds when it is due (its reason is
    /// gone).
    #[serde(default)]
    pub only_if: Option<Trigger<DbSignal>>,
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

    /// `Err((field, message))` if the way the step starts is contradictory
    /// or a trigger lacks what its signal needs.
    pub fn check_start(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
        if self.at.is_some() && self.on.is_some() {
            return err(
                "on",
                "a step is either scheduled (`at`) or a reaction (`on`), not both",
            );
        }
        if self.at.is_some() && self.after.is_some() {
            return err(
                "after",
                "`after` delays a reaction or a follow-up step; a scheduled step has its `at`",
            );
        }
        if let Some(d) = &self.after {
            d.validate().map_err(|m| ("after".to_string(), m))?;
        }
        for (field, t) in [("on", &self.on), ("only_if", &self.only_if)] {
            if let Some(t) = t {
                t.check().map_err(|(f, m)| (format!("{field}.{f}"), m))?;
            }
        }
        Ok(())
    }
}

impl Trigger<DbSignal> {
    /// `Err((field, message))` if the signal lacks its subject.
    pub fn check(&self) -> Result<(), (String, String)> {
        let name = self.signal.name();
        let need = |f: &str| Err((f.to_string(), format!("signal `{name}` needs `{f}`")));
        match self.signal {
            DbSignal::BackupFailed if self.job.is_none() => need("job"),
            DbSignal::BackupFailed => Ok(()),
            _ if self.host.is_none() => need("host"),
            DbSignal::Lagging if self.above.is_none() => need("above"),
            _ => Ok(()),
        }
    }

    /// What it waits for, in words (`replication_broken on db2`).
    pub fn describe(&self) -> String {
        let subject = self.host.as_deref().or(self.job.as_deref()).unwrap_or("?");
        let above = self
            .above
            .map(|a| format!(" above {a} GB"))
            .unwrap_or_default();
        let lasting = self
            .lasting
            .map(|d| format!(" for {d}"))
            .unwrap_or_default();
        format!("{} on {subject}{above}{lasting}", self.signal.name())
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
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
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

/// A step of some runbook: all a runbook needs is how it may start.
/// Systems with actions of their own (a control plane's "disable
/// workflows") give their own step type.
pub trait Timed {
    /// Earliest start, from the start of the run, for a scheduled step.
    fn at(&self) -> Option<SimDuration>;
    /// True for a reaction: the step waits to be [`Runbook::arm`]ed.
    fn triggered(&self) -> bool {
        false
    }
    /// Delay after the previous step of a follow-up step.
    fn after(&self) -> Option<Delay> {
        None
    }
}

impl Timed for Step {
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

/// The progress of a runbook: steps run one after another.
#[derive(Clone, Debug, Default)]
pub struct Runbook<S = Step> {
    /// The steps.
    pub steps: Vec<S>,
    next: usize,
    running: bool,
    last_done: SimTime,
    /// When the current step may start, once known: a reaction armed by
    /// its trigger, or a follow-up's drawn delay.
    ready: Option<SimTime>,
}

impl<S: Timed> Runbook<S> {
    /// A runbook not started.
    pub fn new(steps: Vec<S>) -> Self {
        Self {
            steps,
            next: 0,
            running: false,
            last_done: SimTime::ZERO,
            ready: None,
        }
    }

    /// The next step to start and when (its time, or when the previous one
    /// finished), unless a step is running, none is left, or the next one
    /// is a reaction still waiting for its trigger.
    pub fn due(&self) -> Option<(usize, SimTime)> {
        if self.running {
            return None;
        }
        let s = self.steps.get(self.next)?;
        let at = match (self.ready, s.at()) {
            (Some(r), _) => r,
            (None, _) if s.triggered() => return None,
            (None, Some(at)) => SimTime::ZERO + at,
            (None, None) => self.last_done,
        };
        Some((self.next, at.max(self.last_done)))
    }

    /// The current step, if it is a reaction waiting for its trigger.
    pub fn waiting(&self) -> Option<(usize, &S)> {
        let s = self.steps.get(self.next)?;
        (!self.running && s.triggered() && self.ready.is_none()).then_some((self.next, s))
    }

    /// The trigger of the waiting reaction was seen at `seen`: it may start
    /// `delay` later.
    pub fn arm(&mut self, seen: SimTime, delay: SimDuration) {
        self.ready = Some(seen + delay);
    }

    /// The armed reaction's condition cleared before it started: it waits
    /// for its trigger again.
    pub fn stand_down(&mut self) {
        self.ready = None;
    }

    /// Draws the delay of the current step if it follows the previous one
    /// `after` a delay; call at the start and after each step.
    pub fn follow(&mut self, rng: &mut SimRng) {
        let Some(s) = self.steps.get(self.next) else {
            return;
        };
        if self.ready.is_none()
            && !self.running
            && !s.triggered()
            && s.at().is_none()
            && let Some(d) = s.after()
        {
            self.ready = Some(self.last_done + d.draw(rng));
        }
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
            self.ready = None;
        }
    }

    /// Steps not reached (the first of them waits for its trigger, or the
    /// run ended first).
    pub fn left(&self) -> std::ops::Range<usize> {
        (self.next + usize::from(self.running)).min(self.steps.len())..self.steps.len()
    }

    /// True when every step ran.
    pub fn is_done(&self) -> bool {
        self.next >= self.steps.len()
    }
}

/// What a service's operators see of its clients: the failed fraction of
/// what they asked, as the monitoring measures it over each scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientSignal {
    /// The fraction of customers' requests that failed is above `above`.
    Errors,
    /// The fraction of modifying API calls (changes) that failed is above
    /// `above`.
    ApiErrors,
}

impl ClientSignal {
    /// Its name in a runbook.
    pub fn name(self) -> &'static str {
        match self {
            ClientSignal::Errors => "errors",
            ClientSignal::ApiErrors => "api_errors",
        }
    }
}

impl Trigger<ClientSignal> {
    /// `Err((field, message))` unless `above` is a fraction.
    pub fn check(&self) -> Result<(), (String, String)> {
        match self.above {
            Some(a) if (0.0..1.0).contains(&a) => Ok(()),
            _ => Err((
                "above".into(),
                format!(
                    "signal `{}` needs `above`, a fraction in [0, 1)",
                    self.signal.name()
                ),
            )),
        }
    }

    /// What it waits for, in words.
    pub fn describe(&self) -> String {
        let lasting = self
            .lasting
            .map(|d| format!(" for {d}"))
            .unwrap_or_default();
        format!(
            "{} above {:.1} %{lasting}",
            self.signal.name(),
            self.above.unwrap_or(0.0) * 100.0
        )
    }
}

/// `Err((field, message))` if a step with client-signal triggers starts
/// in contradictory ways or its trigger lacks a threshold.
pub fn check_start(
    at: Option<SimDuration>,
    on: Option<&Trigger<ClientSignal>>,
    after: Option<&Delay>,
) -> Result<(), (String, String)> {
    let err = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
    if at.is_some() && on.is_some() {
        return err(
            "on",
            "a step is either scheduled (`at`) or a reaction (`on`), not both",
        );
    }
    if at.is_some() && after.is_some() {
        return err(
            "after",
            "`after` delays a reaction or a follow-up step; a scheduled step has its `at`",
        );
    }
    if let Some(d) = after {
        d.validate().map_err(|m| ("after".to_string(), m))?;
    }
    if let Some(t) = on {
        t.check().map_err(|(f, m)| (format!("on.{f}"), m))?;
    }
    Ok(())
}

/// What the clients saw since the monitoring last asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    /// Requests that ended.
    pub requests: u64,
    /// Of those, failed or unanswered.
    pub failed: u64,
    /// Modifying API calls that ended.
    pub calls: u64,
    /// Of those, failed or unanswered.
    pub calls_failed: u64,
}

impl Failures {
    /// The failed fraction `signal` measures (0 with nothing measured).
    pub fn fraction(&self, signal: ClientSignal) -> f64 {
        let (n, bad) = match signal {
            ClientSignal::Errors => (self.requests, self.failed),
            ClientSignal::ApiErrors => (self.calls, self.calls_failed),
        };
        if n == 0 { 0.0 } else { bad as f64 / n as f64 }
    }

    /// A request ended, `ok` or not.
    pub fn request(&mut self, ok: bool) {
        self.requests += 1;
        self.failed += u64::from(!ok);
    }

    /// An API call ended, `ok` or not.
    pub fn call(&mut self, ok: bool) {
        self.calls += 1;
        self.calls_failed += u64::from(!ok);
    }
}

/// The monitoring of an operator whose runbook reacts to its clients'
/// failures: asks every `every`, remembers the last answer and since when
/// the awaited condition has held.
#[derive(Clone, Debug)]
pub struct ClientWatch {
    /// The scrape interval.
    pub every: SimDuration,
    last: Failures,
    holding: Holding,
}

impl ClientWatch {
    /// A watch scraping every `every`.
    pub fn new(every: SimDuration) -> Self {
        Self {
            every,
            last: Failures::default(),
            holding: Holding::default(),
        }
    }

    /// A measurement arrived at `now`: true once `on` has held for its
    /// `for`.
    pub fn observe(&mut self, seen: Failures, on: &Trigger<ClientSignal>, now: SimTime) -> bool {
        self.last = seen;
        let holds = self.holds(on);
        self.holding.update(holds, now, on.lasting)
    }

    /// Whether `on` holds on the last measurement.
    pub fn holds(&self, on: &Trigger<ClientSignal>) -> bool {
        self.last.fraction(on.signal) > on.above.unwrap_or(0.0)
    }

    /// The last measurement.
    pub fn last(&self) -> Failures {
        self.last
    }

    /// Forget since when (the runbook moved on or stood down).
    pub fn reset(&mut self) {
        self.holding.reset();
    }
}

/// A step whose reaction waits on a client signal (the control plane's,
/// the coordination operators').
pub trait ClientStep: Timed {
    /// Its trigger, if it is a reaction.
    fn trigger(&self) -> Option<&Trigger<ClientSignal>>;
    /// What it does, in words (`scale_proxies`).
    fn label(&self) -> String;
}

impl<S: ClientStep> Runbook<S> {
    /// A measurement arrived at `now`: if the waiting reaction's condition
    /// has held long enough, it is armed after its drawn response delay.
    /// The words for the timeline, when it is.
    pub fn observe(
        &mut self,
        watch: &mut ClientWatch,
        seen: Failures,
        now: SimTime,
        rng: &mut SimRng,
        who: &str,
    ) -> Option<String> {
        let (k, s) = self.waiting()?;
        let on = s.trigger()?;
        if !watch.observe(seen, on, now) {
            return None;
        }
        let delay = s.after().map_or(SimDuration::ZERO, |d| d.draw(rng));
        let what = format!(
            "{who}: the monitoring shows {} ({:.1} %); step {k} ({}) follows in {delay}",
            on.describe(),
            seen.fraction(on.signal) * 100.0,
            s.label()
        );
        self.arm(now, delay);
        Some(what)
    }

    /// Whether step `k` may start: a reaction whose condition cleared by
    /// the last measurement stands down and waits again (`Err`: the words
    /// for the timeline).
    pub fn confirm(&mut self, watch: &mut ClientWatch, k: usize, who: &str) -> Result<(), String> {
        let Some(on) = self.steps[k].trigger() else {
            return Ok(());
        };
        if watch.holds(on) {
            return Ok(());
        }
        let what = format!(
            "{who}: step {k} stood down: {} cleared before it was due",
            on.describe()
        );
        watch.reset();
        self.stand_down();
        Err(what)
    }

    /// The timeline's words for the steps never reached, if any.
    pub fn unreached_words(&self, who: &str) -> Option<String> {
        let waiting = self
            .waiting()
            .and_then(|(_, s)| s.trigger().map(|t| t.describe()));
        unreached(who, self.left(), waiting)
    }
}

/// Since when a watched condition has held: a reaction fires once it has
/// held for its trigger's `for`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Holding {
    since: Option<SimTime>,
}

impl Holding {
    /// Records whether the condition holds at `now`; true once it has held
    /// without a break for `lasting`.
    pub fn update(&mut self, holds: bool, now: SimTime, lasting: Option<SimDuration>) -> bool {
        if !holds {
            self.since = None;
            return false;
        }
        let since = *self.since.get_or_insert(now);
        now.saturating_since(since) >= lasting.unwrap_or_default()
    }

    /// Forget it (the runbook moved on, or the reaction stood down).
    pub fn reset(&mut self) {
        self.since = None;
    }
}

/// The timeline's words for a runbook that did not finish: `who` never ran
/// the steps `left`, waiting for `waiting` (a trigger, in words) or cut off
/// by the end of the run. `None` if nothing was left.
pub fn unreached(
    who: &str,
    left: std::ops::Range<usize>,
    waiting: Option<String>,
) -> Option<String> {
    if left.is_empty() {
        return None;
    }
    let range = if left.len() == 1 {
        format!("step {}", left.start)
    } else {
        format!("steps {}–{}", left.start, left.end - 1)
    };
    let why = waiting.map_or_else(
        || "the run ended first".to_string(),
        |t| format!("waiting for {t}, which never showed"),
    );
    Some(format!("{who} never ran {range} ({why})"))
}

/// Time a step waits for an acknowledgement before it counts as failed.
pub const STEP_TIMEOUT: SimDuration = SimDuration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at: u64, host: &str, on: Option<&str>, what: Do) -> Step {
        Step {
            at: Some(SimDuration::from_secs(at)),
            on: None,
            after: None,
            only_if: None,
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
    fn a_reaction_waits_for_its_trigger_and_follow_ups_for_their_delay() {
        use rand::SeedableRng;
        let mut rng = SimRng::seed_from_u64(1);
        let mut react = step(0, "a", None, Do::Restart);
        react.at = None;
        react.on = Some(Trigger {
            signal: DbSignal::Down,
            host: Some("a".into()),
            job: None,
            above: None,
            lasting: None,
        });
        let mut follow = step(0, "a", None, Do::Stop);
        follow.at = None;
        follow.after = Some(Delay::Fixed(SimDuration::from_secs(60)));
        let mut r = Runbook::new(vec![react, follow]);
        r.follow(&mut rng);
        assert_eq!(r.due(), None, "nothing seen yet");
        assert_eq!(r.waiting().map(|(k, _)| k), Some(0));
        r.arm(SimTime::from_secs(100), SimDuration::from_secs(30));
        assert_eq!(r.due(), Some((0, SimTime::from_secs(130))));
        r.stand_down();
        assert_eq!(r.due(), None, "cleared: waits again");
        r.arm(SimTime::from_secs(500), SimDuration::from_secs(30));
        assert_eq!(r.start_due(SimTime::from_secs(530)), Some(0));
        r.finished(SimTime::from_secs(540));
        r.follow(&mut rng);
        assert_eq!(r.due(), Some((1, SimTime::from_secs(600))));
        assert_eq!(r.left(), 1..2);
    }

    #[test]
    fn staged_delays_stay_within_their_spread() {
        use rand::SeedableRng;
        let mut rng = SimRng::seed_from_u64(7);
        let d = Delay::Stages {
            notice: SimDuration::from_secs(100),
            acknowledge: Some(SimDuration::from_secs(100)),
            act: None,
            spread: 0.5,
        };
        let draws: Vec<f64> = (0..200).map(|_| d.draw(&mut rng).as_secs_f64()).collect();
        assert!(draws.iter().all(|x| (100.0..=300.0).contains(x)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 200.0).abs() < 10.0, "{mean}");
        let wide = Delay::Stages {
            notice: SimDuration::from_secs(1),
            acknowledge: None,
            act: None,
            spread: 1.5,
        };
        assert!(wide.validate().is_err());
        assert!(d.validate().is_ok());
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
