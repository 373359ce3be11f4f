//! Streaming replication and base backups: admitting a peer, serving its
//! pulls at its throughput, sender slots, checkpoints, installing a copy
//! and recovering from it.

use super::*;

impl Host {
    /// The firewall chain for a connection from `from`; records the
    /// access. `Some(auth required)` if accepted.
    pub(super) fn admit(&self, ctx: &mut Ctx<'_, DurableNode>, from: NodeId) -> Option<bool> {
        let e = &self.exposure;
        let a = e.admit(&self.wiring.sites[from.index()], ctx.node_name(from));
        ctx.record(Obs::Access {
            from,
            listed: a.listed,
            admitted: a.admitted,
        });
        a.admitted.then_some(e.auth)
    }

    pub(super) fn serve_pull(&mut self, ctx: &mut Ctx<'_, DurableNode>, peer: NodeId, pos: u64, max: u64) {
        if !self.up || self.member != Member::Primary || self.data.is_none() {
            return;
        }
        let now = ctx.now();
        if self.postgres() {
            if let Some(s) = self
                .senders
                .iter_mut()
                .find(|s| s.peer == peer && s.kind == SlotKind::Stream)
            {
                s.last = now;
            } else if self.senders.len() as u64 >= self.max_senders {
                ctx.send(peer, Msg::SendersFull);
                return;
            } else {
                self.senders.push(Slot {
                    peer,
                    kind: SlotKind::Stream,
                    last: now,
                });
            }
        }
        self.advance(now);
        let lsn = self.data.as_ref().expect("checked").lsn;
        let oldest = if self.cfg.archives(&self.name) {
            0
        } else {
            lsn.saturating_sub((self.cfg.wal_keep_gb * GB) as u64)
        };
        if pos < oldest {
            self.senders
                .retain(|s| !(s.peer == peer && s.kind == SlotKind::Stream));
            ctx.send(peer, Msg::WalGone { oldest });
            return;
        }
        let to = lsn.min(pos.saturating_add(max));
        let a = self.log.partition_point(|r| r.lsn <= pos);
        let b = self.log.partition_point(|r| r.lsn <= to);
        let recs: Vec<Rec> = self.log.range(a..b).cloned().collect();
        ctx.send(
            peer,
            Msg::Wal {
                to,
                head: lsn,
                recs,
            },
        );
    }

    pub(super) fn start_base(&mut self, ctx: &mut Ctx<'_, DurableNode>, peer: NodeId, transfer: u32) {
        if !self.serving_primary() {
            let reason = if self.up {
                format!("{} has no database to copy", self.name)
            } else {
                format!(
                    "could not connect to {}: the server is not running",
                    self.name
                )
            };
            ctx.send(peer, Msg::BaseRefused { transfer, reason });
            return;
        }
        if self.postgres() {
            if self.senders.len() as u64 >= self.max_senders {
                let reason = format!(
                    "{}: number of requested standby connections exceeds max_wal_senders (currently {})",
                    self.name, self.max_senders
                );
                ctx.send(peer, Msg::BaseRefused { transfer, reason });
                return;
            }
            self.senders.push(Slot {
                peer,
                kind: SlotKind::Base {
                    transfer,
                    orphan: false,
                },
                last: ctx.now(),
            });
        }
        let wait = if self.postgres() {
            self.cfg.postgres.checkpoint_wait
        } else {
            SimDuration::ZERO
        };
        ctx.set_timer(wait, Timer::Checkpoint { peer, transfer });
    }

    pub(super) fn checkpoint(&mut self, ctx: &mut Ctx<'_, DurableNode>, peer: NodeId, transfer: u32) {
        if self.postgres() {
            let Some(i) = self.senders.iter().position(|s| {
                s.peer == peer
                    && matches!(s.kind, SlotKind::Base { transfer: t, .. } if t == transfer)
            }) else {
                return;
            };
            if matches!(self.senders[i].kind, SlotKind::Base { orphan: true, .. }) {
                // The client went away while the checkpoint ran: the sender
                // notices only now, and frees its slot.
                self.senders.remove(i);
                return;
            }
        }
        if !self.serving_primary() {
            return;
        }
        self.advance(ctx.now());
        let mut data = self.data.clone().expect("serving");
        data.relay.clear();
        let payload = Arc::new(Payload {
            label: format!("base backup from {}", self.name),
            data_at: ctx.now(),
            replay_bytes: 0,
            data,
        });
        self.sending.push(transfer);
        let rate = self.wiring.throughput(peer);
        send_paced(ctx, &self.cfg, peer, transfer, payload, rate);
    }

    pub(super) fn install(&mut self, ctx: &mut Ctx<'_, DurableNode>, inc: Incoming, p: Arc<Payload>) {
        let mut replay = p.replay_bytes;
        let mut data = p.data.clone();
        if inc.kind == IncomingKind::Restore && !data.relay.is_empty() {
            if self.cfg.restore.replay_relay_log {
                let first = data.relay.first().map_or(data.lsn, |r| r.lsn);
                let stop = data
                    .relay
                    .iter()
                    .position(|r| matches!(r.kind, RecKind::Drop(_)))
                    .unwrap_or(data.relay.len());
                let last = data.relay[..stop].last().map_or(first, |r| r.lsn);
                for r in &data.relay[..stop] {
                    if let RecKind::Write(id) = r.kind {
                        data.writes.push(id);
                    }
                }
                replay = replay.saturating_add(last.saturating_sub(first));
            }
            data.relay.clear();
        }
        self.data = Some(data);
        // A restored primary runs its start-up checks; a re-seeded replica
        // just starts streaming.
        let start = if inc.kind == IncomingKind::Restore {
            self.cfg.restore.start_time
        } else {
            SimDuration::ZERO
        };
        let wait = start + transfer_time(replay, self.cfg.restore.replay_mb_per_s * 8.0);
        self.recovering = Some((inc, p));
        ctx.set_timer(wait, Timer::Recovered);
    }

    pub(super) fn recovered(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        let Some((inc, p)) = self.recovering.take() else {
            return;
        };
        self.up = true;
        self.broken = false;
        self.paused = false;
        self.log.clear();
        self.senders.clear();
        self.last_tick = ctx.now();
        let detail = match inc.kind {
            IncomingKind::Base => {
                self.member = Member::Replica;
                self.upstream = Some(inc.src);
                ctx.send(
                    inc.src,
                    Msg::BaseDone {
                        transfer: inc.transfer,
                    },
                );
                format!("{} re-seeded by {}", self.name, p.label)
            }
            IncomingKind::Restore => {
                self.become_primary(ctx);
                format!(
                    "{} restored from {} (data of {})",
                    self.name,
                    p.label,
                    crate::time::stamp(p.data_at)
                )
            }
        };
        self.sync_role(ctx);
        ctx.send(
            inc.actor,
            Msg::Done {
                step: inc.step,
                ok: true,
                detail,
            },
        );
    }

    pub(super) fn become_primary(&mut self, ctx: &mut Ctx<'_, DurableNode>) {
        self.member = Member::Primary;
        self.upstream = None;
        self.primary_hint = Some(ctx.id());
        for &h in &self.wiring.hosts {
            if h != ctx.id() {
                ctx.send(h, Msg::Follow { primary: ctx.id() });
            }
        }
        ctx.send(self.wiring.app, Msg::Repoint { to: ctx.id() });
    }
}
