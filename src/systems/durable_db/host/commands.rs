//! Runbook commands a host is sent (drops, wipes, restores, settings), and
//! incoming transfers.

use super::*;

impl Host {
    pub(super) fn drop_database(&mut self, ctx: &mut Ctx<'_, DurableNode>, by: Arc<str>) {
        self.advance(ctx.now());
        let d = self.data.as_mut().expect("serving");
        d.writes.clear();
        d.present = false;
        d.lsn = d.lsn.saturating_add(1024);
        self.log.push_back(Rec {
            lsn: d.lsn,
            at: ctx.now(),
            kind: RecKind::Drop(by.clone()),
        });
        ctx.record(Obs::Destroyed { by });
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn command(
        &mut self,
        ctx: &mut Ctx<'_, DurableNode>,
        actor: NodeId,
        step: u32,
        action: Action,
        destructive: bool,
        intended: String,
        credential: Option<Credential>,
    ) {
        let Some(_) = self.admit(ctx, actor) else {
            return;
        };
        let done = |ctx: &mut Ctx<'_, DurableNode>, ok: bool, detail: String| {
            ctx.send(actor, Msg::Done { step, ok, detail });
        };
        if let Err(e) = self.exposure.authorize(credential.as_ref()) {
            return done(ctx, false, format!("{}: {e}", self.name));
        }
        let primary = self.serving_primary();
        if let Err(e) = self
            .cfg
            .guards
            .allow(destructive, &intended, &self.name, primary)
        {
            return done(ctx, false, format!("refused: {e}"));
        }
        ctx.send(actor, Msg::Started { step });
        // One method per runbook action; `None`: the answer comes when the
        // work it started ends (a transfer, a snapshot).
        let answer = match action {
            Action::Wipe => Some(self.wipe(ctx, actor, step)),
            Action::DropDatabase => Some(self.drop_command(ctx, actor, step, primary)),
            Action::BaseBackup { from } => self.base_backup(ctx, actor, step, &from),
            Action::Cancel => Some(self.cancel(ctx, actor, step)),
            Action::Set { setting, value } => {
                match setting {
                    Setting::MaxWalSenders => self.pending_senders = Some(value),
                    Setting::MaxConnections => self.pending_connections = Some(value),
                }
                let me = &self.name;
                Some((true, format!("{me}: {setting:?} = {value} at the next restart")))
            }
            Action::Restart => Some(self.restart_server(ctx)),
            Action::Stop => {
                self.up = false;
                self.stop_serving();
                self.sync_role(ctx);
                Some((true, format!("{}: shut down, data kept", self.name)))
            }
            Action::Start { as_primary } => Some(self.start_server(ctx, as_primary)),
            Action::Promote => Some(self.promote_command(ctx)),
            Action::PauseApply => Some(self.pause_apply()),
            Action::Snapshot => self.snapshot(ctx, actor, step),
            Action::Restore { from } => self.restore(ctx, actor, step, from),
        };
        if let Some((ok, detail)) = answer {
            done(ctx, ok, detail);
        }
    }

    fn wipe(&mut self, ctx: &mut Ctx<'_, DurableNode>, actor: NodeId, step: u32) -> (bool, String) {
        let me = self.name.clone();
        if self.data.is_none() {
            return (true, format!("{me}: the data directory was already empty"));
        }
        let by: Arc<str> = Arc::from(format!(
            "wipe of {me} by {} (step {step})",
            ctx.node_name(actor)
        ));
        ctx.record(Obs::Destroyed { by });
        self.data = None;
        self.up = false;
        self.stop_serving();
        self.sync_role(ctx);
        (true, format!("{me}: data directory deleted; the server stopped"))
    }

    fn drop_command(
        &mut self,
        ctx: &mut Ctx<'_, DurableNode>,
        actor: NodeId,
        step: u32,
        primary: bool,
    ) -> (bool, String) {
        let me = self.name.clone();
        if !self.up {
            return (false, format!("{me}: the server is not running"));
        }
        if self.member != Member::Primary {
            return (false, format!("{me}: read-only (not the primary)"));
        }
        if !primary {
            return (true, format!("{me}: no database to drop"));
        }
        let by: Arc<str> = Arc::from(format!(
            "drop_database by {} (step {step})",
            ctx.node_name(actor)
        ));
        self.drop_database(ctx, by);
        (true, format!("{me}: database dropped"))
    }

    fn base_backup(
        &mut self,
        ctx: &mut Ctx<'_, DurableNode>,
        actor: NodeId,
        step: u32,
        from: &str,
    ) -> Option<(bool, String)> {
        let me = &self.name;
        if self.data.as_ref().is_some_and(|d| d.present) {
            return Some((false, format!("{me}: the data directory is not empty")));
        }
        if self.recovering.is_some() {
            return Some((false, format!("{me}: a transfer is already running")));
        }
        // An earlier run the operator gave up on is killed first.
        if let Some(old) = self.incoming.take()
            && old.kind == IncomingKind::Base
        {
            let transfer = old.transfer;
            ctx.send(old.src, Msg::BaseCancel { transfer });
        }
        let src = self.wiring.host(from);
        self.start_incoming(ctx, IncomingKind::Base, src, actor, step);
        let transfer = self.incoming.as_ref().expect("set").transfer;
        ctx.send(src, Msg::StartBase { transfer });
        None
    }

