//! Judging a hosting run: how many sites were down and for how long, who
//! heard of it and when, and what brought each VM back.
//!
//! Checks: `availability` (sites served per window, each probe round
//! counting every site on the VM probed, with the RTO from the first
//! fault), `backup-freshness` (each VM's nightly copy within its promise,
//! up to the fault), `alerts` (every alert reached someone).

use super::{HostingConfig, HostingNode, Obs, Wiring};
use crate::check::Fact;
use crate::check::alerts::SilentAlarms;
use crate::check::availability::{Availability, Requests, Slo};
use crate::check::durability::{BackupFreshness, Promise};
use crate::check::{CheckInput, Facts, Suite, Tallies};
use crate::fault::FaultSchedule;
use crate::history::History;
use crate::sim::Simulation;
use crate::systems::{Judgement, TimelineEntry};
use crate::time::SimTime;
use indexmap::IndexMap;

fn hours(ns: u64) -> f64 {
    ns as f64 / 3.6e12
}

/// Turns a finished run into findings, figures and a timeline.
pub fn judge(
    sim: &Simulation<HostingNode>,
    w: &Wiring,
    cfg: &HostingConfig,
    faults: &FaultSchedule,
) -> Judgement {
    let end = sim.now().as_nanos();
    let fault_at = faults.faults().first().map(|f| f.at.as_nanos());
    let mut r = Reading::new(cfg, fault_at);
    for o in sim.observations() {
        r.read(sim, w, o.time, &o.value);
    }
    // Outages still open at the end count to the end.
    let mut still_down = 0u32;
    for k in 0..r.down_since.len() {
        if let Some(s) = r.down_since[k] {
            r.longest[k] = r.longest[k].max(end - s);
            still_down += 1;
        }
    }
    let mut tallies = Tallies::new(cfg.resolution.as_nanos());
    if let HostingNode::Web(web) = sim.node(w.web) {
        tallies.requests.insert("sites".into(), web.sites.clone());
    }
    let checks = suite(cfg, fault_at, end)
        .run(&CheckInput::new(&History::new(), &r.facts).with_tallies(&tallies));
    let metrics = r.figures(&tallies, still_down);
    let mut notes = Vec::new();
    if still_down > 0 {
        notes.push(format!(
            "{still_down} VMs still down at the end of the run: lengthen `duration` to see them back"
        ));
    }
    let Reading {
        facts,
        mut timeline,
        ..
    } = r;
    timeline.sort_by_key(|e: &TimelineEntry| e.time);
    let mut series = IndexMap::new();
    if let Some(v) = tallies.requests.get("sites") {
        series.insert(
            "sites down fraction".into(),
            v.iter().map(|w| w.error_fraction()).collect(),
        );
    }
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

/// A VM's nightly backup job, by name.
fn job(cfg: &HostingConfig, vm: u32) -> String {
    format!("{}/vm-{vm}", cfg.backup.name)
}

/// Service per window, each VM's nightly copy against its promise up to
/// the fault, and every alert heard.
fn suite(cfg: &HostingConfig, fault_at: Option<u64>, end: u64) -> Suite {
    let promises = (0..cfg.vms)
        .filter_map(|vm| {
            cfg.backup.promised().map(|p| Promise {
                job: job(cfg, vm),
                max_age_ns: p.as_nanos(),
                // Grace until the first run's copy can be written: the
                // run, the VM's answer, the read.
                from_ns: cfg.backup.next_run(SimTime::ZERO).map_or(0, |t| {
                    (t + cfg.io_timeout + cfg.backup.read_time(cfg.vm_bytes(vm))).as_nanos()
                }),
            })
        })
        .collect();
    Suite::new()
        .with(Availability {
            window_ns: cfg.resolution.as_nanos(),
            requests: Requests::Tallied,
            slo: Some(Slo {
                success: 0.99,
                windows: 0.99,
            }),
            fault_at,
        })
        .with(BackupFreshness {
            promises,
            until_ns: fault_at.unwrap_or(end),
        })
        .with(SilentAlarms)
}

/// What the observations say, gathered as they are read.
struct Reading<'c> {
    cfg: &'c HostingConfig,
    fault_at: Option<u64>,
    facts: Facts,
    timeline: Vec<TimelineEntry>,
    /// Per VM: down since, longest outage, when last back, data lost.
    down_since: Vec<Option<u64>>,
    longest: Vec<u64>,
    back_at: Vec<Option<u64>>,
    rpo: Vec<Option<u64>>,
    restored: u32,
    remounted: u32,
    failovers: u32,
    unrecoverable: u32,
    called_at: Option<u64>,
    acting_at: Option<u64>,
    sites_back: u64,
    sites_down: u64,
    half_back_at: Option<u64>,
    first_restore: Option<u64>,
}

