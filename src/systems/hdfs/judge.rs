//! Judging an HDFS run: how long clients had no NameNode, whether the
//! failover helped, and what the heap did.
//!
//! Checks: `availability` (clients' calls per window, with the RTO from
//! the job's start).

use super::{HdfsConfig, HdfsNode, NnState, Obs, Wiring};
use crate::check::availability::{Availability, Requests, Slo};
use crate::check::{CheckInput, Facts, Suite, Tallies, Tally};
use crate::history::History;
use crate::sim::Simulation;
use crate::systems::{Judgement, TimelineEntry};
use crate::time::SimTime;
use indexmap::IndexMap;

/// Turns a finished run into findings, figures and a timeline.
pub fn judge(sim: &Simulation<HdfsNode>, w: &Wiring, cfg: &HdfsConfig) -> Judgement {
    let job_at = (SimTime::ZERO + cfg.job.at).as_nanos();
    let mut r = Reading::new(cfg);
    for o in sim.observations() {
        let who = sim.node_name(o.node).to_string();
        let nn = w.nns.iter().position(|&n| n == o.node);
        r.read(o.time, who, nn, &o.value);
    }
    for &id in &w.actors {
        if let HdfsNode::Actor(a) = sim.node(id)
            && let Some(words) = a.unreached()
        {
            r.timeline.push(TimelineEntry::new(sim.now(), words));
        }
    }
    let mut tallies = Tallies::new(cfg.resolution.as_nanos());
    if let HdfsNode::Clients(c) = sim.node(w.clients) {
        tallies.requests.insert("clients".into(), c.windows.clone());
    }
    let checks = Suite::new()
        .with(Availability {
            window_ns: cfg.resolution.as_nanos(),
            requests: Requests::Tallied,
            slo: Some(Slo {
                success: 0.99,
                windows: 0.99,
            }),
            fault_at: Some(job_at),
        })
        .run(&CheckInput::new(&History::new(), &Facts::new()).with_tallies(&tallies));
    let windows = tallies.requests.get("clients").cloned().unwrap_or_default();
    let metrics = r.figures(&windows, job_at);
    let mut notes = Vec::new();
    if r.last_state.iter().all(|s| !matches!(s, NnState::Active)) {
        notes.push("no NameNode is active at the end of the run".into());
    }
    let Reading {
        facts,
        mut timeline,
        ..
    } = r;
    timeline.sort_by_key(|e: &TimelineEntry| e.time);
    let mut series = IndexMap::new();
    series.insert(
        "client error fraction".into(),
        windows.iter().map(|t| t.error_fraction()).collect(),
    );
    Judgement {
        history: History::new(),
        facts,
        checks,
        metrics,
        timeline,
        series,
        notes,
        tallies,
    }
}

/// What the observations say, gathered as they are read. Per-NameNode
/// arrays are indexed as `Wiring::nns`.
struct Reading<'c> {
    cfg: &'c HdfsConfig,
    facts: Facts,
    timeline: Vec<TimelineEntry>,
    aborts: u64,
    failovers: u64,
    released: u64,
    declined: u64,
    gc_max: [f64; 2],
    first_abort: [Option<u64>; 2],
    peak_objects: u64,
    quota_refused: u64,
    dead_marks: u64,
    last_state: [NnState; 2],
    starting_since: [Option<u64>; 2],
    /// Restarts completed (starting to standby), minutes each.
    restarts: Vec<f64>,
}

impl<'c> Reading<'c> {
    fn new(cfg: &'c HdfsConfig) -> Self {
        Self {
            cfg,
            facts: Facts::new(),
            timeline: Vec::new(),
            aborts: 0,
            failovers: 0,
            released: 0,
            declined: 0,
            gc_max: [0.0; 2],
            first_abort: [None, None],
            peak_objects: cfg.objects,
            quota_refused: 0,
            dead_marks: 0,
            last_state: [NnState::Active, NnState::Standby],
            starting_since: [None, None],
            restarts: Vec::new(),
        }
    }

