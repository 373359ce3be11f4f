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
    let n = cfg.vms as usize;
    let end = sim.now().as_nanos();
    let fault_at = faults.faults().first().map(|f| f.at.as_nanos());
    let mut facts = Facts::new();
    let mut timeline = Vec::new();
    let job = |vm: u32| format!("{}/vm-{vm}", cfg.backup.name);
    // Per VM: down since, longest outage, when last back.
    let mut down_since: Vec<Option<u64>> = vec![None; n];
    let mut longest = vec![0u64; n];
    let mut back_at: Vec<Option<u64>> = vec![None; n];
    let mut rpo: Vec<Option<u64>> = vec![None; n];
    let (mut restored, mut remounted, mut failovers, mut unrecoverable) = (0u32, 0u32, 0u32, 0u32);
    let (mut called_at, mut acting_at) = (None, None);
    let mut sites_back = 0u64;
    let mut sites_down = 0u64;
    let mut half_back_at = None;
    let mut first_restore = None;
    for o in sim.observations() {
        let t = o.time.as_nanos();
        match &o.value {
            Obs::VmUp { vm, up, at } => {
                let k = *vm as usize;
                let at = at.as_nanos();
                let sites = cfg.sites_on(*vm);
                if *up {
                    if let Some(s) = down_since[k].take() {
                        longest[k] = longest[k].max(at - s);
                        back_at[k] = Some(at);
                        sites_down = sites_down.saturating_sub(sites);
                        sites_back += sites;
                        if half_back_at.is_none() && sites_back * 2 >= u64::from(cfg.sites) {
                            half_back_at = Some(at);
                            timeline.push(TimelineEntry::new(
                                SimTime::from_nanos(at),
                                "half of the sites that went down are back",
                            ));
                        }
                    }
                } else if down_since[k].is_none() {
                    down_since[k] = Some(at);
                    sites_down += sites;
                }
            }
            Obs::Failover { .. } => failovers += 1,
            Obs::Remounted { vm, array, data_at } => {
                let how = match data_at {
                    Some(d) => {
                        restored += 1;
                        if let Some(f) = fault_at {
                            rpo[*vm as usize] = Some(f.saturating_sub(d.as_nanos()));
                        }
                        format!("restored onto {}", cfg.array[*array].name)
                    }
                    None => {
                        remounted += 1;
                        format!("remounted on {}", cfg.array[*array].name)
                    }
                };
                let count = restored + remounted;
                if count == 1 || count == cfg.vms || count % 25 == 0 {
                    timeline.push(TimelineEntry::new(
                        o.time,
                        format!("vm-{vm} {how} ({count} of {} VMs back)", cfg.vms),
                    ));
                }
            }
            Obs::Backup {
                vm,
                restorable,
                data_at,
                detail,
            } => facts.push(Fact::Backup {
                time: t,
                job: job(*vm),
                shard: format!("vm-{vm}"),
                source: format!("vm-{vm}"),
                produced: true,
                restorable: *restorable,
                data_at: data_at.as_nanos(),
                detail: detail.clone(),
                alerted: false,
            }),
            Obs::Tripped => timeline.push(TimelineEntry::new(
                o.time,
                format!("the sensor beside {} trips", cfg.detection.sensor.watches),
            )),
            Obs::Alert {
                alarm,
                cause,
                delivered,
            } => {
                facts.push(Fact::Alert {
                    time: t,
                    alarm: alarm.clone(),
                    cause: cause.clone(),
                    delivered: *delivered,
                });
                let how = if *delivered {
                    "raised"
                } else {
                    "silent: it reaches nobody"
                };
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("alert ({alarm}): {cause}; {how}"),
                ));
            }
            Obs::Called { cause } => {
                called_at.get_or_insert(t);
                let what = format!("team called by {cause}");
                crate::systems::judgement::noticed(&mut facts, &mut timeline, o.time, "team", &what);
            }
            Obs::Acting => {
                acting_at.get_or_insert(t);
                timeline.push(TimelineEntry::new(o.time, "team acting"));
            }
            Obs::Step { step, ok, detail } => {
                let what = match sim.node(w.team) {
                    HostingNode::Team(team) => team.step(*step).map(|s| (s.what, s.note.clone())),
                    _ => None,
                };
                let (name, note) = what.map_or(("step", String::new()), |(d, n)| {
                    (d.name(), if n.is_empty() { n } else { format!(" ({n})") })
                });
                let outcome = if *ok { "done" } else { "failed" };
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("team step {step}, {name}{note}: {outcome}: {detail}"),
                ));
            }
            Obs::RestoreBegun { .. } => {
                if first_restore.is_none() {
                    first_restore = Some(t);
                    timeline.push(TimelineEntry::new(o.time, "first VM restore begins"));
                }
            }
            Obs::Unrecoverable { vm } => {
                unrecoverable += 1;
                timeline.push(TimelineEntry::new(
                    o.time,
                    format!("vm-{vm}: no restorable copy"),
                ));
            }
        }
    }
    // Outages still open at the end count to the end.
    let mut still_down = 0u32;
    for k in 0..n {
        if let Some(s) = down_since[k] {
            longest[k] = longest[k].max(end - s);
            still_down += 1;
        }
    }
    let mut tallies = Tallies::new(cfg.resolution.as_nanos());
    if let HostingNode::Web(web) = sim.node(w.web) {
        tallies.requests.insert("sites".into(), web.sites.clone());
    }
    let promises = (0..cfg.vms)
        .filter_map(|vm| {
            cfg.backup.promised().map(|p| Promise {
                job: job(vm),
                max_age_ns: p.as_nanos(),
                // Grace until the first run's copy can be written: the
                // run, the VM's answer, the read.
                from_ns: cfg.backup.next_run(SimTime::ZERO).map_or(0, |t| {
                    (t + cfg.io_timeout + cfg.backup.read_time(cfg.vm_bytes(vm))).as_nanos()
                }),
            })
        })
        .collect();
    let checks = Suite::new()
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
        .run(&CheckInput::new(&History::new(), &facts).with_tallies(&tallies));

    let mut metrics = IndexMap::new();
    let peak = tallies.requests.get("sites").map_or(0, |v| {
        v.iter().map(|t| t.requests - t.ok).max().unwrap_or(0)
    });
    let rounds_per_window = (cfg.resolution.as_nanos() / cfg.probe_every.as_nanos()).max(1);
    metrics.insert("sites_down_peak".into(), (peak / rounds_per_window) as f64);
    let over_24h: u64 = (0..cfg.vms)
        .filter(|&k| longest[k as usize] > 24 * 3_600_000_000_000)
        .map(|k| cfg.sites_on(k))
        .sum();
    metrics.insert("sites_down_over_24h".into(), over_24h as f64);
    if let Some(f) = fault_at {
        if let Some(c) = called_at {
            metrics.insert("team_called_minutes".into(), (c - f) as f64 / 6e10);
        }
        if let Some(a) = acting_at {
            metrics.insert("team_acting_minutes".into(), (a - f) as f64 / 6e10);
        }
        if let Some(h) = half_back_at {
            metrics.insert("half_sites_back_hours".into(), hours(h.saturating_sub(f)));
        }
        let went_down = down_since
            .iter()
            .zip(&back_at)
            .any(|(d, b)| d.is_some() || b.is_some());
        if went_down && still_down == 0 {
            let last = back_at.iter().flatten().max().copied().unwrap_or(f);
            metrics.insert("last_site_back_hours".into(), hours(last.saturating_sub(f)));
        }
        if let Some(r) = first_restore {
            metrics.insert("restore_began_hours".into(), hours(r.saturating_sub(f)));
        }
    }
    metrics.insert("vms_restored".into(), f64::from(restored));
    metrics.insert("vms_remounted".into(), f64::from(remounted));
    metrics.insert("io_failovers".into(), f64::from(failovers));
    metrics.insert("vms_unrecoverable".into(), f64::from(unrecoverable));
    metrics.insert("vms_down_at_end".into(), f64::from(still_down));
    if let Some(m) = rpo.iter().flatten().max() {
        metrics.insert("rpo_hours_max".into(), hours(*m));
    }
    let mut notes = Vec::new();
    if still_down > 0 {
        notes.push(format!(
            "{still_down} VMs still down at the end of the run: lengthen `duration` to see them back"
        ));
    }
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
