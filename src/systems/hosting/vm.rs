//! The database VMs: each query an I/O on its volume's array, failing over
//! to a mirror if it has one.

use super::*;

/// Why a VM issued an I/O.
#[derive(Clone, Copy, Debug)]
pub(super) enum Purpose {
    Query { from: NodeId, round: u32 },
    Dump { from: NodeId },
}

#[derive(Debug)]
pub(super) struct Pending {
    purpose: Purpose,
    tried: usize,
    timer: TimerId,
}

/// A database VM.
#[derive(Debug)]
pub struct Vm {
    pub(super) cfg: Arc<HostingConfig>,
    pub(super) wiring: Arc<Wiring>,
    pub(super) k: u32,
    /// The arrays holding its volume (the first, then its mirror).
    pub paths: Vec<NodeId>,
    /// The path in use.
    pub active: usize,
    pub(super) next_io: u32,
    pub(super) pending: LookupMap<u32, Pending>,
}

impl Vm {
    pub(super) fn issue(&mut self, ctx: &mut Ctx<'_, HostingNode>, purpose: Purpose, tried: usize) {
        let io = self.next_io;
        self.next_io = self.next_io.wrapping_add(1);
        ctx.send(self.paths[self.active], Msg::Io { vm: self.k, io });
        let timer = ctx.set_timer(self.cfg.io_timeout, Timer::IoTimeout(io));
        self.pending.insert(
            io,
            Pending {
                purpose,
                tried,
                timer,
            },
        );
    }

    pub(super) fn answer(&mut self, ctx: &mut Ctx<'_, HostingNode>, purpose: Purpose, ok: bool) {
        match purpose {
            Purpose::Query { from, round } => ctx.send(
                from,
                Msg::Answer {
                    round,
                    vm: self.k,
                    ok,
                },
            ),
            Purpose::Dump { from } => ctx.send(from, Msg::Dumped { vm: self.k, ok }),
        }
    }

    /// An I/O failed: try the next path once per path, else fail.
    pub(super) fn failed(&mut self, ctx: &mut Ctx<'_, HostingNode>, p: Pending) {
        if p.tried + 1 < self.paths.len() {
            self.active = (self.active + 1) % self.paths.len();
            if let Some(to) = self.wiring.array_of(self.paths[self.active]) {
                ctx.record(Obs::Failover { vm: self.k, to });
            }
            self.issue(ctx, p.purpose, p.tried + 1);
        } else {
            self.answer(ctx, p.purpose, false);
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, HostingNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Query { round } => self.issue(ctx, Purpose::Query { from, round }, 0),
            Msg::Dump => self.issue(ctx, Purpose::Dump { from }, 0),
            Msg::IoDone { io, ok } => {
                let Some(p) = self.pending.remove(&io) else {
                    return;
                };
                ctx.cancel_timer(p.timer);
                if ok {
                    self.answer(ctx, p.purpose, true);
                } else {
                    self.failed(ctx, p);
                }
            }
            Msg::Remount { array, data_at } => {
                self.paths = vec![self.wiring.arrays[array]];
                self.active = 0;
                ctx.record(Obs::Remounted {
                    vm: self.k,
                    array,
                    data_at,
                });
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
        if let Timer::IoTimeout(io) = timer
            && let Some(p) = self.pending.remove(&io)
        {
            self.failed(ctx, p);
        }
    }
}
