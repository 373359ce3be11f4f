//! An ensemble member: its state, its start, crash and restart, its
//! timers. What it does is split by concern: `sync` (learners and the
//! leader's DIFF/SNAP syncs), `cpu` (the request queue, costs, commits,
//! watches), `election` (standing, leading, serving) and `messages` (what
//! it does with each message).

mod cpu;
mod elections;
mod messages;
mod sync;

use super::*;

#[derive(Clone, Copy, Debug)]
pub(super) enum Work {
    Read {
        client: NodeId,
        generation: u32,
        n: u64,
        weight: u32,
    },
    Ping {
        client: NodeId,
        generation: u32,
        weight: u32,
    },
    Connect {
        client: NodeId,
        generation: u32,
        session: Option<u64>,
        watches: u64,
        weight: u32,
        timeout: SimDuration,
    },
    Write {
        id: u64,
    },
    /// Leader: serialise one chunk of a learner's sync (job `job`: a
    /// chunk of a sync since replaced is dropped).
    Sync {
        learner: NodeId,
        job: u64,
    },
    /// Learner: apply one chunk.
    Apply {
        term: u64,
    },
}

impl Work {
    pub(super) fn requests(&self) -> u64 {
        match self {
            Work::Read { n, weight, .. } => *n * u64::from(*weight),
            Work::Ping { weight, .. } | Work::Connect { weight, .. } => u64::from(*weight),
            Work::Sync { .. } | Work::Apply { .. } => 0,
            _ => 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Conn {
    generation: u32,
    session: u64,
    watches: u64,
    weight: u32,
}

/// A leader's sync of one learner.
#[derive(Clone, Copy, Debug)]
pub(super) struct SyncJob {
    /// Which sync of this leader: a learner that asks again starts a new
    /// one, and the old one's chunks stop (its connection is gone).
    id: u64,
    term: u64,
    left: u64,
    parts: u64,
    snapshot: bool,
    deadline: SimTime,
}

/// What a leader's `SyncDone` carried: term, log, sessions, chunks,
/// whether a snapshot.
pub(super) type SyncSent = (u64, Arc<Vec<u64>>, Arc<Vec<Session>>, u64, bool);


/// A session as a server holds it: when it expires unless heard of, and
/// the timeout that renews it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lease {
    deadline: SimTime,
    timeout: SimDuration,
}

impl Lease {
    pub(super) fn new(now: SimTime, timeout: SimDuration) -> Self {
        Self {
            deadline: now + timeout,
            timeout,
        }
    }

    pub(super) fn renew(&mut self, now: SimTime) {
        self.deadline = now + self.timeout;
    }
}

/// The sessions a learner takes from its leader, each renewed from now.
pub(super) fn leases(sessions: &[Session], now: SimTime) -> IndexMap<u64, Lease> {
    sessions
        .iter()
        .map(|&(s, t)| (s, Lease::new(now, t)))
        .collect()
}

/// A learner's sync in progress.
#[derive(Clone, Debug)]
pub(super) struct Learning {
    /// The leader syncing it (an observer asks every voter first).
    leader: Option<usize>,
    since: SimTime,
    applied: u64,
    done: Option<SyncSent>,
    /// Proposals that arrived during the sync, applied after it.
    buffered: Vec<u64>,
    /// A leader answered (sent a part or the end of the sync).
    answered: bool,
}


/// An ensemble member.
#[derive(Debug)]
pub struct Server {
    pub(super) cfg: Arc<CoordinationConfig>,
    w: Arc<Wiring>,
    idx: usize,
    /// Role.
    pub role: ZkRole,
    /// Term (epoch).
    pub term: u64,
    voted_for: Option<NodeId>,
    votes: usize,
    election_timer: Option<TimerId>,
    leader: Option<usize>,
    last_leader_contact: Option<SimTime>,
    /// Synced with a leader (a follower), or with a quorum synced (a
    /// leader): serving clients.
    pub serving: bool,
    synced: Vec<bool>,
    last_ack: Vec<SimTime>,
    /// Transactions, in order.
    pub log: Vec<u64>,
    counter: u64,
    pending: LookupMap<u64, usize>,
    write_ids: LookupMap<u64, u64>,
    sessions: IndexMap<u64, Lease>,
    created: Vec<Session>,
    touched: Vec<u64>,
    next_session: u64,
    conns: IndexMap<NodeId, Conn>,
    queue: VecDeque<Work>,
    queued: u64,
    busy: bool,
    unread: VecDeque<Work>,
    paused: bool,
    stalled: Vec<Stalled>,
    /// Longest queue, in requests.
    pub queue_peak: u64,
    /// An observer: never votes, learns from the leader, serves clients.
    pub observer: bool,
    init_limit: u32,
    watches: u64,
    connects_queued: u64,
    /// Connects turned away by load shedding.
    pub shed: u64,
    syncs: IndexMap<NodeId, SyncJob>,
    sync_jobs: u64,
    led_from: usize,
    learning: Option<Learning>,
    learn_seq: u64,
    obs_synced: Vec<bool>,
    obs_last_ack: Vec<SimTime>,
    /// Came back with its data lost: does not stand until it has synced
    /// with a leader (it votes, by the usual rule, for a candidate at
    /// least as up to date: any).
    fresh: bool,
}

impl Server {
    /// Member `idx`: voters first, then observers.
    pub(super) fn new(cfg: Arc<CoordinationConfig>, w: Arc<Wiring>, idx: usize) -> Box<Self> {
        let n = cfg.servers as usize;
        let observer = idx >= n;
        // The run starts in steady state: member 1 leads term 1.
        let leading = idx == 0;
        Box::new(Self {
            role: if leading {
                ZkRole::Leading
            } else if observer {
                ZkRole::Observing
            } else {
                ZkRole::Following
            },
            term: 1,
            voted_for: None,
            votes: 0,
            election_timer: None,
            leader: Some(0),
            last_leader_contact: Some(SimTime::ZERO),
            serving: true,
            synced: vec![true; n],
            last_ack: vec![SimTime::ZERO; n],
            log: Vec::new(),
            counter: 0,
            pending: LookupMap::new(),
            write_ids: LookupMap::new(),
            sessions: IndexMap::new(),
            created: Vec::new(),
            touched: Vec::new(),
            next_session: ((idx as u64) + 1) << 40,
            conns: IndexMap::new(),
            queue: VecDeque::new(),
            queued: 0,
            busy: false,
            unread: VecDeque::new(),
            paused: false,
            stalled: Vec::new(),
            queue_peak: 0,
            observer,
            init_limit: cfg.init_limit,
            watches: 0,
            connects_queued: 0,
            shed: 0,
            syncs: IndexMap::new(),
            sync_jobs: 0,
            led_from: 0,
            learning: None,
            learn_seq: 0,
            obs_synced: vec![true; cfg.observers as usize],
            obs_last_ack: vec![SimTime::ZERO; cfg.observers as usize],
            fresh: false,
            cfg,
            w,
            idx,
        })
    }

    /// The process dies: what it held in memory is gone, and with
    /// `Disk::Lose` (a replaced host) its transaction log and epoch too.
    pub(super) fn crash(&mut self, disk: Disk) {
        self.role = ZkRole::Looking;
        self.serving = false;
        self.leader = None;
        self.election_timer = None;
        self.votes = 0;
        self.conns.clear();
        self.watches = 0;
        self.queue.clear();
        self.queued = 0;
        self.connects_queued = 0;
        self.busy = false;
        self.unread.clear();
        self.paused = false;
        self.stalled.clear();
        self.syncs.clear();
        self.learning = None;
        self.sessions.clear();
        self.created.clear();
        self.touched.clear();
        self.pending = LookupMap::new();
        self.write_ids = LookupMap::new();
        if disk == Disk::Lose {
            self.log.clear();
            self.term = 0;
            self.voted_for = None;
            self.fresh = true;
        }
    }

    /// Back up: ticking and collecting; a voter looks for a leader, an
    /// observer asks to learn at its next tick.
    pub(super) fn restart(&mut self, ctx: &mut Ctx<'_, CoordNode>) {
        ctx.set_timer(self.cfg.tick, Timer::Tick);
        let every = self.cfg.heap.gc_every;
        let phase = ctx.rng().random_range(0..every.as_nanos());
        ctx.set_timer(SimDuration::from_nanos(phase), Timer::Gc);
        ctx.record(Obs::Role {
            role: ZkRole::Looking,
            term: self.term,
        });
        if !self.observer {
            let e = self.cfg.election;
            election::arm_timer(ctx, &mut self.election_timer, e.min, e.max, Timer::Election);
        }
    }

    pub(super) fn ticks(&self, n: u32) -> SimDuration {
        SimDuration::from_nanos(self.cfg.tick.as_nanos() * u64::from(n))
    }

    pub(super) fn push_internal(&mut self, ctx: &mut Ctx<'_, CoordNode>, work: Work) {
        self.queue.push_back(work);
        self.run_cpu(ctx);
    }

    /// The sessions this server holds, with their timeouts, as a leader
    /// hands them to a learner.
    pub(super) fn session_list(&self) -> Arc<Vec<Session>> {
        Arc::new(self.sessions.iter().map(|(&s, l)| (s, l.timeout)).collect())
    }

    pub(super) fn quorum(&self) -> usize {
        election::majority(self.cfg.servers as usize)
    }

    pub(super) fn last_zxid(&self) -> u64 {
        self.log.last().copied().unwrap_or(0)
    }

    /// Heap occupancy, 0-1 (may pass 1).
    pub fn occupancy(&self) -> f64 {
        let h = &self.cfg.heap;
        // Sessions held: an agent host's connection holds its weight.
        let conns: f64 = self.conns.values().map(|c| f64::from(c.weight)).sum();
        let mb = h.base_mb
            + self.queued as f64 * h.request_kb / 1024.0
            + conns * h.session_kb / 1024.0
            + self.watches as f64 * h.watch_bytes / 1e6;
        mb / h.mb
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, CoordNode>, timer: Timer) {
        if self.paused && !matches!(timer, Timer::GcEnd) {
            self.stalled.push(Stalled::Timer(timer));
            return;
        }
        let now = ctx.now();
        match timer {
            Timer::CpuDone => self.cpu_done(ctx),
            Timer::Tick => {
                let lapse = SimDuration::from_nanos(
                    self.cfg.tick.as_nanos() * u64::from(self.cfg.sync_limit),
                );
                match self.role {
                    ZkRole::Leading if self.serving => {
                        let created = Arc::new(std::mem::take(&mut self.created));
                        let mut expired = Vec::new();
                        for (&s, l) in &self.sessions {
                            if l.deadline <= now {
                                expired.push(s);
                            }
                        }
                        for s in &expired {
                            self.sessions.swap_remove(s);
                            self.close_session(ctx, *s);
                        }
                        if !expired.is_empty() {
                            ctx.record(Obs::Expired(expired.len() as u32));
                        }
                        let expired = Arc::new(expired);
                        for (k, &s) in self.w.servers.iter().enumerate() {
                            if k != self.idx {
                                ctx.send(
                                    s,
                                    Msg::Heartbeat {
                                        term: self.term,
                                        created: created.clone(),
                                        expired: expired.clone(),
                                    },
                                );
                            }
                        }
                        for (k, &o) in self.w.observers.iter().enumerate() {
                            if self.obs_synced[k]
                                && now.saturating_since(self.obs_last_ack[k]) >= lapse
                            {
                                // Not heard for `sync_limit`: dropped.
                                self.obs_synced[k] = false;
                            }
                            if self.obs_synced[k] {
                                ctx.send(
                                    o,
                                    Msg::Heartbeat {
                                        term: self.term,
                                        created: created.clone(),
                                        expired: expired.clone(),
                                    },
                                );
                            }
                        }
                        let heard = self
                            .last_ack
                            .iter()
                            .enumerate()
                            .filter(|&(k, &t)| k == self.idx || now.saturating_since(t) < lapse)
                            .count();
                        if heard < self.quorum() {
                            // Lost its quorum: shuts itself down.
                            self.become_looking(ctx);
                        }
                    }
                    ZkRole::Following
                        if self.serving
                            && self
                                .last_leader_contact
                                .is_none_or(|t| now.saturating_since(t) >= lapse) =>
                    {
                        self.become_looking(ctx);
                    }
                    ZkRole::Observing
                        if self.serving
                            && self
                                .last_leader_contact
                                .is_none_or(|t| now.saturating_since(t) >= lapse) =>
                    {
                        // Lost its leader: stops serving, asks again.
                        self.drop_clients(ctx);
                        self.serving = false;
                        self.leader = None;
                        self.role = ZkRole::Looking;
                        ctx.record(Obs::Role {
                            role: ZkRole::Looking,
                            term: self.term,
                        });
                    }
                    ZkRole::Looking if self.observer && self.learning.is_none() => {
                        self.join(ctx, None);
                    }
                    _ => {}
                }
                ctx.set_timer(self.cfg.tick, Timer::Tick);
            }
            Timer::Election => {
                self.election_timer = None;
                if self.fresh {
                    // Waits to hear a leader; looks again later.
                    let e = self.cfg.election;
                    election::arm_timer(
                        ctx,
                        &mut self.election_timer,
                        e.min,
                        e.max,
                        Timer::Election,
                    );
                } else if self.role == ZkRole::Looking
                    || (self.role == ZkRole::Following && !self.serving)
                {
                    self.stand(ctx);
                }
            }
            Timer::InitLimit(term)
                if term == self.term && self.role == ZkRole::Leading && !self.serving =>
            {
                self.become_looking(ctx);
            }
            Timer::LearnLimit(seq) if seq == self.learn_seq && self.learning.is_some() => {
                self.learning_failed(ctx);
            }
            Timer::Gc => {
                let h = &self.cfg.heap;
                let u = self.occupancy();
                let pause =
                    crate::systems::parts::heap::pause(h.gc_base, h.gc_exponent, h.gc_max, u);
                if pause >= SimDuration::from_millis(1) {
                    self.paused = true;
                    ctx.record(Obs::Gc {
                        pause,
                        occupancy: u,
                    });
                    ctx.set_timer(pause, Timer::GcEnd);
                } else {
                    ctx.set_timer(h.gc_every, Timer::Gc);
                }
            }
            Timer::GcEnd => {
                self.paused = false;
                ctx.set_timer(self.cfg.heap.gc_every, Timer::Gc);
                for s in std::mem::take(&mut self.stalled) {
                    match s {
                        Stalled::Message(from, m) => self.on_message(ctx, from, m),
                        Stalled::Timer(t) => self.on_timer(ctx, t),
                    }
                }
            }
            _ => {}
        }
    }
}