    /// One observation of `who` (NameNode `nn`, if it is one).
    fn read(&mut self, time: SimTime, who: String, nn: Option<usize>, obs: &Obs) {
        let t = time.as_nanos();
        let line = match obs {
            Obs::State(s) => {
                if let Some(k) = nn {
                    self.state(t, k, *s);
                }
                Some(format!("{who} is {s:?}").to_lowercase())
            }
            Obs::Gc { pause, occupancy } => {
                nn.and_then(|k| self.gc(k, pause.as_secs_f64(), *occupancy, &who))
            }
            Obs::Aborted { waited } => {
                self.aborts += 1;
                if let Some(k) = nn {
                    self.first_abort[k].get_or_insert(t);
                }
                Some(format!(
                    "{who} aborts: an edit flush waited {:.1} s for the journal (timeout {})",
                    waited.as_secs_f64(),
                    self.cfg.journal.write_timeout
                ))
            }
            Obs::DataNodesDead(n) => {
                self.dead_marks += u64::from(*n);
                None
            }
            Obs::Objects(n) => {
                self.peak_objects = self.peak_objects.max(*n);
                None
            }
            Obs::Failover { took, detail } => {
                if *took {
                    self.failovers += 1;
                } else {
                    self.released += 1;
                }
                Some(format!("{who}: {detail}"))
            }
            Obs::Declined { occupancy } => {
                self.declined += 1;
                Some(format!(
                    "{who}: the lock is free, but the heap is at {:.0} %: no takeover into the same overload",
                    occupancy * 100.0
                ))
            }
            Obs::QuotaRefused(n) => {
                self.quota_refused += n;
                None
            }
            Obs::Step { step, detail } => Some(format!("{who} step {step}: {detail}")),
            Obs::Note(n) => Some(n.clone()),
            Obs::Noticed { by, what } => {
                crate::systems::judgement::noticed(
                    &mut self.facts,
                    &mut self.timeline,
                    time,
                    by,
                    what,
                );
                None
            }
        };
        if let Some(line) = line {
            self.timeline.push(TimelineEntry::new(time, line));
        }
    }

    /// NameNode `k` entered state `s`: a restart starts or completes.
    fn state(&mut self, t: u64, k: usize, s: NnState) {
        self.last_state[k] = s;
        match s {
            NnState::Starting => self.starting_since[k] = Some(t),
            NnState::Standby => {
                if let Some(a) = self.starting_since[k].take() {
                    self.restarts.push((t - a) as f64 / 6e10);
                }
            }
            _ => {}
        }
    }

    /// A collection of NameNode `k`: a new longest pause past 5 s is told.
    fn gc(&mut self, k: usize, p: f64, occupancy: f64, who: &str) -> Option<String> {
        if p <= self.gc_max[k] {
            return None;
        }
        self.gc_max[k] = p;
        (p > 5.0).then(|| {
            format!(
                "{who}: a {p:.1} s pause at {:.0} % heap",
                occupancy * 100.0
            )
        })
    }

    /// The NameNodes', the DataNodes' and the clients' figures, in the
    /// report's order.
    fn figures(&self, windows: &[Tally], job_at: u64) -> IndexMap<String, f64> {
        let cfg = self.cfg;
        let mut metrics = IndexMap::new();
        metrics.insert(
            "peak_objects_millions".into(),
            self.peak_objects as f64 / 1e6,
        );
        metrics.insert("namenode_aborts".into(), self.aborts as f64);
        metrics.insert("failovers".into(), self.failovers as f64);
        metrics.insert("locks_released".into(), self.released as f64);
        metrics.insert("takeovers_declined".into(), self.declined as f64);
        metrics.insert("gc_pause_seconds_max_nn1".into(), self.gc_max[0]);
        metrics.insert("gc_pause_seconds_max_nn2".into(), self.gc_max[1]);
        metrics.insert(
            "datanodes_marked_dead".into(),
            self.dead_marks as f64 * f64::from(cfg.datanodes.per_group),
        );
        metrics.insert("quota_refused_objects".into(), self.quota_refused as f64);
        let from_w = (job_at / cfg.resolution.as_nanos()) as usize;
        let bad = |t: &Tally| t.requests > 0 && (t.ok as f64) < 0.99 * t.requests as f64;
        let down = windows.iter().skip(from_w).filter(|t| bad(t)).count();
        metrics.insert(
            "unavailable_hours".into(),
            down as f64 * cfg.resolution.as_secs_f64() / 3600.0,
        );
        let both_aborted = self.first_abort.iter().all(|a| a.is_some());
        metrics.insert(
            "both_namenodes_aborted".into(),
            f64::from(u8::from(both_aborted)),
        );
        let restarts = &self.restarts;
        metrics.insert("restarts_completed".into(), restarts.len() as f64);
        if let Some(m) = restarts.iter().copied().reduce(f64::max) {
            metrics.insert("restart_minutes_max".into(), m);
        }
        if let Some(m) = restarts.iter().copied().reduce(f64::min) {
            metrics.insert("restart_minutes_min".into(), m);
        }
        let unfinished = self.starting_since.iter().filter(|s| s.is_some()).count();
        metrics.insert("restarts_unfinished".into(), unfinished as f64);
        metrics
    }
}
