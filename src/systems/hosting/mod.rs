//! Shared hosting on storage arrays: the OVH 2017 model.
//!
//! Why these pieces: on 2017-06-29 a coolant leak killed one storage array
//! and with it the databases of ~50,000 websites. The array's death took
//! an instant; what took 29 hours was everything after: who heard of it,
//! whether anything could take the array's place, and how fast 99 VMs came
//! back from cold backups. So each of those is a node with its own
//! behaviour, and the outage's length comes from their messages:
//! - [`Array`]: a storage array serving the volumes it holds. It sits in
//!   equipment (`domain`), so a hazard on a nearby cooling loop crashes
//!   it; a restart is a command it answers only if it is alive. A spare is
//!   off until started, and may not come up;
//! - [`Vm`]: a database VM whose every query is an I/O on the array
//!   holding its volume, failing over to a mirror when one exists;
//! - [`Web`]: the web tier, probing each VM once per round and counting
//!   the sites on it; it also pages the operations centre when too many
//!   sites fail for several rounds (service monitoring);
//! - [`Sensor`] → [`Monitoring`] → [`Team`]: the sensor beside the array
//!   trips when it stops answering; the alarm it feeds may be silently
//!   broken (OVH's, by a monitoring update); the operations centre
//!   escalates the service-monitoring page; the team responds to whichever
//!   call comes first;
//! - [`ColdStore`]: the daily dumps each VM sends, kept with
//!   [`crate::systems::parts::backup`], and a restore's transfer to the
//!   pool array as paced chunks over the simulated network;
//! - the team's runbook ([`crate::systems::parts::operator::Runbook`]):
//!   restart the array, start a spare, restore VM by VM (by hand, then
//!   automated), each step's time counted from when the team acts.

pub mod config;
pub mod judge;

pub use config::{HostingConfig, HostingDo, HostingStep};

use crate::check::Tally;
use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::systems::parts::LookupMap;
use crate::systems::parts::backup::{Catalogue, CopyEntry, transfer_time};
use crate::systems::parts::operator::Runbook;
use crate::systems::{BuildError, Deployment};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;
use std::sync::Arc;

/// The `[hosting]` system.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hosting;

impl crate::systems::System for Hosting {
    type Config = HostingConfig;
    type Node = HostingNode;
    type Layout = Arc<Wiring>;

