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

mod alarm;
mod array;
mod cold_store;
pub mod config;
pub mod judge;
mod team;
mod vm;
mod web;

pub use alarm::*;
pub use array::*;
pub use cold_store::*;
pub use config::{HostingConfig, HostingDo, HostingStep};
pub use team::*;
pub use vm::*;
pub use web::*;

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

    fn harm_metrics(&self) -> &'static [&'static str] {
        &["sites_down_peak", "vms_unrecoverable", "vms_down_at_end", "rpo_hours_max"]
    }

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
        d.outside(team);
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