impl<'c> Reading<'c> {
    fn new(cfg: &'c HostingConfig, fault_at: Option<u64>) -> Self {
        let n = cfg.vms as usize;
        Self {
            cfg,
            fault_at,
            facts: Facts::new(),
            timeline: Vec::new(),
            down_since: vec![None; n],
            longest: vec![0; n],
            back_at: vec![None; n],
            rpo: vec![None; n],
            restored: 0,
            remounted: 0,
            failovers: 0,
            unrecoverable: 0,
            called_at: None,
            acting_at: None,
            sites_back: 0,
            sites_down: 0,
            half_back_at: None,
            first_restore: None,
        }
    }

    /// One observation.
    fn read(&mut self, sim: &Simulation<HostingNode>, w: &Wiring, time: SimTime, obs: &Obs) {
        let t = time.as_nanos();
        let cfg = self.cfg;
        match obs {
            Obs::VmUp { vm, up, at } => self.vm_up(*vm, *up, at.as_nanos()),
            Obs::Failover { .. } => self.failovers += 1,
            Obs::Remounted { vm, array, data_at } => {
                self.remounted_on(time, *vm, *array, data_at.map(|d| d.as_nanos()))
            }
            Obs::Backup {
                vm,
                restorable,
                data_at,
                detail,
            } => self.facts.push(Fact::Backup {
                time: t,
                job: job(cfg, *vm),
                shard: format!("vm-{vm}"),
                source: format!("vm-{vm}"),
                produced: true,
                restorable: *restorable,
                data_at: data_at.as_nanos(),
                detail: detail.clone(),
                alerted: false,
            }),
            Obs::Tripped => self.timeline.push(TimelineEntry::new(
                time,
                format!("the sensor beside {} trips", cfg.detection.sensor.watches),
            )),
            Obs::Alert {
                alarm,
                cause,
                delivered,
            } => self.alert(time, alarm, cause, *delivered),
            Obs::Called { cause } => {
                self.called_at.get_or_insert(t);
                let what = format!("team called by {cause}");
                crate::systems::judgement::noticed(
                    &mut self.facts,
                    &mut self.timeline,
                    time,
                    "team",
                    &what,
                );
            }
            Obs::Acting => {
                self.acting_at.get_or_insert(t);
                self.timeline.push(TimelineEntry::new(time, "team acting"));
            }
            Obs::Step { step, ok, detail } => self.step(sim, w, time, *step, *ok, detail),
            Obs::RestoreBegun { .. } => {
                if self.first_restore.is_none() {
                    self.first_restore = Some(t);
                    let line = "first VM restore begins";
                    self.timeline.push(TimelineEntry::new(time, line));
                }
            }
            Obs::Unrecoverable { vm } => {
                self.unrecoverable += 1;
                let line = format!("vm-{vm}: no restorable copy");
                self.timeline.push(TimelineEntry::new(time, line));
            }
        }
    }

    fn vm_up(&mut self, vm: u32, up: bool, at: u64) {
        let k = vm as usize;
        let sites = self.cfg.sites_on(vm);
        if !up {
            if self.down_since[k].is_none() {
                self.down_since[k] = Some(at);
                self.sites_down += sites;
            }
            return;
        }
        let Some(s) = self.down_since[k].take() else {
            return;
        };
        self.longest[k] = self.longest[k].max(at - s);
        self.back_at[k] = Some(at);
        self.sites_down = self.sites_down.saturating_sub(sites);
        self.sites_back += sites;
        if self.half_back_at.is_none() && self.sites_back * 2 >= u64::from(self.cfg.sites) {
            self.half_back_at = Some(at);
            self.timeline.push(TimelineEntry::new(
                SimTime::from_nanos(at),
                "half of the sites that went down are back",
            ));
        }
    }