    fn table(&self) -> &'static str {
        "hosting"
    }

    fn about(&self) -> &'static str {
        "shared-hosting database VMs on storage arrays, with cold backups, detectors and a restoring team"
    }

    fn validate(
        &self,
        config: &HostingConfig,
        topology: &crate::topology::Topology,
    ) -> Result<(), BuildError> {
        Ok(config.validate(&|s| topology.site_id(s).is_ok())?)
    }

    fn deploy(
        &self,
        config: &HostingConfig,
        d: &mut Deployment<HostingNode>,
    ) -> Result<Arc<Wiring>, BuildError> {
        let cfg = Arc::new(config.clone());
        let mut arrays = Vec::new();
        for a in &config.array {
            arrays.push(d.reserve(&a.name, &a.site, &a.domain)?);
        }
        let mut vms = Vec::new();
        for k in 0..config.vms {
            let domain = match config.vm_domains.len() {
                0 => "",
                n => config.vm_domains[k as usize % n].as_str(),
            };
            vms.push(d.reserve(&format!("vm-{k}"), &config.vm_site, domain)?);
        }
        let web = d.reserve("web", &config.web.site, &config.web.domain)?;
        let cold = d.reserve(
            "cold-store",
            &config.cold_store.site,
            &config.cold_store.domain,
        )?;
        let s = &config.detection.sensor;
        let sensor = d.reserve("sensor", &s.site, &s.domain)?;
        let monitoring = d.reserve("monitoring", &config.team.site, "")?;
        let team = d.reserve("team", &config.team.site, "")?;
        let on = config.array_index(&config.volumes.on).expect("validated");
        let mirror = config
            .volumes
            .mirror
            .as_ref()
            .map(|m| config.array_index(m).expect("validated"));
        let wiring = Arc::new(Wiring {
            arrays: arrays.clone(),
            vms: vms.clone(),
            web,
            cold,
            sensor,
            monitoring,
            team,
            on,
            mirror,
            pool: config.array_index(&config.restore.pool).expect("validated"),
        });
        for (i, &id) in arrays.iter().enumerate() {
            d.place(
                id,
                HostingNode::Array(Array::new(cfg.clone(), wiring.clone(), i)),
            )?;
        }
        for (k, &id) in vms.iter().enumerate() {
            let mut paths = vec![arrays[on]];
            paths.extend(mirror.map(|m| arrays[m]));
            d.needs_one_of(id, &paths);
            d.place(
                id,
                HostingNode::Vm(Vm {
                    cfg: cfg.clone(),
                    wiring: wiring.clone(),
                    k: k as u32,
                    paths,
                    active: 0,
                    next_io: 0,
                    pending: LookupMap::new(),
                }),
            )?;
        }
        d.place(web, HostingNode::Web(Web::new(cfg.clone(), wiring.clone())))?;
        d.place(
            cold,
            HostingNode::Cold(ColdStore::new(cfg.clone(), wiring.clone())),
        )?;
        d.place(
            sensor,
            HostingNode::Sensor(Sensor {
                cfg: cfg.clone(),
                watched: arrays[config.array_index(&s.watches).expect("validated")],
                monitoring,
                awaiting: false,
                misses: 0,
                tripped: false,
            }),
        )?;
        d.place(
            monitoring,
            HostingNode::Monitoring(Monitoring {
                cfg: cfg.clone(),
                team,
                escalating: false,
            }),
        )?;
        d.place(
            team,
            HostingNode::Team(Team::new(cfg.clone(), wiring.clone())),
        )?;
        Ok(wiring)
    }

    fn judge(
        &self,
        config: &HostingConfig,
        run: &crate::systems::Finished<'_, Self>,
    ) -> crate::systems::Judgement {
        judge::judge(run.sim, run.layout, config, run.faults)
    }

    fn series_step(&self, config: &HostingConfig) -> SimDuration {
        config.resolution
    }
}

/// How the nodes find one another, and where everything is.
#[derive(Clone, Debug)]
pub struct Wiring {
    /// Arrays, in configuration order.
    pub arrays: Vec<NodeId>,
    /// VMs, by index.
    pub vms: Vec<NodeId>,
    /// The web tier.
    pub web: NodeId,
    /// The cold store.
    pub cold: NodeId,
    /// The sensor.
    pub sensor: NodeId,
    /// The operations centre.
    pub monitoring: NodeId,
    /// The team.
    pub team: NodeId,
    /// The array holding the volumes.
    pub on: usize,
    /// The mirror's array.
    pub mirror: Option<usize>,
    /// The array restores go to.
    pub pool: usize,
}

impl Wiring {
    fn array_of(&self, id: NodeId) -> Option<usize> {
        self.arrays.iter().position(|&a| a == id)
    }
}

/// What a restore delivers with its last chunk.
#[derive(Clone, Debug, PartialEq)]
pub struct Payload {
    /// The VM.
    pub vm: u32,
    /// The instant of its data.
    pub data_at: SimTime,
    /// Its size.
    pub bytes: u64,
}

