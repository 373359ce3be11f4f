//! The documented limits of what a scenario, a history file or a run may
//! ask for.
//!
//! A simulator must refuse an input it cannot honour rather than abort,
//! exhaust memory, or run for hours without a word: every count and rate a
//! scenario sets has a maximum here, checked at validation, and every
//! periodic interval a minimum, with an error naming the field, the value
//! and the limit. The README's "Limits" section lists them; raising one is
//! a change to this file.

use crate::time::SimDuration;

/// Sites in a topology, generated ones included (route state grows with
/// the square of the sites).
pub const SITES_MAX: usize = 2_000;
/// Links in a topology.
pub const LINKS_MAX: usize = 20_000;
/// Nodes in a simulation, generated ones included.
pub const NODES_MAX: usize = 100_000;
/// Faults in a schedule.
pub const FAULTS_MAX: usize = 10_000;
/// Simulated time a scenario may run.
pub const DURATION_MAX: SimDuration = SimDuration::from_secs(30 * 24 * 3600);
/// Shortest period of anything that repeats on its own (pings, heartbeats,
/// probes, health checks, publication, monitor buckets).
pub const INTERVAL_MIN: SimDuration = SimDuration::from_millis(1);
/// Requests per second of one client population.
pub const RPS_MAX: f64 = 1_000_000.0;
/// Keys of one database cluster.
pub const KEYS_MAX: u64 = 1_000_000;
/// Clients, servers, apps, resolvers of one group.
pub const GROUP_MAX: u64 = 10_000;
/// Users of one ISP cohort (each keeps its cached DNS answer).
pub const USERS_MAX: u64 = 1_000_000;
/// CDN tenants.
pub const TENANTS_MAX: u64 = 4_096;
/// Objects of one CDN tenant.
pub const OBJECTS_MAX: u64 = 1_000_000;
/// Tenants × objects: the catalogue every PoP cache indexes.
pub const CATALOGUE_MAX: u64 = 16_000_000;
/// CDN PoPs.
pub const POPS_MAX: u64 = 1_000;
/// Objects one cache may hold.
pub const CACHE_OBJECTS_MAX: u64 = 10_000_000;
/// Grid points of one sweep (every combination of its `--set` values);
/// each point is a scenario held in memory while the sweep runs.
pub const SWEEP_POINTS_MAX: usize = 100_000;
/// Kernel events a scenario may be expected to need, estimated at load
/// from its periodic services (the `[limits] events_max` default).
pub const EVENTS_ESTIMATE_MAX: u64 = 1_000_000_000;
/// Bytes of a scenario file.
pub const SCENARIO_BYTES_MAX: u64 = 16 << 20;
/// Bytes of a history file.
pub const HISTORY_BYTES_MAX: u64 = 4 << 30;
/// Bytes of one line of a JSON Lines history.
pub const LINE_BYTES_MAX: usize = 1 << 20;
/// Nesting depth of an EDN value.
pub const EDN_DEPTH_MAX: usize = 64;
/// Pieces of equipment (and hazards) in one topology.
pub const EQUIPMENT_MAX: usize = 10_000;
/// Steps of one runbook.
pub const RUNBOOK_STEPS_MAX: usize = 10_000;
/// Tracked client writes per hour of one write kind (each is recorded as
/// an operation of the history).
pub const WRITES_PER_HOUR_MAX: f64 = 360_000.0;
/// Bytes of a dataset (1 PB).
pub const DATASET_BYTES_MAX: f64 = 1e15;

/// A field's check: `Err((field path, message))`, as every
/// configuration's `validate` returns it.
pub type Checked = Result<(), (String, String)>;

/// `value` of `field` is at most `max`.
pub fn at_most(field: impl Into<String>, value: u64, max: u64) -> Result<(), (String, String)> {
    if value > max {
        return Err((field.into(), format!("{value} is over the limit of {max}")));
    }
    Ok(())
}

/// `value` of `field` is a finite number in `(0, max]`.
pub fn rate(field: impl Into<String>, value: f64, max: f64) -> Result<(), (String, String)> {
    if !(value.is_finite() && value > 0.0) {
        return Err((field.into(), format!("{value} is not a positive number")));
    }
    if value > max {
        return Err((field.into(), format!("{value} is over the limit of {max}")));
    }
    Ok(())
}

/// `value` of `field` is a period of at least [`INTERVAL_MIN`].
pub fn interval(field: impl Into<String>, value: SimDuration) -> Result<(), (String, String)> {
    if value < INTERVAL_MIN {
        return Err((
            field.into(),
            format!("{value} is shorter than the shortest period allowed, {INTERVAL_MIN}"),
        ));
    }
    Ok(())
}

/// Seeds one `compare`, `sweep` or `radius` runs per design (and grid
/// point, or case): checked before anything is allocated for them.
pub const SEEDS_MAX: u64 = 1_000_000;

/// Runs one `compare`, `sweep` or `radius` (or one shard of it) starts
/// without `--yes`: past it the command says how many and asks.
pub const RUNS_ASK: usize = 5_000;