    /// Abandons the transfer of this step only (a later one may be
    /// running).
    fn cancel(&mut self, ctx: &mut Ctx<'_, DurableNode>, actor: NodeId, step: u32) -> (bool, String) {
        let me = &self.name;
        let Some(inc) = self
            .incoming
            .take_if(|i| i.step == step && i.actor == actor)
        else {
            return (true, format!("{me}: nothing to cancel"));
        };
        if inc.kind == IncomingKind::Base {
            let transfer = inc.transfer;
            ctx.send(inc.src, Msg::BaseCancel { transfer });
        }
        (true, format!("{me}: transfer abandoned"))
    }

    /// Restarts with the settings set since: past the semaphores the
    /// kernel grants, the server stays down.
    fn restart_server(&mut self, ctx: &mut Ctx<'_, DurableNode>) -> (bool, String) {
        let me = self.name.clone();
        if self.data.is_none() {
            return (false, format!("{me}: no data directory"));
        }
        if let Some(v) = self.pending_senders.take() {
            self.max_senders = v;
        }
        if let Some(v) = self.pending_connections.take() {
            self.max_connections = v;
        }
        self.stop_serving();
        let sem = self.cfg.postgres.semaphores;
        let need = self.max_connections.saturating_add(self.max_senders);
        if self.postgres() && sem > 0 && need > sem {
            self.up = false;
            self.sync_role(ctx);
            return (
                false,
                format!(
                    "{me}: could not create semaphores: max_connections + max_wal_senders = {need} needs more than the {sem} the kernel grants; the server is down"
                ),
            );
        }
        self.up = true;
        self.last_tick = ctx.now();
        self.sync_role(ctx);
        (true, format!("{me}: restarted"))
    }

    fn start_server(&mut self, ctx: &mut Ctx<'_, DurableNode>, as_primary: bool) -> (bool, String) {
        let me = self.name.clone();
        if self.data.is_none() {
            return (false, format!("{me}: no data directory"));
        }
        self.up = true;
        self.broken = false;
        self.last_tick = ctx.now();
        if as_primary {
            self.member = Member::Primary;
            self.upstream = None;
            self.log.clear();
        } else {
            self.member = Member::Replica;
            self.upstream = self.primary_hint.filter(|&p| p != ctx.id());
        }
        self.sync_role(ctx);
        let how = if as_primary {
            "on its own, as primary"
        } else {
            "as a member following the primary"
        };
        (true, format!("{me}: started {how}"))
    }

    fn promote_command(&mut self, ctx: &mut Ctx<'_, DurableNode>) -> (bool, String) {
        let me = self.name.clone();
        if !self.up || self.data.is_none() {
            return (false, format!("{me}: not running"));
        }
        self.apply_relay(ctx, true);
        self.advance(ctx.now());
        self.log.clear();
        self.become_primary(ctx);
        self.sync_role(ctx);
        (true, format!("{me}: promoted to primary"))
    }

    /// Stops replaying the relay log: it holds what arrives from now on.
    fn pause_apply(&mut self) -> (bool, String) {
        self.paused = true;
        let (writes, bytes) = self.data.as_ref().map_or((0, 0), |d| {
            let writes = d
                .relay
                .iter()
                .filter(|r| matches!(r.kind, RecKind::Write(_)))
                .count();
            let first = d.relay.first().map_or(d.lsn, |r| r.lsn);
            (writes, d.lsn.saturating_sub(first))
        });
        let me = &self.name;
        let gb = bytes as f64 / GB;
        (
            true,
            format!("{me}: replay paused, {writes} writes and {gb:.1} GB of log held"),
        )
    }

    fn snapshot(
        &mut self,
        ctx: &mut Ctx<'_, DurableNode>,
        actor: NodeId,
        step: u32,
    ) -> Option<(bool, String)> {
        let Some(d) = self.data.as_ref() else {
            return Some((false, format!("{}: nothing to snapshot", self.name)));
        };
        let wait = transfer_time(d.bytes, self.cfg.host[self.index].snapshot_mbps);
        let data = Arc::new(d.clone());
        let data_at = ctx.now();
        ctx.set_timer(
            wait,
            Timer::SnapshotDone {
                step,
                actor,
                data,
                data_at,
            },
        );
        None
    }

    fn restore(
        &mut self,
        ctx: &mut Ctx<'_, DurableNode>,
        actor: NodeId,
        step: u32,
        from: RestoreFrom,
    ) -> Option<(bool, String)> {
        let me = &self.name;
        if self.data.as_ref().is_some_and(|d| d.present) {
            return Some((false, format!("{me}: the database is there; nothing to restore")));
        }
        if self.incoming.is_some() || self.recovering.is_some() {
            return Some((false, format!("{me}: a transfer is already running")));
        }
        let source = match from {
            RestoreFrom::Newest => None,
            RestoreFrom::Host(h) => Some(self.wiring.host(&h)),
        };
        let store = self.wiring.store;
        self.start_incoming(ctx, IncomingKind::Restore, store, actor, step);
        let transfer = self.incoming.as_ref().expect("set").transfer;
        let before = ctx.now();
        ctx.send(
            store,
            Msg::Fetch {
                transfer,
                source,
                before,
            },
        );
        None
    }

    pub(super) fn start_incoming(
        &mut self,
        ctx: &mut Ctx<'_, DurableNode>,
        kind: IncomingKind,
        src: NodeId,
        actor: NodeId,
        step: u32,
    ) {
        self.next_transfer = self.next_transfer.wrapping_add(1);
        let transfer = (ctx.id().0 << 12) | (self.next_transfer & 0xfff);
        self.incoming = Some(Incoming {
            transfer,
            kind,
            src,
            actor,
            step,
        });
    }
}