/// Messages.
#[derive(Clone, Debug)]
pub enum Msg {
    /// VM → array: an I/O on its volume.
    Io {
        /// VM.
        vm: u32,
        /// I/O id.
        io: u32,
    },
    /// Array → VM: done (`false`: the array holds no such volume).
    IoDone {
        /// I/O id.
        io: u32,
        /// Done.
        ok: bool,
    },
    /// Web → VM: a probe query.
    Query {
        /// Round.
        round: u32,
    },
    /// VM → web: its answer.
    Answer {
        /// Round.
        round: u32,
        /// VM.
        vm: u32,
        /// Served.
        ok: bool,
    },
    /// Cold store → VM: run tonight's dump.
    Dump,
    /// VM → cold store: the dump.
    Dumped {
        /// VM.
        vm: u32,
        /// Its volume answered.
        ok: bool,
    },
    /// Sensor → array, and back.
    Ping,
    /// Array → sensor.
    Pong,
    /// Sensor → operations centre: tripped.
    Trip,
    /// Web → operations centre: too many sites failing.
    Degraded {
        /// Sites failing in the last round.
        sites_down: u64,
    },
    /// Operations centre → team.
    Call {
        /// Which detector.
        cause: String,
    },
    /// Team → array: start (as a replacement for array `replaces`).
    Start {
        /// Step.
        step: u32,
        /// The array it replaces.
        replaces: Option<usize>,
    },
    /// Array → team: the start's outcome.
    Started {
        /// Step.
        step: u32,
        /// Serving.
        ok: bool,
        /// In words.
        detail: String,
    },
    /// Team → cold store: send VM `vm`'s newest backup to the pool.
    Fetch {
        /// VM.
        vm: u32,
    },
    /// Cold store → team: no restorable copy.
    NoCopy {
        /// VM.
        vm: u32,
    },
    /// Cold store → pool: one chunk; the last carries the payload.
    Chunk {
        /// Size.
        bytes: u32,
        /// With the last chunk.
        last: Option<Arc<Payload>>,
    },
    /// Pool → team: a VM's volume is restored (or could not be written).
    Restored {
        /// VM.
        vm: u32,
        /// The instant of its data.
        data_at: SimTime,
        /// Written.
        ok: bool,
    },
    /// → VM: your volume is now on `array`.
    Remount {
        /// The array's index.
        array: usize,
        /// The instant of the data (`None`: the same data, moved).
        data_at: Option<SimTime>,
    },
}

/// Timers.
#[derive(Clone, Debug)]
pub enum Timer {
    /// VM: an I/O went unanswered.
    IoTimeout(u32),
    /// Web: the next probe round.
    Probe,
    /// Cold store: tonight's dumps.
    Backup,
    /// Cold store: a dump is written.
    Stored {
        /// VM.
        vm: u32,
        /// It holds data.
        ok: bool,
        /// When it was taken.
        data_at: SimTime,
    },
    /// Cold store: the next chunk.
    SendChunk {
        /// Chunks left.
        left: u32,
        /// What the last one carries.
        payload: Arc<Payload>,
    },
    /// Sensor: poll.
    Poll,
    /// Operations centre: the page is escalated to the team.
    Escalate,
    /// Team: the response time is over.
    Act,
    /// Team: start the next step.
    Step,
    /// Team: a step went unanswered.
    StepTimeout(u32),
    /// Team: try the start again.
    Retry {
        /// Step.
        step: u32,
        /// The array.
        array: usize,
        /// The array it replaces.
        replaces: Option<usize>,
    },
    /// Team: VM `vm`'s environment is ready.
    SetupDone(u32),
    /// Array: a start is over.
    StartDone {
        /// Step.
        step: u32,
        /// The array it replaces.
        replaces: Option<usize>,
    },
    /// Pool: an import is done.
    Imported(Arc<Payload>),
}

/// What the nodes record.
#[derive(Clone, Debug, PartialEq)]
pub enum Obs {
    /// Web: VM `vm` answered (or not) the round that began `at`, unlike
    /// the round before.
    VmUp {
        /// VM.
        vm: u32,
        /// Answered.
        up: bool,
        /// The round's start.
        at: SimTime,
    },
    /// VM: its I/O failed over to array `to`.
    Failover {
        /// VM.
        vm: u32,
        /// Array index.
        to: usize,
    },
    /// VM: its volume is now on array `array`.
    Remounted {
        /// VM.
        vm: u32,
        /// Array index.
        array: usize,
        /// The data's instant (`None`: the same data).
        data_at: Option<SimTime>,
    },
    /// Cold store: a dump was written.
    Backup {
        /// VM.
        vm: u32,
        /// It restores.
        restorable: bool,
        /// The data's instant.
        data_at: SimTime,
        /// In words.
        detail: String,
    },
    /// Sensor: tripped.
    Tripped,
    /// Operations centre: an alert, delivered or not.
    Alert {
        /// The alarm path.
        alarm: String,
        /// What raised it.
        cause: String,
        /// It reached someone.
        delivered: bool,
    },
    /// Team: called.
    Called {
        /// By which detector.
        cause: String,
    },
    /// Team: acting.
    Acting,
    /// Team: a step ended.
    Step {
        /// Index.
        step: u32,
        /// Carried out.
        ok: bool,
        /// In words.
        detail: String,
    },
    /// Team: a VM's restore began.
    RestoreBegun {
        /// VM.
        vm: u32,
    },
    /// Team: a VM has no restorable copy.
    Unrecoverable {
        /// VM.
        vm: u32,
    },
}

