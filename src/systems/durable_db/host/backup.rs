//! The backup jobs of a host's own data, and what each run leaves.

use super::*;

impl Host {
    pub(super) fn backup(&mut self, ctx: &mut Ctx<'_, DurableNode>, j: usize) {
        let cfg = self.cfg.clone();
        let job = &cfg.backup[j];
        if let Some(t) = job.next_run(ctx.now() + SimDuration::from_nanos(1)) {
            ctx.set_timer(t.saturating_since(ctx.now()), Timer::Backup(j));
        }
        self.advance(ctx.now());
        let running = self.up;
        let data = match job.kind {
            BackupKind::WalArchive => {
                // The records since the last archive run that got through:
                // a server that is down archives nothing, and the next run
                // takes up where the last good one stopped.
                let lsn = self.data.as_ref().map_or(0, |d| d.lsn);
                let a = self.log.partition_point(|r| r.lsn <= self.archived);
                let recs = if running && self.member == Member::Primary {
                    self.archived = lsn;
                    self.log.range(a..).cloned().collect()
                } else {
                    Vec::new()
                };
                let mut d = self.data.clone().unwrap_or_default();
                d.writes.clear();
                d.relay = recs;
                Arc::new(d)
            }
            _ => Arc::new(self.data.clone().unwrap_or_default()),
        };
        let wait = job.read_time(data.bytes);
        let wait = if job.kind == BackupKind::WalArchive {
            SimDuration::ZERO
        } else {
            wait
        };
        ctx.set_timer(
            wait,
            Timer::BackupDone {
                job: j,
                data,
                data_at: ctx.now(),
                running,
            },
        );
    }

    pub(super) fn backup_done(
        &mut self,
        ctx: &mut Ctx<'_, DurableNode>,
        j: usize,
        data: Arc<Data>,
        data_at: SimTime,
        running: bool,
    ) {
        let job = &self.cfg.backup[j];
        let has = match job.kind {
            BackupKind::Dump => running && data.present,
            BackupKind::WalArchive => running && self.member == Member::Primary,
            _ => data.present && self.data.is_some(),
        };
        let mut attempt = job.attempt(has);
        if job.kind == BackupKind::Dump && !running && job.failure == Default::default() {
            attempt.detail = "the server was not running".into();
        }
        let alerted = !attempt.restorable && job.alert_delivered();
        self.failed_alerted.retain(|&k| k != j);
        if alerted {
            self.failed_alerted.push(j);
        }
        ctx.record(Obs::Backup {
            job: j,
            produced: attempt.produced,
            restorable: attempt.restorable,
            data_at,
            detail: attempt.detail,
            alerted,
        });
        if attempt.produced {
            let (data, records) = if job.kind == BackupKind::WalArchive {
                let recs = data.relay.clone();
                let mut d = (*data).clone();
                d.relay.clear();
                (Arc::new(d), recs)
            } else {
                (data, Vec::new())
            };
            ctx.send(
                self.wiring.store,
                Msg::Stored(Box::new(StoredCopy {
                    job: Some(j),
                    source: ctx.id(),
                    data_at,
                    restorable: attempt.restorable,
                    data,
                    records,
                })),
            );
        }
    }
}
