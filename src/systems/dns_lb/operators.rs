//! The operators of the DNS records and what they see: each runbook step
//! is scheduled (`at`) or a reaction (`on`) to the operators' monitoring,
//! which probes every DC's load balancer from the authority's site and,
//! every scrape, reads the fraction of probes that went unanswered. A
//! reaction fires once, `after` its condition has held for its `for`, so
//! the withdrawal follows the degradation the operators saw: earlier when
//! it comes earlier, never when it does not come.

use super::config::{AuthorityConfig, DnsAction};
use crate::rng::SimRng;
use crate::systems::parts::operator::{ClientSignal, ClientWatch, Delay, Failures, Trigger};
use crate::time::{SimDuration, SimTime};

/// Probe numbers of the monitoring carry this bit (the health checker's
/// do not).
pub const MONITOR_SEQ: u32 = 1 << 31;

/// One runbook step on a DC's record.
#[derive(Clone, Debug)]
pub struct Step {
    /// Scheduled at this time, if it is.
    pub at: Option<SimTime>,
    on: Option<(Trigger<ClientSignal>, ClientWatch)>,
    after: Option<Delay>,
    /// What it does.
    pub action: DnsAction,
    /// To which DC's record.
    pub dc: u8,
    /// A reaction whose condition has held (it is due or done).
    pub armed: bool,
}

/// The operators' runbook and monitoring.
#[derive(Clone, Debug)]
pub struct Operators {
    /// The steps, in runbook order.
    pub steps: Vec<Step>,
    /// Probe interval and scrape interval.
    pub every: SimDuration,
    /// Scrape interval.
    pub scrape: SimDuration,
    awaiting: Vec<bool>,
    seen: Vec<Failures>,
    seq: u32,
}

impl Operators {
    /// The runbook of `config` over `dcs` datacenters.
    pub fn new(config: &AuthorityConfig, dcs: usize, dc_index: &dyn Fn(&str) -> u8) -> Self {
        let steps = config
            .action
            .iter()
            .map(|a| Step {
                at: a.at.map(|d| SimTime::ZERO + d),
                on: a.on.clone().map(|t| (t, ClientWatch::new(config.scrape))),
                after: a.after,
                action: a.action,
                dc: dc_index(&a.dc),
                armed: false,
            })
            .collect();
        Operators {
            steps,
            every: config.monitor_every,
            scrape: config.scrape,
            awaiting: vec![false; dcs],
            seen: vec![Failures::default(); dcs],
            seq: 0,
        }
    }

    /// Whether any step watches the monitoring (else nothing probes).
    pub fn watching(&self) -> bool {
        self.steps.iter().any(|s| s.on.is_some())
    }

    /// A monitoring round: the previous probes that went unanswered are
    /// counted failed; returns the sequence number of the next probes.
    pub fn probe_round(&mut self) -> u32 {
        for (dc, waiting) in self.awaiting.iter_mut().enumerate() {
            if self.seq > 0 {
                self.seen[dc].request(!*waiting);
            }
            *waiting = true;
        }
        self.seq += 1;
        MONITOR_SEQ | self.seq
    }

    /// A probe's answer from `dc`.
    pub fn answered(&mut self, dc: usize, seq: u32) {
        if seq == MONITOR_SEQ | self.seq
            && let Some(w) = self.awaiting.get_mut(dc)
        {
            *w = false;
        }
    }

    /// A scrape at `now`: each reaction whose condition now holds for its
    /// `for` is armed; returns `(step, delay, condition in words)` for
    /// each, the delay drawn from its `after`.
    pub fn scrape(
        &mut self,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Vec<(usize, SimDuration, String)> {
        let seen = std::mem::take(&mut self.seen);
        self.seen = vec![Failures::default(); seen.len()];
        let mut due = Vec::new();
        for (i, step) in self.steps.iter_mut().enumerate() {
            let Some((on, watch)) = step.on.as_mut() else {
                continue;
            };
            let dc = seen.get(step.dc as usize).copied().unwrap_or_default();
            if watch.observe(dc, on, now) && !step.armed {
                step.armed = true;
                let delay = step.after.map_or(SimDuration::ZERO, |d| d.draw(rng));
                due.push((i, delay, on.describe()));
            }
        }
        due
    }
}
