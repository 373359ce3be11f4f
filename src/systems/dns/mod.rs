//! DNS (being written).
#![allow(missing_docs)]
use crate::fault::FaultSchedule;
use crate::net::NetConfig;
use crate::rng::Seed;
use crate::sim::Limits;
use crate::systems::BuildError;
use crate::topology::Topology;
use serde::Deserialize;
#[derive(Clone, Debug, Deserialize)]
pub struct DnsLbConfig {}
pub fn build(
    _t: &Topology,
    _n: &NetConfig,
    _l: &Limits,
    _c: &DnsLbConfig,
    _f: &FaultSchedule,
    _s: Seed,
) -> Result<(), BuildError> {
    Err(BuildError::config("dns_lb", "not yet"))
}
impl DnsLbConfig {
    pub fn resolution(&self) -> crate::time::SimDuration {
        crate::time::SimDuration::from_secs(60)
    }
}
pub struct DnsOutcome {
    pub summary: crate::systems::Outcome,
}
pub fn run(
    _t: &Topology,
    _n: &NetConfig,
    _l: &Limits,
    _c: &DnsLbConfig,
    _f: &FaultSchedule,
    _s: Seed,
    _d: crate::time::SimDuration,
) -> Result<DnsOutcome, BuildError> {
    Err(BuildError::config("dns_lb", "not yet"))
}
