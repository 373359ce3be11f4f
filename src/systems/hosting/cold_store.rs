//! The cold store: each VM's nightly dumps, and restores sent to the pool
//! array as paced chunks.

use super::*;

/// The cold store: dumps kept, restores sent.
#[derive(Debug)]
pub struct ColdStore {
    pub(super) cfg: Arc<HostingConfig>,
    pub(super) wiring: Arc<Wiring>,
    pub(super) run_at: SimTime,
    /// Copies per VM.
    pub copies: Vec<Catalogue<()>>,
}

impl ColdStore {
    pub(super) fn new(cfg: Arc<HostingConfig>, wiring: Arc<Wiring>) -> Self {
        Self {
            copies: (0..cfg.vms).map(|_| Catalogue::new()).collect(),
            run_at: SimTime::ZERO,
            cfg,
            wiring,
        }
    }

    pub(super) fn schedule(&self, ctx: &mut Ctx<'_, HostingNode>, after: SimTime) {
        if let Some(t) = self.cfg.backup.next_run(after) {
            ctx.set_timer(t.saturating_since(ctx.now()), Timer::Backup);
        }
    }

    pub(super) fn send_chunk(&self, ctx: &mut Ctx<'_, HostingNode>, left: u32, payload: Arc<Payload>) {
        let chunk = (self.cfg.restore.chunk_mb * 1e6) as u64;
        let pool = self.wiring.arrays[self.wiring.pool];
        if left <= 1 {
            let rest = payload.bytes - chunk * (payload.bytes.saturating_sub(1) / chunk);
            ctx.send(
                pool,
                Msg::Chunk {
                    bytes: rest.min(u64::from(u32::MAX)) as u32,
                    last: Some(payload),
                },
            );
            return;
        }
        ctx.send(
            pool,
            Msg::Chunk {
                bytes: chunk.min(u64::from(u32::MAX)) as u32,
                last: None,
            },
        );
        let gap = transfer_time(chunk, self.cfg.backup.read_mbps);
        ctx.set_timer(
            gap,
            Timer::SendChunk {
                left: left - 1,
                payload,
            },
        );
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, HostingNode>, msg: Msg) {
        match msg {
            Msg::Dumped { vm, ok } => {
                let bytes = self.cfg.vm_bytes(vm);
                let takes = self.cfg.backup.read_time(bytes);
                ctx.set_timer(
                    takes,
                    Timer::Stored {
                        vm,
                        ok,
                        data_at: self.run_at,
                    },
                );
            }
            Msg::Fetch { vm } => {
                let now = ctx.now();
                let Some(point) = self
                    .copies
                    .get(vm as usize)
                    .and_then(|c| c.newest_restorable(now))
                else {
                    ctx.send(self.wiring.team, Msg::NoCopy { vm });
                    return;
                };
                let payload = Arc::new(Payload {
                    vm,
                    data_at: point.data_at(),
                    bytes: point.base.bytes.max(1),
                });
                let chunk = (self.cfg.restore.chunk_mb * 1e6) as u64;
                let left = payload.bytes.div_ceil(chunk.max(1)).max(1) as u32;
                self.send_chunk(ctx, left, payload);
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
        match timer {
            Timer::Backup => {
                self.run_at = ctx.now();
                for &vm in &self.wiring.vms {
                    ctx.send(vm, Msg::Dump);
                }
                self.schedule(ctx, ctx.now() + SimDuration::from_nanos(1));
            }
            Timer::Stored { vm, ok, data_at } => {
                let attempt = self.cfg.backup.attempt(ok);
                let detail = if ok {
                    attempt.detail.clone()
                } else {
                    "the VM's volume did not answer".to_string()
                };
                if attempt.produced {
                    self.copies[vm as usize].add(
                        CopyEntry {
                            job: 0,
                            base: self.cfg.backup.kind.is_base(),
                            done_at: ctx.now(),
                            data_at,
                            restorable: attempt.restorable,
                            bytes: self.cfg.vm_bytes(vm),
                            data: (),
                        },
                        self.cfg.backup.retention,
                    );
                }
                ctx.record(Obs::Backup {
                    vm,
                    restorable: attempt.restorable,
                    data_at,
                    detail,
                });
            }
            Timer::SendChunk { left, payload } => self.send_chunk(ctx, left, payload),
            _ => {}
        }
    }
}