    /// A VM back on an array: restored from a copy of `data_at`, or
    /// remounted as it was.
    fn remounted_on(&mut self, time: SimTime, vm: u32, array: usize, data_at: Option<u64>) {
        let cfg = self.cfg;
        let how = match data_at {
            Some(d) => {
                self.restored += 1;
                if let Some(f) = self.fault_at {
                    self.rpo[vm as usize] = Some(f.saturating_sub(d));
                }
                format!("restored onto {}", cfg.array[array].name)
            }
            None => {
                self.remounted += 1;
                format!("remounted on {}", cfg.array[array].name)
            }
        };
        let count = self.restored + self.remounted;
        if count == 1 || count == cfg.vms || count.is_multiple_of(25) {
            self.timeline.push(TimelineEntry::new(
                time,
                format!("vm-{vm} {how} ({count} of {} VMs back)", cfg.vms),
            ));
        }
    }

    fn alert(&mut self, time: SimTime, alarm: &str, cause: &str, delivered: bool) {
        self.facts.push(Fact::Alert {
            time: time.as_nanos(),
            alarm: alarm.to_string(),
            cause: cause.to_string(),
            delivered,
        });
        let how = if delivered {
            "raised"
        } else {
            "silent: it reaches nobody"
        };
        self.timeline.push(TimelineEntry::new(
            time,
            format!("alert ({alarm}): {cause}; {how}"),
        ));
    }

    fn step(
        &mut self,
        sim: &Simulation<HostingNode>,
        w: &Wiring,
        time: SimTime,
        step: u32,
        ok: bool,
        detail: &str,
    ) {
        let what = match sim.node(w.team) {
            HostingNode::Team(team) => team.step(step).map(|s| (s.what, s.note.clone())),
            _ => None,
        };
        let (name, note) = what.map_or(("step", String::new()), |(d, n)| {
            (d.name(), if n.is_empty() { n } else { format!(" ({n})") })
        });
        let outcome = if ok { "done" } else { "failed" };
        self.timeline.push(TimelineEntry::new(
            time,
            format!("team step {step}, {name}{note}: {outcome}: {detail}"),
        ));
    }

    /// The sites', the team's and the VMs' figures, in the report's order.
    fn figures(&self, tallies: &Tallies, still_down: u32) -> IndexMap<String, f64> {
        let cfg = self.cfg;
        let mut metrics = IndexMap::new();
        let peak = tallies.requests.get("sites").map_or(0, |v| {
            v.iter().map(|t| t.requests - t.ok).max().unwrap_or(0)
        });
        let rounds_per_window = (cfg.resolution.as_nanos() / cfg.probe_every.as_nanos()).max(1);
        metrics.insert("sites_down_peak".into(), (peak / rounds_per_window) as f64);
        let over_24h: u64 = (0..cfg.vms)
            .filter(|&k| self.longest[k as usize] > 24 * 3_600_000_000_000)
            .map(|k| cfg.sites_on(k))
            .sum();
        metrics.insert("sites_down_over_24h".into(), over_24h as f64);
        if let Some(f) = self.fault_at {
            self.response_figures(&mut metrics, f, still_down);
        }
        metrics.insert("vms_restored".into(), f64::from(self.restored));
        metrics.insert("vms_remounted".into(), f64::from(self.remounted));
        metrics.insert("io_failovers".into(), f64::from(self.failovers));
        metrics.insert("vms_unrecoverable".into(), f64::from(self.unrecoverable));
        metrics.insert("vms_down_at_end".into(), f64::from(still_down));
        if let Some(m) = self.rpo.iter().flatten().max() {
            metrics.insert("rpo_hours_max".into(), hours(*m));
        }
        metrics
    }

    /// From the fault `f`: the team called and acting, half and all of
    /// the sites back, the first restore.
    fn response_figures(&self, metrics: &mut IndexMap<String, f64>, f: u64, still_down: u32) {
        if let Some(c) = self.called_at {
            metrics.insert("team_called_minutes".into(), (c - f) as f64 / 6e10);
        }
        if let Some(a) = self.acting_at {
            metrics.insert("team_acting_minutes".into(), (a - f) as f64 / 6e10);
        }
        if let Some(h) = self.half_back_at {
            metrics.insert("half_sites_back_hours".into(), hours(h.saturating_sub(f)));
        }
        let went_down = self
            .down_since
            .iter()
            .zip(&self.back_at)
            .any(|(d, b)| d.is_some() || b.is_some());
        if went_down && still_down == 0 {
            let last = self.back_at.iter().flatten().max().copied().unwrap_or(f);
            metrics.insert("last_site_back_hours".into(), hours(last.saturating_sub(f)));
        }
        if let Some(r) = self.first_restore {
            metrics.insert("restore_began_hours".into(), hours(r.saturating_sub(f)));
        }
    }
}
