//! The state store: records, hourly snapshots, the change log, restore
//! and merge.

use super::*;

/// The state store.
#[derive(Debug)]
pub struct Store {
    pub(super) cfg: Arc<ControlPlaneConfig>,
    /// Generation per load balancer (`None`: deleted).
    pub records: Vec<Option<u32>>,
    pub(super) changes: Vec<(SimTime, u32, u32)>,
    pub(super) snapshots: Catalogue<Arc<Vec<Option<u32>>>>,
    pub(super) restored_at: Option<SimTime>,
}

impl Store {
    pub(super) fn new(cfg: Arc<ControlPlaneConfig>) -> Self {
        Self {
            records: vec![Some(0); cfg.lbs as usize],
            changes: Vec::new(),
            snapshots: Catalogue::new(),
            restored_at: None,
            cfg,
        }
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, CpNode>) {
        if let Some(t) = self.cfg.snapshot.next_run(ctx.now()) {
            ctx.set_timer(t.saturating_since(ctx.now()), Timer::Snapshot);
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CpNode>, timer: Timer) {
        match timer {
            Timer::Snapshot => {
                let a = self.cfg.snapshot.attempt(true);
                self.snapshots.add(
                    CopyEntry {
                        job: 0,
                        base: true,
                        done_at: ctx.now(),
                        data_at: ctx.now(),
                        restorable: a.restorable,
                        bytes: self.records.len() as u64 * 64,
                        data: Arc::new(self.records.clone()),
                    },
                    self.cfg.snapshot.retention,
                );
                if let Some(t) = self
                    .cfg
                    .snapshot
                    .next_run(ctx.now() + SimDuration::from_nanos(1))
                {
                    ctx.set_timer(t.saturating_since(ctx.now()), Timer::Snapshot);
                }
            }
            Timer::Restored { actor, step, copy } => {
                let c = &self.snapshots.copies()[copy];
                self.records = (*c.data).clone();
                self.restored_at = Some(c.data_at);
                let detail = format!(
                    "snapshot of {} restored; changes since are not in it",
                    crate::time::stamp(c.data_at)
                );
                ctx.send(
                    actor,
                    Msg::Done {
                        step,
                        ok: true,
                        detail,
                    },
                );
            }
            Timer::Merged { actor, step } => {
                let since = self.restored_at.unwrap_or(SimTime::ZERO);
                let mut n = 0;
                for &(t, lb, generation) in &self.changes {
                    if t > since {
                        self.records[lb as usize] = Some(generation);
                        n += 1;
                    }
                }
                let detail = format!("{n} later changes merged into the restored state");
                ctx.send(
                    actor,
                    Msg::Done {
                        step,
                        ok: true,
                        detail,
                    },
                );
            }
            _ => {}
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, CpNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Read { lb, req } => {
                let generation = self.records.get(lb as usize).copied().flatten();
                ctx.send(from, Msg::Record { req, generation });
            }
            Msg::Write { lb, generation } => {
                if let Some(r) = self.records.get_mut(lb as usize) {
                    *r = Some(generation);
                    self.changes.push((ctx.now(), lb, generation));
                }
            }
            Msg::Command { step, spec } => {
                let done = |ctx: &mut Ctx<'_, CpNode>, ok: bool, detail: String| {
                    ctx.send(from, Msg::Done { step, ok, detail });
                };
                match spec.what {
                    CpDo::DeleteRecords => {
                        if self.cfg.approval_required && !spec.approved {
                            return done(
                                ctx,
                                false,
                                "refused: changes to production state need per-use approval".into(),
                            );
                        }
                        let f = spec.fraction.unwrap_or(0.0);
                        let n = (f * self.records.len() as f64).round() as usize;
                        let mut ix: Vec<usize> = (0..self.records.len()).collect();
                        ix.shuffle(ctx.rng());
                        for &i in &ix[..n] {
                            self.records[i] = None;
                        }
                        ctx.record(Obs::Deleted { count: n as u32 });
                        done(
                            ctx,
                            true,
                            format!("{n} load-balancer records logically deleted"),
                        );
                    }
                    CpDo::RestoreSnapshot => {
                        let before = SimTime::ZERO + spec.before.unwrap_or_default();
                        let best = self
                            .snapshots
                            .copies()
                            .iter()
                            .enumerate()
                            .filter(|(_, c)| c.restorable && c.data_at <= before)
                            .max_by_key(|(_, c)| c.data_at)
                            .map(|(i, _)| i);
                        match best {
                            None => done(ctx, false, "no snapshot restores".into()),
                            Some(copy) => {
                                ctx.set_timer(
                                    spec.takes.unwrap_or_default(),
                                    Timer::Restored {
                                        actor: from,
                                        step,
                                        copy,
                                    },
                                );
                            }
                        }
                    }
                    CpDo::Merge => {
                        let since = self.restored_at.unwrap_or(SimTime::ZERO);
                        let n = self.changes.iter().filter(|(t, _, _)| *t > since).count() as u64;
                        let takes = SimDuration::from_nanos(
                            self.cfg.merge_per_change.as_nanos().saturating_mul(n),
                        );
                        ctx.set_timer(takes, Timer::Merged { actor: from, step });
                    }
                    _ => done(ctx, false, "not a store step".into()),
                }
            }
            _ => {}
        }
    }
}
