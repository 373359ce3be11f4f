//! The pipeline of one run: build a deployment, execute the kernel,
//! assemble the [`Outcome`].
//!
//! Every run of every system goes through `execute`, monomorphised once
//! per system: the system deploys its nodes onto a [`Deployment`], the
//! kernel is built from it with the scenario's network, limits and fault
//! schedule, it runs until the end of simulated time or a limit, the
//! system's judge reads what happened into a [`Judgement`], and this
//! module adds what only the runner knows (the fault log as a timeline,
//! what each fault did, the fingerprint, where nodes were, the messages of
//! a traced run). A system hands back plain data; it never assembles an
//! `Outcome` itself.

use super::effects;
use super::outcome::{Outcome, fault_timeline, message_flows, places_of};
use crate::fault::FaultSchedule;
use crate::net::NetConfig;
use crate::rng::Seed;
use crate::sim::{Limits, Node, SimConfig, Simulation, StopReason};
use crate::systems::{BuildError, Deployment, Finished, Judgement, System};
use crate::time::{SimDuration, SimTime};
use crate::topology::Topology;

/// Everything a run needs besides the system's configuration.
#[derive(Clone, Copy)]
pub struct World<'a> {
    /// The topology (a design's edits applied).
    pub topology: &'a Topology,
    /// Network-wide behaviour.
    pub net: &'a NetConfig,
    /// Hard limits (`time_max` is set from `duration`).
    pub limits: &'a Limits,
    /// The fault schedule.
    pub faults: &'a FaultSchedule,
    /// Simulated time to run.
    pub duration: SimDuration,
    /// Record every kernel event.
    pub trace: bool,
    /// Asked every [`WATCH_EVERY`](crate::sim::WATCH_EVERY) events whether to
    /// go on (a deadline, progress); `Some(reason)` stops the run.
    pub watch: Option<&'a Watch>,
}

/// A run's watch: `Some(reason)` stops it.
pub type Watch = dyn Fn(&crate::sim::Progress) -> Option<String> + Send + Sync;

/// Deploys `config` of `system` on the world: the simulation, ready to
/// run, and the layout its judge reads.
pub fn build<S: System>(
    system: &S,
    config: &S::Config,
    world: &World<'_>,
    seed: Seed,
) -> Result<(Simulation<S::Node>, S::Layout), BuildError> {
    let mut deployment = Deployment::new(world.topology.clone(), seed);
    let layout = system.deploy(config, &mut deployment)?;
    let mut limits = world.limits.clone();
    limits.time_max = SimTime::ZERO + world.duration;
    let sim_config = SimConfig {
        net: world.net.clone(),
        limits,
        trace: world.trace,
    };
    let mut sim = deployment.finish(|t| Simulation::with_config(t, seed, sim_config))?;
    sim.install_faults(world.faults)?;
    Ok((sim, layout))
}

/// Deploys, runs and judges `config` of `system` once.
pub(crate) fn execute<S: System>(
    system: &S,
    config: &S::Config,
    world: &World<'_>,
    seed: Seed,
) -> Result<Outcome, BuildError> {
    let (mut sim, layout) = build(system, config, world, seed)?;
    let stop = match world.watch {
        Some(watch) => sim.run_watched(&mut |p| watch(p)),
        None => sim.run_watched(&mut |_| None),
    };
    let judgement = system.judge(
        config,
        &Finished {
            sim: &sim,
            layout: &layout,
            faults: world.faults,
            stop: &stop,
        },
    );
    let mut outcome = assemble(
        judgement,
        &sim,
        world.faults.len(),
        stop,
        system.series_step(config),
    );
    outcome.lane_states = system.lane_states();
    Ok(outcome)
}

/// The outcome of a finished, judged run.
fn assemble<N: Node>(
    j: Judgement,
    sim: &Simulation<N>,
    entries: usize,
    stop: StopReason,
    series_step: SimDuration,
) -> Outcome {
    let mut timeline = fault_timeline(sim.fault_log());
    timeline.extend(j.timeline);
    timeline.sort_by_key(|e| e.time);
    let names: Vec<&str> = sim.nodes().map(|(_, name, _)| name).collect();
    let fault_effects = effects::fault_effects(
        entries,
        sim.fault_log(),
        &names,
        sim.now(),
        sim.net_stats(),
        &j.history,
        &j.facts,
        &j.tallies,
    );
    Outcome {
        design: String::new(),
        seed: sim.seed().0,
        stop,
        fingerprint: sim.fingerprint(),
        events: sim.events_processed(),
        sim_time: sim.now(),
        history: j.history,
        facts: j.facts,
        checks: j.checks,
        metrics: j.metrics,
        timeline,
        series: j.series,
        series_step,
        notes: j.notes,
        fault_effects,
        places: places_of(sim),
        messages: message_flows(sim),
        trace_truncated: sim.trace_truncated(),
        lane_states: &[],
    }
}
