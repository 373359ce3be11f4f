//! What the operators can see: a monitoring loop that asks every host how
//! it is, every `scrape`, and answers whether a runbook trigger holds.
//!
//! Why a loop and not a peek at the hosts: operators see only what reaches
//! them. A host that does not answer (crashed, cut off) shows as down,
//! whatever it is doing; a backup failure whose alert goes nowhere never
//! shows; and a condition is seen at the first scrape after it began, not
//! the instant it began. So a reaction's timing comes from the mechanism
//! plus the monitoring, and only the people's response delay is an input.

use super::Status;
use super::wiring::Wiring;
use crate::sim::NodeId;
use crate::systems::parts::operator::{DbSignal, Holding, Trigger};
use crate::time::SimTime;

/// The latest status of every host, as the monitoring last saw it.
#[derive(Debug)]
pub struct Monitor {
    hosts: Vec<NodeId>,
    /// Per host: the status of the last scrape, or `None` before the first
    /// answer.
    seen: Vec<Option<Status>>,
    answered: Vec<bool>,
    /// Since when the condition the runbook waits for has held, as seen.
    holding: Holding,
}

impl Monitor {
    /// A monitor of every host of `wiring`.
    pub fn new(wiring: &Wiring) -> Self {
        let n = wiring.hosts.len();
        Self {
            hosts: wiring.hosts.clone(),
            seen: vec![None; n],
            answered: vec![true; n],
            holding: Holding::default(),
        }
    }

    /// A new scrape begins: hosts that did not answer the last one show as
    /// down. The hosts to ask.
    pub fn scrape(&mut self) -> &[NodeId] {
        for (k, ok) in self.answered.iter_mut().enumerate() {
            if !*ok {
                self.seen[k] = Some(Status::default());
            }
            *ok = false;
        }
        &self.hosts
    }

    /// Host `from` answered.
    pub fn answer(&mut self, from: NodeId, status: Status) {
        if let Some(k) = self.hosts.iter().position(|&h| h == from) {
            self.answered[k] = true;
            self.seen[k] = Some(status);
        }
    }

    /// Whether `t` holds on what was last seen.
    pub fn holds(&self, t: &Trigger<DbSignal>, cfg: &super::DurableDbConfig) -> bool {
        if t.signal == DbSignal::BackupFailed {
            let Some(job) = cfg.backup.iter().position(|b| Some(&b.name) == t.job.as_ref()) else {
                return false;
            };
            return self
                .seen
                .iter()
                .flatten()
                .any(|s| s.failed_alerted.contains(&job));
        }
        let Some(k) = t
            .host
            .as_ref()
            .and_then(|h| cfg.host.iter().position(|c| &c.name == h))
        else {
            return false;
        };
        let Some(s) = &self.seen[k] else {
            return false;
        };
        match t.signal {
            DbSignal::Down => !s.up,
            DbSignal::DataMissing => s.data_missing,
            DbSignal::ReplicationBroken => s.broken,
            DbSignal::Lagging => {
                s.lag as f64 > t.above.unwrap_or(f64::INFINITY) * super::config::GB
            }
            DbSignal::BackupFailed => false,
        }
    }

    /// Whether `t` has held for its `for` at `now`, tracking since when it
    /// holds; call at every answer while a reaction waits for `t`.
    pub fn lasted(&mut self, t: &Trigger<DbSignal>, cfg: &super::DurableDbConfig, now: SimTime) -> bool {
        let holds = self.holds(t, cfg);
        self.holding.update(holds, now, t.lasting)
    }

    /// The runbook moved on: the next trigger's clock starts afresh.
    pub fn reset(&mut self) {
        self.holding.reset();
    }
}
