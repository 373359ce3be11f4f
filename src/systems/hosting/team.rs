//! The team: responds to the first call and runs its runbook (restart,
//! spare, restores by hand then automated), its times counted from when it
//! acts.

use super::*;

/// Between a team's attempts to start an array.
pub(super) const RETRY: SimDuration = SimDuration::from_secs(60);

/// The team that restores.
#[derive(Debug)]
pub struct Team {
    pub(super) cfg: Arc<HostingConfig>,
    pub(super) wiring: Arc<Wiring>,
    pub(super) called: bool,
    /// The runbook, its times shifted to when the team began acting.
    pub runbook: Runbook<HostingStep>,
    pub(super) waiting: Option<(u32, Option<TimerId>)>,
    pub(super) queue: VecDeque<u32>,
    pub(super) parallel: u32,
    pub(super) setup: SimDuration,
    pub(super) active: u32,
    pub(super) back: Vec<bool>,
}

impl Team {
    pub(super) fn new(cfg: Arc<HostingConfig>, wiring: Arc<Wiring>) -> Self {
        Self {
            runbook: Runbook::new(Vec::new()),
            waiting: None,
            queue: VecDeque::new(),
            parallel: 0,
            setup: SimDuration::ZERO,
            active: 0,
            back: vec![false; cfg.vms as usize],
            called: false,
            cfg,
            wiring,
        }
    }

    /// Step `k`.
    pub fn step(&self, k: u32) -> Option<&HostingStep> {
        self.runbook.steps.get(k as usize)
    }

    pub(super) fn schedule(&mut self, ctx: &mut Ctx<'_, HostingNode>) {
        if let Some((_, at)) = self.runbook.due() {
            ctx.set_timer(at.saturating_since(ctx.now()), Timer::Step);
        }
    }

    pub(super) fn finish(&mut self, ctx: &mut Ctx<'_, HostingNode>, step: u32, ok: bool, detail: String) {
        if self.waiting.map(|(s, _)| s) != Some(step) {
            return;
        }
        if let Some((_, Some(t))) = self.waiting.take() {
            ctx.cancel_timer(t);
        }
        ctx.record(Obs::Step { step, ok, detail });
        self.runbook.finished(ctx.now());
        self.schedule(ctx);
    }

    pub(super) fn pump(&mut self, ctx: &mut Ctx<'_, HostingNode>) {
        while self.active < self.parallel {
            let Some(vm) = self.queue.pop_front() else {
                return;
            };
            if self.back[vm as usize] {
                continue;
            }
            self.active += 1;
            ctx.record(Obs::RestoreBegun { vm });
            ctx.set_timer(self.setup, Timer::SetupDone(vm));
        }
    }

    pub(super) fn start_step(&mut self, ctx: &mut Ctx<'_, HostingNode>) {
        let Some(k) = self.runbook.start_due(ctx.now()) else {
            return;
        };
        let step = k as u32;
        let spec = self.runbook.steps[k].clone();
        let array = spec.array.as_ref().and_then(|a| self.cfg.array_index(a));
        match spec.what {
            HostingDo::RestartArray | HostingDo::StartSpare => {
                let Some(a) = array else { return };
                let replaces = spec.replaces.as_ref().and_then(|r| self.cfg.array_index(r));
                ctx.send(self.wiring.arrays[a], Msg::Start { step, replaces });
                ctx.set_timer(
                    RETRY,
                    Timer::Retry {
                        step,
                        array: a,
                        replaces,
                    },
                );
                let takes = spec.takes.unwrap_or(SimDuration::from_secs(3600));
                let t = ctx.set_timer(takes, Timer::StepTimeout(step));
                self.waiting = Some((step, Some(t)));
            }
            HostingDo::Restore | HostingDo::Automate => {
                self.waiting = Some((step, None));
                let mut queued = 0;
                if spec.what == HostingDo::Restore
                    && let Some(a) = array
                    && (a == self.wiring.on || Some(a) == self.wiring.mirror)
                {
                    for vm in 0..self.cfg.vms {
                        if !self.back[vm as usize] && !self.queue.contains(&vm) {
                            self.queue.push_back(vm);
                            queued += 1;
                        }
                    }
                }
                self.parallel = spec.parallel.unwrap_or(1);
                self.setup = spec.setup.unwrap_or_default();
                self.pump(ctx);
                let detail = match spec.what {
                    HostingDo::Restore => format!(
                        "{queued} VMs to restore, {} at a time, {} of setup each",
                        self.parallel, self.setup
                    ),
                    _ => format!(
                        "restores now {} at a time, {} of setup each; {} waiting",
                        self.parallel,
                        self.setup,
                        self.queue.len()
                    ),
                };
                self.finish(ctx, step, true, detail);
            }
        }
    }

