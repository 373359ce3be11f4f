//! What a host does with each message: writes, pulls, runbook commands,
//! chunks of a transfer.

use super::*;

impl Host {
    pub(in crate::systems::durable_db) fn on_message(&mut self, ctx: &mut Ctx<'_, DurableNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Write { id } => {
                let ok = self.serving_primary();
                if ok {
                    self.advance(ctx.now());
                    let d = self.data.as_mut().expect("serving");
                    d.lsn = d.lsn.saturating_add(self.cfg.write_bytes);
                    d.writes.push(id);
                    self.log.push_back(Rec {
                        lsn: d.lsn,
                        at: ctx.now(),
                        kind: RecKind::Write(id),
                    });
                }
                ctx.send(from, Msg::WriteReply { id, ok });
            }
            Msg::Read { req } => {
                let ok = self.up && self.data.as_ref().is_some_and(|d| d.present);
                ctx.send(from, Msg::ReadReply { req, ok });
            }
            Msg::Pull { from: pos, max } => self.serve_pull(ctx, from, pos, max),
            Msg::Wal { to, head, recs } => {
                if Some(from) != self.upstream || !self.up {
                    return;
                }
                let Some(d) = self.data.as_mut() else { return };
                d.lsn = d.lsn.max(to);
                d.relay.extend(recs);
                let lag = head.saturating_sub(to);
                self.lag = lag;
                self.apply_relay(ctx, false);
                if let Some(alert) = self.cfg.lag_alert_gb
                    && !self.paged
                    && lag as f64 > alert * GB
                {
                    self.paged = true;
                    let what = format!(
                        "paged: {} is {:.1} GB behind {}",
                        self.name,
                        lag as f64 / GB,
                        ctx.node_name(from)
                    );
                    let by = "lag alert".to_string();
                    ctx.record(super::super::Obs::Noticed { by, what });
                }
            }
            Msg::WalGone { oldest } if Some(from) == self.upstream && !self.broken => {
                self.broken = true;
                let at = self.data.as_ref().map_or(0, |d| d.lsn);
                let what = format!(
                    "{}: replication broken: the log it needs was removed from {} (it needs position {:.1} GB, {} keeps from {:.1} GB: {} GB)",
                    self.name,
                    ctx.node_name(from),
                    at as f64 / GB,
                    ctx.node_name(from),
                    oldest as f64 / GB,
                    self.cfg.wal_keep_gb
                );
                self.note(ctx, what);
            }
            Msg::SendersFull => {}
            Msg::StartBase { transfer } => self.start_base(ctx, from, transfer),
            Msg::BaseCancel { transfer } => {
                for s in &mut self.senders {
                    if s.peer == from
                        && let SlotKind::Base {
                            transfer: t,
                            orphan,
                        } = &mut s.kind
                        && *t == transfer
                    {
                        *orphan = true;
                    }
                }
                self.sending.retain(|&t| t != transfer);
            }
            Msg::BaseDone { transfer } => {
                self.senders.retain(|s| {
                    !(s.peer == from
                        && matches!(s.kind, SlotKind::Base { transfer: t, .. } if t == transfer))
                });
                self.sending.retain(|&t| t != transfer);
            }
            Msg::BaseRefused { transfer, reason } | Msg::FetchNone { transfer, reason } => {
                if let Some(inc) = self.incoming.take_if(|i| i.transfer == transfer) {
                    ctx.send(
                        inc.actor,
                        Msg::Done {
                            step: inc.step,
                            ok: false,
                            detail: reason,
                        },
                    );
                }
            }
            Msg::Chunk {
                transfer, payload, ..
            } => {
                if let Some(p) = payload
                    && self
                        .incoming
                        .as_ref()
                        .is_some_and(|i| i.transfer == transfer)
                {
                    let inc = self.incoming.take().expect("checked");
                    self.install(ctx, inc, p);
                }
            }
            Msg::Command {
                step,
                action,
                destructive,
                intended,
                credential,
            } => self.command(ctx, from, step, action, destructive, intended, credential),
            Msg::Follow { primary } => {
                self.primary_hint = Some(primary);
                if self.member == Member::Replica && primary != ctx.id() {
                    self.upstream = Some(primary);
                }
            }
            Msg::Probe => ctx.send(from, Msg::Status(self.status())),
            Msg::Connect => {
                if let Some(auth) = self.admit(ctx, from) {
                    ctx.send(from, Msg::Hello { auth });
                }
            }
            Msg::Vandalize
                if self.admit(ctx, from).is_some()
                    && self.exposure.authorize(None).is_ok()
                    && self.serving_primary() =>
            {
                self.drop_database(
                    ctx,
                    Arc::from(format!("dropDatabase by {}", ctx.node_name(from))),
                );
                ctx.record(Obs::Attack { target: ctx.id() });
            }
            _ => {}
        }
    }
}
