//! Storage arrays: in equipment a hazard can crash, serving the volumes
//! they hold; spares are off until a team starts them.

use super::*;

/// A storage array.
#[derive(Debug)]
pub struct Array {
    pub(super) cfg: Arc<HostingConfig>,
    pub(super) wiring: Arc<Wiring>,
    pub(super) index: usize,
    /// Serving I/O.
    pub serving: bool,
    /// The VMs whose volumes it holds.
    pub holds: Vec<bool>,
    pub(super) starting: bool,
}

impl Array {
    pub(super) fn new(cfg: Arc<HostingConfig>, wiring: Arc<Wiring>, index: usize) -> Self {
        let configured = wiring.on == index || wiring.mirror == Some(index);
        Self {
            serving: !cfg.array[index].spare,
            holds: vec![configured; cfg.vms as usize],
            starting: false,
            cfg,
            wiring,
            index,
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, HostingNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Io { vm, io } => {
                let ok = self.serving && self.holds.get(vm as usize).copied().unwrap_or(false);
                ctx.send(from, Msg::IoDone { io, ok });
            }
            Msg::Ping if self.serving => ctx.send(from, Msg::Pong),
            Msg::Start { step, replaces } => {
                if self.serving {
                    ctx.send(
                        from,
                        Msg::Started {
                            step,
                            ok: true,
                            detail: format!("{} is serving", self.cfg.array[self.index].name),
                        },
                    );
                } else if !self.starting {
                    self.starting = true;
                    let takes = self.cfg.array[self.index].start_time;
                    ctx.set_timer(takes, Timer::StartDone { step, replaces });
                }
            }
            Msg::Chunk {
                last: Some(payload),
                ..
            } => {
                if self.serving {
                    let takes =
                        transfer_time(payload.bytes, self.cfg.restore.import_mb_per_s * 8.0);
                    ctx.set_timer(takes, Timer::Imported(payload));
                } else {
                    ctx.send(
                        self.wiring.team,
                        Msg::Restored {
                            vm: payload.vm,
                            data_at: payload.data_at,
                            ok: false,
                        },
                    );
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
        match timer {
            Timer::StartDone { step, replaces } => {
                self.starting = false;
                let me = &self.cfg.array[self.index];
                let detail = if me.comes_up {
                    self.serving = true;
                    if let Some(r) = replaces
                        && (self.wiring.on == r || self.wiring.mirror == Some(r))
                    {
                        // The replaced array's disks, moved in.
                        self.holds.iter_mut().for_each(|h| *h = true);
                    }
                    format!("{} is serving", me.name)
                } else {
                    format!("{} does not come up", me.name)
                };
                ctx.send(
                    self.wiring.team,
                    Msg::Started {
                        step,
                        ok: me.comes_up,
                        detail,
                    },
                );
            }
            Timer::Imported(p) => {
                if let Some(h) = self.holds.get_mut(p.vm as usize) {
                    *h = true;
                }
                ctx.send(
                    self.wiring.vms[p.vm as usize],
                    Msg::Remount {
                        array: self.index,
                        data_at: Some(p.data_at),
                    },
                );
                ctx.send(
                    self.wiring.team,
                    Msg::Restored {
                        vm: p.vm,
                        data_at: p.data_at,
                        ok: true,
                    },
                );
            }
            _ => {}
        }
    }

    pub(super) fn on_crash(&mut self, disk: Disk) {
        self.starting = false;
        self.serving = false;
        if disk == Disk::Lose {
            self.holds.iter_mut().for_each(|h| *h = false);
        }
    }
}