    /// An array a step started is serving: the VMs whose volumes it holds
    /// are back (a restarted array, the same paths), or remount it (a spare
    /// with the replaced array's disks).
    pub(super) fn array_started(&mut self, ctx: &mut Ctx<'_, HostingNode>, s: &HostingStep) {
        let w = self.wiring.clone();
        let holds_volumes = |a: usize| a == w.on || Some(a) == w.mirror;
        let Some(a) = s.array.as_ref().and_then(|a| self.cfg.array_index(a)) else {
            return;
        };
        let (target, remount) = match s.what {
            HostingDo::RestartArray => (a, false),
            HostingDo::StartSpare => {
                match s.replaces.as_ref().and_then(|r| self.cfg.array_index(r)) {
                    Some(r) => (r, true),
                    None => return,
                }
            }
            _ => return,
        };
        if !holds_volumes(target) {
            return;
        }
        for vm in 0..self.cfg.vms {
            if !self.back[vm as usize] {
                self.back[vm as usize] = true;
                if remount {
                    ctx.send(
                        w.vms[vm as usize],
                        Msg::Remount {
                            array: a,
                            data_at: None,
                        },
                    );
                }
            }
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, HostingNode>, msg: Msg) {
        match msg {
            Msg::Call { cause } if !self.called => {
                self.called = true;
                ctx.record(Obs::Called { cause });
                ctx.set_timer(self.cfg.team.response, Timer::Act);
            }
            Msg::Started { step, ok, detail } => {
                if self.waiting.map(|(s, _)| s) != Some(step) {
                    return;
                }
                let spec = self.runbook.steps.get(step as usize).cloned();
                if ok && let Some(s) = spec {
                    self.array_started(ctx, &s);
                }
                self.finish(ctx, step, ok, detail);
            }
            Msg::Restored { vm, ok, .. } => {
                self.active = self.active.saturating_sub(1);
                if ok {
                    self.back[vm as usize] = true;
                } else {
                    ctx.record(Obs::Unrecoverable { vm });
                }
                self.pump(ctx);
            }
            Msg::NoCopy { vm } => {
                self.active = self.active.saturating_sub(1);
                ctx.record(Obs::Unrecoverable { vm });
                self.pump(ctx);
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
        match timer {
            Timer::Act => {
                ctx.record(Obs::Acting);
                let from = ctx.now().saturating_since(SimTime::ZERO);
                let steps = self
                    .cfg
                    .team
                    .step
                    .iter()
                    .map(|s| HostingStep {
                        at: s.at + from,
                        ..s.clone()
                    })
                    .collect();
                self.runbook = Runbook::new(steps);
                self.schedule(ctx);
            }
            Timer::Step => self.start_step(ctx),
            Timer::Retry {
                step,
                array,
                replaces,
            } if self.waiting.map(|(s, _)| s) == Some(step) => {
                // Still trying: power-cycle again.
                ctx.send(self.wiring.arrays[array], Msg::Start { step, replaces });
                ctx.set_timer(
                    RETRY,
                    Timer::Retry {
                        step,
                        array,
                        replaces,
                    },
                );
            }
            Timer::StepTimeout(step) => {
                let takes = self
                    .step(step)
                    .and_then(|s| s.takes)
                    .unwrap_or(SimDuration::from_secs(3600));
                self.finish(ctx, step, false, format!("no answer in {takes}"));
            }
            Timer::SetupDone(vm) => {
                if self.back[vm as usize] {
                    self.active = self.active.saturating_sub(1);
                    self.pump(ctx);
                } else {
                    ctx.send(self.wiring.cold, Msg::Fetch { vm });
                }
            }
            _ => {}
        }
    }
}
