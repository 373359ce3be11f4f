//! The web tier: probes every VM per round, counting the sites on it,
//! and pages the operations centre when too many fail.

use super::*;

/// The web tier: probes and service monitoring.
#[derive(Debug)]
pub struct Web {
    pub(super) cfg: Arc<HostingConfig>,
    pub(super) wiring: Arc<Wiring>,
    pub(super) round: u32,
    pub(super) round_at: SimTime,
    pub(super) answered: Vec<bool>,
    pub(super) up: Vec<bool>,
    pub(super) bad_rounds: u32,
    pub(super) paged: bool,
    /// Sites served per window (each probe round counts every site on the
    /// VM probed).
    pub sites: Vec<Tally>,
}

impl Web {
    pub(super) fn new(cfg: Arc<HostingConfig>, wiring: Arc<Wiring>) -> Self {
        let n = cfg.vms as usize;
        Self {
            cfg,
            wiring,
            round: 0,
            round_at: SimTime::ZERO,
            answered: vec![false; n],
            up: vec![true; n],
            bad_rounds: 0,
            paged: false,
            sites: Vec::new(),
        }
    }

    /// Closes the round that began at `round_at`.
    pub(super) fn close_round(&mut self, ctx: &mut Ctx<'_, HostingNode>) {
        let (at, res) = (self.round_at.as_nanos(), self.cfg.resolution.as_nanos());
        let window = crate::check::tally::slot(&mut self.sites, at, res);
        let mut down = 0u64;
        for k in 0..self.cfg.vms {
            let n = self.cfg.sites_on(k);
            let ok = self.answered[k as usize];
            window.requests += n;
            if ok {
                window.ok += n;
            } else {
                down += n;
            }
            if ok != self.up[k as usize] {
                self.up[k as usize] = ok;
                ctx.record(Obs::VmUp {
                    vm: k,
                    up: ok,
                    at: self.round_at,
                });
            }
        }
        let d = &self.cfg.detection;
        if down as f64 >= d.down_fraction * f64::from(self.cfg.sites) {
            self.bad_rounds += 1;
        } else {
            self.bad_rounds = 0;
            self.paged = false;
        }
        if self.bad_rounds >= d.rounds && !self.paged {
            self.paged = true;
            ctx.send(self.wiring.monitoring, Msg::Degraded { sites_down: down });
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
        if let Timer::Probe = timer {
            if ctx.now() > SimTime::ZERO {
                self.close_round(ctx);
            }
            self.round = self.round.wrapping_add(1);
            self.round_at = ctx.now();
            self.answered.iter_mut().for_each(|a| *a = false);
            for &vm in &self.wiring.vms {
                ctx.send(vm, Msg::Query { round: self.round });
            }
            ctx.set_timer(self.cfg.probe_every, Timer::Probe);
        }
    }

    pub(super) fn on_message(&mut self, msg: Msg) {
        if let Msg::Answer { round, vm, ok } = msg
            && round == self.round
            && let Some(a) = self.answered.get_mut(vm as usize)
        {
            *a = ok;
        }
    }
}