/// The nodes.
#[derive(Debug)]
pub enum HostingNode {
    /// A storage array.
    Array(Array),
    /// A database VM.
    Vm(Vm),
    /// The web tier.
    Web(Web),
    /// The cold store.
    Cold(ColdStore),
    /// The sensor.
    Sensor(Sensor),
    /// The operations centre.
    Monitoring(Monitoring),
    /// The team.
    Team(Team),
}

/// A storage array.
#[derive(Debug)]
pub struct Array {
    cfg: Arc<HostingConfig>,
    wiring: Arc<Wiring>,
    index: usize,
    /// Serving I/O.
    pub serving: bool,
    /// The VMs whose volumes it holds.
    pub holds: Vec<bool>,
    starting: bool,
}

impl Array {
    fn new(cfg: Arc<HostingConfig>, wiring: Arc<Wiring>, index: usize) -> Self {
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

    fn on_message(&mut self, ctx: &mut Ctx<'_, HostingNode>, from: NodeId, msg: Msg) {
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

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
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

    fn on_crash(&mut self, disk: Disk) {
        self.starting = false;
        self.serving = false;
        if disk == Disk::Lose {
            self.holds.iter_mut().for_each(|h| *h = false);
        }
    }
}

/// Why a VM issued an I/O.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    Query { from: NodeId, round: u32 },
    Dump { from: NodeId },
}

#[derive(Debug)]
struct Pending {
    purpose: Purpose,
    tried: usize,
    timer: TimerId,
}

/// A database VM.
#[derive(Debug)]
pub struct Vm {
    cfg: Arc<HostingConfig>,
    wiring: Arc<Wiring>,
    k: u32,
    /// The arrays holding its volume (the first, then its mirror).
    pub paths: Vec<NodeId>,
    /// The path in use.
    pub active: usize,
    next_io: u32,
    pending: LookupMap<u32, Pending>,
}

impl Vm {
    fn issue(&mut self, ctx: &mut Ctx<'_, HostingNode>, purpose: Purpose, tried: usize) {
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

    fn answer(&mut self, ctx: &mut Ctx<'_, HostingNode>, purpose: Purpose, ok: bool) {
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
    fn failed(&mut self, ctx: &mut Ctx<'_, HostingNode>, p: Pending) {
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

    fn on_message(&mut self, ctx: &mut Ctx<'_, HostingNode>, from: NodeId, msg: Msg) {
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

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
        if let Timer::IoTimeout(io) = timer
            && let Some(p) = self.pending.remove(&io)
        {
            self.failed(ctx, p);
        }
    }
}

/// The web tier: probes and service monitoring.
#[derive(Debug)]
pub struct Web {
    cfg: Arc<HostingConfig>,
    wiring: Arc<Wiring>,
    round: u32,
    round_at: SimTime,
    answered: Vec<bool>,
    up: Vec<bool>,
    bad_rounds: u32,
    paged: bool,
    /// Sites served per window (each probe round counts every site on the
    /// VM probed).
    pub sites: Vec<Tally>,
}

impl Web {
    fn new(cfg: Arc<HostingConfig>, wiring: Arc<Wiring>) -> Self {
        let n = cfg.vms as usize;
        Self {
            cfg,
            wiring,
            round: 0,
            round_at: SimTime::ZERO,
            answered: vec![false; n],
            up: vec![true; n],
            bad_rounds: 0,
            paged: false,
            sites: Vec::new(),
        }
    }

    /// Closes the round that began at `round_at`.
    fn close_round(&mut self, ctx: &mut Ctx<'_, HostingNode>) {
        let (at, res) = (self.round_at.as_nanos(), self.cfg.resolution.as_nanos());
        let window = crate::check::tally::slot(&mut self.sites, at, res);
        let mut down = 0u64;
        for k in 0..self.cfg.vms {
            let n = self.cfg.sites_on(k);
            let ok = self.answered[k as usize];
            window.requests += n;
            if ok {
                window.ok += n;
            } else {
                down += n;
            }
            if ok != self.up[k as usize] {
                self.up[k as usize] = ok;
                ctx.record(Obs::VmUp {
                    vm: k,
                    up: ok,
                    at: self.round_at,
                });
            }
        }
        let d = &self.cfg.detection;
        if down as f64 >= d.down_fraction * f64::from(self.cfg.sites) {
            self.bad_rounds += 1;
        } else {
            self.bad_rounds = 0;
            self.paged = false;
        }
        if self.bad_rounds >= d.rounds && !self.paged {
            self.paged = true;
            ctx.send(self.wiring.monitoring, Msg::Degraded { sites_down: down });
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
        if let Timer::Probe = timer {
            if ctx.now() > SimTime::ZERO {
                self.close_round(ctx);
            }
            self.round = self.round.wrapping_add(1);
            self.round_at = ctx.now();
            self.answered.iter_mut().for_each(|a| *a = false);
            for &vm in &self.wiring.vms {
                ctx.send(vm, Msg::Query { round: self.round });
            }
            ctx.set_timer(self.cfg.probe_every, Timer::Probe);
        }
    }

    fn on_message(&mut self, msg: Msg) {
        if let Msg::Answer { round, vm, ok } = msg
            && round == self.round
            && let Some(a) = self.answered.get_mut(vm as usize)
        {
            *a = ok;
        }
    }
}

/// The cold store: dumps kept, restores sent.
#[derive(Debug)]
pub struct ColdStore {
    cfg: Arc<HostingConfig>,
    wiring: Arc<Wiring>,
    run_at: SimTime,
    /// Copies per VM.
    pub copies: Vec<Catalogue<()>>,
}

impl ColdStore {
    fn new(cfg: Arc<HostingConfig>, wiring: Arc<Wiring>) -> Self {
        Self {
            copies: (0..cfg.vms).map(|_| Catalogue::new()).collect(),
            run_at: SimTime::ZERO,
            cfg,
            wiring,
        }
    }

    fn schedule(&self, ctx: &mut Ctx<'_, HostingNode>, after: SimTime) {
        if let Some(t) = self.cfg.backup.next_run(after) {
            ctx.set_timer(t.saturating_since(ctx.now()), Timer::Backup);
        }
    }

    fn send_chunk(&self, ctx: &mut Ctx<'_, HostingNode>, left: u32, payload: Arc<Payload>) {
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

    fn on_message(&mut self, ctx: &mut Ctx<'_, HostingNode>, msg: Msg) {
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

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
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

/// The sensor beside the array.
#[derive(Debug)]
pub struct Sensor {
    cfg: Arc<HostingConfig>,
    watched: NodeId,
    monitoring: NodeId,
    awaiting: bool,
    misses: u32,
    tripped: bool,
}

impl Sensor {
    fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>) {
        let s = &self.cfg.detection.sensor;
        if self.awaiting {
            self.misses += 1;
        }
        if self.misses >= s.misses && !self.tripped {
            self.tripped = true;
            ctx.record(Obs::Tripped);
            ctx.send(self.monitoring, Msg::Trip);
        }
        self.awaiting = true;
        ctx.send(self.watched, Msg::Ping);
        ctx.set_timer(s.every, Timer::Poll);
    }
}

/// The operations centre: the alarm panel and the service-monitoring
/// page.
#[derive(Debug)]
pub struct Monitoring {
    cfg: Arc<HostingConfig>,
    team: NodeId,
    escalating: bool,
}

impl Monitoring {
    fn on_message(&mut self, ctx: &mut Ctx<'_, HostingNode>, msg: Msg) {
        match msg {
            Msg::Trip => {
                let alarm = &self.cfg.detection.alarm;
                ctx.record(Obs::Alert {
                    alarm: alarm.channel.clone(),
                    cause: format!(
                        "sensor beside {} tripped",
                        self.cfg.detection.sensor.watches
                    ),
                    delivered: alarm.delivered,
                });
                if alarm.delivered {
                    ctx.send(
                        self.team,
                        Msg::Call {
                            cause: format!("the {} alarm", alarm.channel),
                        },
                    );
                }
            }
            Msg::Degraded { sites_down } => {
                ctx.record(Obs::Alert {
                    alarm: "service monitoring".into(),
                    cause: format!("{sites_down} sites failing"),
                    delivered: true,
                });
                if !self.escalating {
                    self.escalating = true;
                    ctx.set_timer(self.cfg.detection.escalation, Timer::Escalate);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
        if let Timer::Escalate = timer {
            self.escalating = false;
            ctx.send(
                self.team,
                Msg::Call {
                    cause: "service monitoring, escalated".into(),
                },
            );
        }
    }
}

/// Between a team's attempts to start an array.
const RETRY: SimDuration = SimDuration::from_secs(60);

/// The team that restores.
#[derive(Debug)]
pub struct Team {
    cfg: Arc<HostingConfig>,
    wiring: Arc<Wiring>,
    called: bool,
    /// The runbook, its times shifted to when the team began acting.
    pub runbook: Runbook<HostingStep>,
    waiting: Option<(u32, Option<TimerId>)>,
    queue: VecDeque<u32>,
    parallel: u32,
    setup: SimDuration,
    active: u32,
    back: Vec<bool>,
}

impl Team {
    fn new(cfg: Arc<HostingConfig>, wiring: Arc<Wiring>) -> Self {
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

    fn schedule(&mut self, ctx: &mut Ctx<'_, HostingNode>) {
        if let Some((_, at)) = self.runbook.due() {
            ctx.set_timer(at.saturating_since(ctx.now()), Timer::Step);
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, HostingNode>, step: u32, ok: bool, detail: String) {
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

    fn pump(&mut self, ctx: &mut Ctx<'_, HostingNode>) {
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

    fn start_step(&mut self, ctx: &mut Ctx<'_, HostingNode>) {
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
    fn array_started(&mut self, ctx: &mut Ctx<'_, HostingNode>, s: &HostingStep) {
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

    fn on_message(&mut self, ctx: &mut Ctx<'_, HostingNode>, msg: Msg) {
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

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
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

impl Node for HostingNode {
    type Message = Msg;
    type Timer = Timer;
    type Observation = Obs;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            HostingNode::Web(_) => {
                ctx.set_timer(SimDuration::ZERO, Timer::Probe);
            }
            HostingNode::Cold(c) => c.schedule(ctx, ctx.now()),
            HostingNode::Sensor(s) => {
                ctx.set_timer(s.cfg.detection.sensor.every, Timer::Poll);
            }
            _ => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            HostingNode::Array(a) => a.on_message(ctx, from, msg),
            HostingNode::Vm(v) => v.on_message(ctx, from, msg),
            HostingNode::Web(w) => w.on_message(msg),
            HostingNode::Cold(c) => c.on_message(ctx, msg),
            HostingNode::Sensor(s) => {
                if let Msg::Pong = msg {
                    s.awaiting = false;
                    s.misses = 0;
                }
            }
            HostingNode::Monitoring(m) => m.on_message(ctx, msg),
            HostingNode::Team(t) => t.on_message(ctx, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: TimerId, timer: Timer) {
        match self {
            HostingNode::Array(a) => a.on_timer(ctx, timer),
            HostingNode::Vm(v) => v.on_timer(ctx, timer),
            HostingNode::Web(w) => w.on_timer(ctx, timer),
            HostingNode::Cold(c) => c.on_timer(ctx, timer),
            HostingNode::Sensor(s) => s.on_timer(ctx),
            HostingNode::Monitoring(m) => m.on_timer(ctx, timer),
            HostingNode::Team(t) => t.on_timer(ctx, timer),
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        if let HostingNode::Array(a) = self {
            a.serving = !a.cfg.array[a.index].spare;
        }
        self.on_start(ctx);
    }

    fn on_crash(&mut self, disk: Disk) {
        match self {
            HostingNode::Array(a) => a.on_crash(disk),
            HostingNode::Vm(v) => v.pending = LookupMap::new(),
            _ => {}
        }
    }

    fn message_bytes(message: &Msg) -> u32 {
        match message {
            Msg::Chunk { bytes, .. } => *bytes,
            _ => 0,
        }
    }
}
