//! The `[architecture]` table: services with their replicas, capacity and
//! calls, the client policies on each call, and the user cohorts that
//! drive it.

use crate::systems::parts::workload::Backoff;
use crate::time::{SimDuration, SimTime};
use crate::topology::Latency;
use serde::Deserialize;

/// Which waiting request a free worker takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueOrder {
    /// The oldest first; a full queue refuses the newcomer.
    #[default]
    Fifo,
    /// The newest first, so under overload the requests served are the
    /// ones whose callers are still waiting; a full queue drops its oldest
    /// request (answered as refused) to take the newcomer.
    Lifo,
    /// FIFO until a queue stands (its oldest request has waited longer
    /// than `lifo_after`), then LIFO as above until it has drained: the
    /// adaptive LIFO that large RPC servers use under overload.
    AdaptiveLifo,
}

/// Which replicas of a store serve reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    /// Any replica the balancer picks.
    #[default]
    Any,
    /// The primary only.
    Primary,
}

/// How a caller picks among a service's replicas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Balancer {
    /// Each in turn.
    #[default]
    RoundRobin,
    /// The replica with the fewest requests this caller has outstanding
    /// (ties: the next in turn).
    LeastOutstanding,
    /// Round robin over the replicas in the caller's own site while one of
    /// them is healthy (not ejected), else over every site (Envoy's
    /// zone-aware routing, with failover).
    ZoneAware,
}

/// What a caller does on a call: its timeout, retries and their budget.
/// Written inline in a `[[...call]]` or `[[architecture.cohort]]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct CallPolicy {
    /// How long one attempt may take before the caller gives up on it
    /// (the callee does not know, and keeps working on it).
    pub timeout: SimDuration,
    /// Attempts after the first, on a timeout or an error.
    pub retries: u32,
    /// Delay before each retry (`None`: an immediate retry).
    pub backoff: Option<Backoff>,
    /// Retry budget, as gRPC's retry throttling: each first attempt earns
    /// this many tokens (at most 10 held), each retry spends one, and a
    /// retry without a token is not made. `None`: no budget.
    pub retry_budget: Option<f64>,
    /// How replicas are picked.
    pub balancer: Balancer,
    /// Passive health checking: eject a replica after this many
    /// consecutive failed attempts to it (`None`: never).
    pub eject_after: Option<u32>,
    /// How long an ejected replica is skipped.
    pub eject_for: SimDuration,
    /// A circuit breaker on the whole callee.
    pub breaker: Option<Breaker>,
    /// Hedging: an attempt unanswered after this long is sent again to
    /// another replica, and the first answer wins (reads only).
    pub hedge_after: Option<SimDuration>,
    /// Active health checking of every replica.
    pub health_check: Option<HealthCheck>,
}

/// Active health checking, as a sidecar proxy or a load balancer does it:
/// each caller probes every replica of the callee each `every`; a replica
/// that does not answer ready before the next probe fails the check, and
/// after `unhealthy` failures in a row it is skipped until `healthy`
/// checks in a row pass. A replica answers not ready while its queue is
/// full (readiness), and not at all while it is down (liveness).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Interval between probes (and each probe's timeout).
    #[serde(default = "five_seconds")]
    pub every: SimDuration,
    /// Failed checks in a row that take a replica out.
    #[serde(default = "three")]
    pub unhealthy: u32,
    /// Passed checks in a row that bring it back.
    #[serde(default = "two")]
    pub healthy: u32,
}

fn three() -> u32 {
    3
}

fn two() -> u32 {
    2
}

/// A circuit breaker: after `failures` failed attempts in a row to the
/// callee (any replica) it opens, and calls fail at once without being
/// sent; after `open_for` one call goes through (half-open): its success
/// closes the breaker, its failure opens it again.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Breaker {
    /// Consecutive failed attempts that open it.
    pub failures: u32,
    /// How long it stays open before a trial call.
    pub open_for: SimDuration,
}

/// The policy keys as they are written (serde cannot deny unknown keys
/// through a flattened struct, so each table repeats them).
macro_rules! policy_fields {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
            /// How long one attempt may take before the caller gives up on
            /// it (the callee does not know, and keeps working on it).
            pub timeout: SimDuration,
            /// Attempts after the first, on a timeout or an error.
            #[serde(default)]
            pub retries: u32,
            /// Delay before each retry (default: none, an immediate retry).
            #[serde(default)]
            pub backoff: Option<Backoff>,
            /// Retry budget, as gRPC's retry throttling: each first attempt
            /// earns this many tokens (at most 10 held), each retry spends
            /// one, and a retry without a token is not made. Absent: no
            /// budget.
            #[serde(default)]
            pub retry_budget: Option<f64>,
            /// How replicas are picked: `round_robin`,
            /// `least_outstanding` or `zone_aware`.
            #[serde(default)]
            pub balancer: Balancer,
            /// Passive health checking (outlier ejection, as Envoy's
            /// `consecutive_5xx`): skip a replica after this many
            /// consecutive failed attempts (timeouts or errors) to it.
            /// Absent: never.
            #[serde(default)]
            pub eject_after: Option<u32>,
            /// How long an ejected replica is skipped.
            #[serde(default = "thirty_seconds")]
            pub eject_for: SimDuration,
            /// A circuit breaker on the callee: `{ failures = 20,
            /// open_for = "10s" }`. Absent: none.
            #[serde(default)]
            pub breaker: Option<Breaker>,
            /// Hedging: an attempt unanswered after this long is sent
            /// again to another replica; the first answer wins (not for a
            /// store's writes). Absent: none.
            #[serde(default)]
            pub hedge_after: Option<SimDuration>,
            /// Active health checking: `{ every = "5s", unhealthy = 3,
            /// healthy = 2 }`; each caller probes every replica. Absent:
            /// none.
            #[serde(default)]
            pub health_check: Option<HealthCheck>,
        }

        impl $name {
            /// The caller's policy.
            pub fn policy(&self) -> CallPolicy {
                CallPolicy {
                    timeout: self.timeout,
                    retries: self.retries,
                    backoff: self.backoff,
                    retry_budget: self.retry_budget,
                    balancer: self.balancer,
                    eject_after: self.eject_after,
                    eject_for: self.eject_for,
                    breaker: self.breaker,
                    hedge_after: self.hedge_after,
                    health_check: self.health_check,
                }
            }
        }
    };
}

policy_fields! {
    /// One downstream call a service makes for every request it serves,
    /// after its own service time, in order.
    #[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Call {
        /// The service called.
        pub to: String,
        /// Which of its endpoints (absent: its own, `default`).
        #[serde(default)]
        pub endpoint: Option<String>,
        /// A failed optional call is answered by a fallback (the request
        /// goes on); a failed required call fails the request.
        #[serde(default)]
        pub optional: bool,
        /// A cache at the caller in front of this call (a read-through
        /// cache of the callee's answers). Absent: none.
        #[serde(default)]
        pub cache: Option<CacheSpec>,
    }
}

/// A read-through cache at the caller: each call asks for a key drawn
/// from `keys` by a zipf law; a key cached less than `ttl` ago is answered
/// at once, any other is fetched and then cached, `capacity` keys at most
/// (CLOCK eviction). Memory: a restarted replica starts cold, so its
/// misses land on the callee.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// Distinct keys (1 to 65,535).
    pub keys: u32,
    /// Zipf exponent of the keys' popularity (0: uniform).
    #[serde(default = "zipf")]
    pub zipf: f64,
    /// Keys held at most.
    pub capacity: u32,
    /// How long a cached answer is served.
    pub ttl: SimDuration,
}

fn zipf() -> f64 {
    0.9
}

/// A service: identical replicas behind client-side balancing.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Unique name.
    pub name: String,
    /// Replicas (at least one).
    pub replicas: u32,
    /// Sites, in the order replicas are spread over them (replica k at
    /// `sites[k mod n]`).
    pub sites: Vec<String>,
    /// Failure-domain paths below each replica's site, spread the same way
    /// (empty: the site itself).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Requests a replica serves at once (worker threads).
    pub workers: u32,
    /// Requests that may wait for a worker; past it a request is refused
    /// at once (load shedding by queue limit).
    pub queue_max: u32,
    /// Drop a request whose caller has already given up on it when a worker
    /// takes it, instead of serving it (deadline-expired shedding).
    #[serde(default)]
    pub shed_expired: bool,
    /// Which waiting request a free worker takes: `fifo`, `lifo` or
    /// `adaptive_lifo`.
    #[serde(default)]
    pub queue_order: QueueOrder,
    /// `adaptive_lifo`: the wait of the oldest queued request past which
    /// the queue counts as standing and is served newest first (100 ms by
    /// default, CoDel's interval).
    #[serde(default = "hundred_ms")]
    pub lifo_after: SimDuration,
    /// A worker's time per request before its calls.
    pub service_time: Latency,
    /// Calls made for each request, in order.
    #[serde(default, rename = "call")]
    pub calls: Vec<Call>,
    /// Make the calls at once rather than in order: the request is answered
    /// when all have ended, or failed as soon as a required one fails.
    #[serde(default)]
    pub parallel: bool,
    /// Further endpoints, each with its own service time and calls. The
    /// service's own `service_time`, `call` and `parallel` are its first
    /// endpoint, `default`.
    #[serde(default, rename = "endpoint")]
    pub endpoints: Vec<Endpoint>,
    /// This service is a datastore: its callers' calls are reads and
    /// writes of keys, writes go to its primary and are replicated to the
    /// other replicas. Absent: a stateless service.
    #[serde(default)]
    pub store: Option<StoreSpec>,
}

/// An endpoint of a service: what a request to it costs and calls.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Its name, unique in the service (`default` is the service's own).
    pub name: String,
    /// A worker's time per request before its calls (absent: the
    /// service's).
    #[serde(default)]
    pub service_time: Option<Latency>,
    /// Calls made for each request, in order.
    #[serde(default, rename = "call")]
    pub calls: Vec<Call>,
    /// Make the calls at once.
    #[serde(default)]
    pub parallel: bool,
}

/// The name of a service's own endpoint.
pub const DEFAULT_ENDPOINT: &str = "default";

impl Service {
    /// Its endpoints in order, its own first: (name, service time, calls,
    /// parallel).
    pub fn all_endpoints(&self) -> Vec<(&str, Latency, &[Call], bool)> {
        std::iter::once((DEFAULT_ENDPOINT, self.service_time, self.calls.as_slice(), self.parallel))
            .chain(self.endpoints.iter().map(|e| {
                (e.name.as_str(), e.service_time.unwrap_or(self.service_time), e.calls.as_slice(), e.parallel)
            }))
            .collect()
    }

    /// The index of endpoint `name` (`None` when the service has none by
    /// that name; absent names the service's own).
    pub fn endpoint(&self, name: Option<&str>) -> Option<usize> {
        match name {
            None | Some(DEFAULT_ENDPOINT) => Some(0),
            Some(n) => self.endpoints.iter().position(|e| e.name == n).map(|i| i + 1),
        }
    }

    /// Every call of every endpoint.
    pub fn every_call(&self) -> impl Iterator<Item = &Call> {
        self.calls.iter().chain(self.endpoints.iter().flat_map(|e| e.calls.iter()))
    }
}

/// How a store's primary replicates a write before acknowledging it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Replication {
    /// One node, no replicas (`replicas = 1`).
    Single,
    /// Acknowledged once written on the primary; shipped to the replicas
    /// afterwards (MySQL's and PostgreSQL's default streaming).
    Async,
    /// Acknowledged once one replica has it, or after `semi_sync_timeout`
    /// without one (MySQL's semi-synchronous replication, which then
    /// acknowledges anyway).
    SemiSync,
    /// Acknowledged once a majority of the replicas (the primary counted)
    /// has it; a primary that cannot reach a majority acknowledges
    /// nothing.
    Quorum,
}

/// A datastore's replication and failover.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreSpec {
    /// `single`, `async`, `semi_sync` or `quorum`.
    pub replication: Replication,
    /// Fraction of calls that are writes (the rest are reads).
    #[serde(default = "write_fraction")]
    pub writes: f64,
    /// Where reads go: `any` replica (the balancer's pick: fast and local,
    /// but a replica behind the primary answers stale), or the `primary`
    /// only (as writes do: a replica refuses and names the primary).
    #[serde(default)]
    pub reads: ReadFrom,
    /// Distinct keys written (1 to 1,000,000).
    #[serde(default = "store_keys")]
    pub keys: u32,
    /// How stale a read may be: a read returning a value older than a write
    /// acknowledged this long before the read began fails `stale-reads`.
    #[serde(default = "one_second")]
    pub stale_read_bound: SimDuration,
    /// `semi_sync`: how long the primary waits for a replica before it
    /// acknowledges anyway.
    #[serde(default = "ten_seconds")]
    pub semi_sync_timeout: SimDuration,
    /// Automatic failover (a detector such as Orchestrator or Patroni
    /// watching the primary). Absent: a failed primary stays failed until
    /// it comes back.
    #[serde(default)]
    pub failover: Option<Failover>,
}

/// The failover detector: one process at `site` that probes every replica
/// each `probe`; when the primary has not answered as primary for
/// `detect`, it waits `promote` more, then promotes the replica it can
/// reach with the most log (`quorum`: only if it reaches a majority) and
/// tells the others to follow it.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Failover {
    /// Where the detector runs.
    pub site: String,
    /// Interval between probes.
    #[serde(default = "one_second")]
    pub probe: SimDuration,
    /// How long the primary must be silent before it is declared failed.
    #[serde(default = "ten_seconds")]
    pub detect: SimDuration,
    /// Delay between the declaration and the promotion.
    #[serde(default = "five_seconds")]
    pub promote: SimDuration,
    /// Fencing by lease: a primary that has not heard the detector for
    /// `detect` stops accepting writes (a deposed primary cut off from the
    /// detector otherwise goes on accepting them).
    #[serde(default)]
    pub fence: bool,
}

fn write_fraction() -> f64 {
    0.2
}

fn store_keys() -> u32 {
    1000
}

fn hundred_ms() -> SimDuration {
    SimDuration::from_millis(100)
}

fn one_second() -> SimDuration {
    SimDuration::from_secs(1)
}

fn five_seconds() -> SimDuration {
    SimDuration::from_secs(5)
}

/// A periodic load shape: `levels` split `period` into equal slices, each
/// a multiple of the cohort's rate (24 levels over `"24h"`: one per hour).
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// The period the levels repeat over.
    #[serde(default = "one_day")]
    pub period: SimDuration,
    /// Multiples of the rate, one per slice (1 to 10,000 of them, each 0
    /// to 1,000).
    pub levels: Vec<f64>,
}

impl Shape {
    /// The level in force at `t`, and when the next slice starts.
    pub fn at(&self, t: SimTime) -> (f64, SimTime) {
        let slice = (self.period.as_nanos() / self.levels.len() as u64).max(1);
        let k = t.as_nanos() / slice;
        let level = self.levels[(k % self.levels.len() as u64) as usize];
        (level, SimTime::from_nanos((k + 1) * slice))
    }
}

fn one_day() -> SimDuration {
    SimDuration::from_secs(86_400)
}

/// A rise in a cohort's arrival rate for a while (the trigger of a load
/// spike).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Surge {
    /// When it starts.
    pub at: SimTime,
    /// How long it lasts.
    pub duration: SimDuration,
    /// Requests per second during it.
    pub rate: f64,
}

policy_fields! {
    /// Users at a site sending requests to an entry service, with their
    /// own timeout, retries and budget.
    #[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Cohort {
        /// Name (the population tallied).
        pub name: String,
        /// Where the users are.
        pub site: String,
        /// The entry service.
        pub service: String,
        /// Which of its endpoints (absent: its own, `default`).
        #[serde(default)]
        pub endpoint: Option<String>,
        /// Poisson arrivals per second.
        pub rate: f64,
        /// A surge, if any.
        #[serde(default)]
        pub surge: Option<Surge>,
        /// A load shape over the day (or another period): the rate is
        /// `rate` times the level of the slice of the period the time
        /// falls in. Absent: a flat rate.
        #[serde(default)]
        pub shape: Option<Shape>,
        /// A successful request slower than this counts as bad (the
        /// latency objective of the cohort's SLO). Absent: any success is
        /// good.
        #[serde(default)]
        pub latency_objective: Option<SimDuration>,
    }
}

/// The `[architecture]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchitectureConfig {
    /// Tally window and series step.
    #[serde(default = "ten_seconds")]
    pub resolution: SimDuration,
    /// A window is healthy at this success fraction or above.
    #[serde(default = "healthy")]
    pub healthy: f64,
    /// The SLO's objective: the fraction of user requests that must be
    /// good over the run; `error_budget_burned` is the bad requests over
    /// the (1 - slo) share the objective allows.
    #[serde(default = "three_nines")]
    pub slo: f64,
    /// How long an outage may outlive its trigger before it is metastable.
    #[serde(default = "five_minutes")]
    pub metastable_bound: SimDuration,
    /// The services.
    #[serde(rename = "service")]
    pub services: Vec<Service>,
    /// The users.
    #[serde(rename = "cohort")]
    pub cohorts: Vec<Cohort>,
}

fn thirty_seconds() -> SimDuration {
    SimDuration::from_secs(30)
}

fn ten_seconds() -> SimDuration {
    SimDuration::from_secs(10)
}

fn three_nines() -> f64 {
    0.999
}

fn healthy() -> f64 {
    0.9
}

fn five_minutes() -> SimDuration {
    SimDuration::from_secs(300)
}

/// Replicas of one service at most, and retries per call.
pub const REPLICAS_MAX: u32 = 10_000;
/// Workers and queue slots per replica at most.
pub const WORKERS_MAX: u32 = 100_000;
/// Replicas of a store at most (every write is shipped to each).
pub const STORE_REPLICAS_MAX: u32 = 64;
/// Retries per call at most.
pub const RETRIES_MAX: u32 = 100;

type Invalid = (String, String);

fn bad(field: String, message: impl Into<String>) -> Invalid {
    (field, message.into())
}

impl CallPolicy {
    fn validate(&self, at: &str) -> Result<(), Invalid> {
        if self.timeout == SimDuration::ZERO {
            return Err(bad(format!("{at}.timeout"), "must be positive"));
        }
        if self.retries > RETRIES_MAX {
            return Err(bad(
                format!("{at}.retries"),
                format!("{} is more than {RETRIES_MAX}", self.retries),
            ));
        }
        if let Some(b) = &self.backoff {
            b.validate().map_err(|(f, m)| bad(format!("{at}.backoff.{f}"), m))?;
        }
        if let Some(b) = &self.breaker
            && (b.failures == 0 || b.open_for == SimDuration::ZERO)
        {
            return Err(bad(
                format!("{at}.breaker"),
                "failures and open_for must be positive",
            ));
        }
        if let Some(h) = self.hedge_after
            && (h == SimDuration::ZERO || h >= self.timeout)
        {
            return Err(bad(format!("{at}.hedge_after"), "must be positive and shorter than the timeout"));
        }
        if let Some(h) = &self.health_check
            && (h.every < SimDuration::from_millis(1) || h.unhealthy == 0 || h.healthy == 0)
        {
            return Err(bad(
                format!("{at}.health_check"),
                "every must be at least 1ms, unhealthy and healthy at least 1",
            ));
        }
        if self.eject_after == Some(0) {
            return Err(bad(format!("{at}.eject_after"), "must be at least 1"));
        }
        if let Some(r) = self.retry_budget
            && !(r.is_finite() && (0.0..=10.0).contains(&r))
        {
            return Err(bad(
                format!("{at}.retry_budget"),
                format!("{r} is not a token ratio from 0 to 10"),
            ));
        }
        Ok(())
    }
}

impl StoreSpec {
    fn validate(&self, at: &str, replicas: u32, has_site: &dyn Fn(&str) -> bool) -> Result<(), Invalid> {
        if !(self.writes.is_finite() && (0.0..=1.0).contains(&self.writes)) {
            return Err(bad(format!("{at}.writes"), "must be a fraction from 0 to 1"));
        }
        if !(1..=1_000_000).contains(&self.keys) {
            return Err(bad(format!("{at}.keys"), "give 1 to 1000000"));
        }
        if self.replication == Replication::Single && replicas != 1 {
            return Err(bad(
                format!("{at}.replication"),
                format!("single means one node, but the service has {replicas} replicas: use async, semi_sync or quorum"),
            ));
        }
        if replicas > STORE_REPLICAS_MAX {
            return Err(bad(format!("{at}.replication"), format!("a store has at most {STORE_REPLICAS_MAX} replicas")));
        }
        if self.semi_sync_timeout == SimDuration::ZERO {
            return Err(bad(format!("{at}.semi_sync_timeout"), "must be positive"));
        }
        if let Some(f) = &self.failover {
            if !has_site(&f.site) {
                return Err(bad(format!("{at}.failover.site"), format!("unknown site {:?}", f.site)));
            }
            if f.probe == SimDuration::ZERO || f.detect < f.probe {
                return Err(bad(format!("{at}.failover.detect"), "probe must be positive and detect at least one probe"));
            }
            if self.replication == Replication::Single {
                return Err(bad(format!("{at}.failover"), "a single node has nothing to fail over to"));
            }
        }
        Ok(())
    }
}

impl ArchitectureConfig {
    /// The index of service `name`.
    pub fn service(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }

    /// Checks names, ranges, sites and that calls form no cycle; errors
    /// name the field inside the table.
    pub fn validate(&self, has_site: &dyn Fn(&str) -> bool) -> Result<(), Invalid> {
        if !(self.slo.is_finite() && (0.0..1.0).contains(&self.slo)) {
            return Err(bad("slo".into(), "must be a fraction from 0 to just under 1"));
        }
        if !(self.healthy.is_finite() && (0.0..=1.0).contains(&self.healthy)) {
            return Err(bad("healthy".into(), "must be a fraction from 0 to 1"));
        }
        if self.resolution < SimDuration::from_millis(1) {
            return Err(bad("resolution".into(), "must be at least 1ms"));
        }
        if self.services.is_empty() {
            return Err(bad("service".into(), "declare at least one [[architecture.service]]"));
        }
        for (i, s) in self.services.iter().enumerate() {
            self.validate_service(i, s, has_site)?;
        }
        for (i, c) in self.cohorts.iter().enumerate() {
            let at = format!("cohort[{i}]");
            if !has_site(&c.site) {
                return Err(bad(format!("{at}.site"), format!("unknown site {:?}", c.site)));
            }
            let Some(entry) = self.service(&c.service) else {
                return Err(bad(format!("{at}.service"), format!("no service {:?}", c.service)));
            };
            self.endpoint_of(&at, entry, c.endpoint.as_deref())?;
            if let Some(sh) = &c.shape {
                let fine = |l: &f64| l.is_finite() && (0.0..=1000.0).contains(l);
                if sh.levels.is_empty() || sh.levels.len() > 10_000 || !sh.levels.iter().all(fine) {
                    return Err(bad(format!("{at}.shape.levels"), "give 1 to 10000 levels, each from 0 to 1000"));
                }
                if sh.period < SimDuration::from_secs(1) {
                    return Err(bad(format!("{at}.shape.period"), "must be at least 1s"));
                }
            }
            if c.latency_objective == Some(SimDuration::ZERO) {
                return Err(bad(format!("{at}.latency_objective"), "must be positive"));
            }
            let peak = c.shape.as_ref().map_or(1.0, |sh| sh.levels.iter().copied().fold(0.0, f64::max));
            let rates = std::iter::once(c.rate * peak.max(1.0)).chain(c.surge.map(|s| s.rate));
            for r in rates {
                if !(r.is_finite() && (0.0..=crate::bounds::RPS_MAX).contains(&r)) {
                    return Err(bad(
                        format!("{at}.rate"),
                        format!("{r} is not a rate from 0 to {}", crate::bounds::RPS_MAX),
                    ));
                }
            }
            c.policy().validate(&at)?;
        }
        self.no_cycle()
    }

    fn validate_service(
        &self,
        i: usize,
        s: &Service,
        has_site: &dyn Fn(&str) -> bool,
    ) -> Result<(), Invalid> {
        let at = format!("service[{i}]");
        if self.service(&s.name) != Some(i) {
            return Err(bad(format!("{at}.name"), format!("two services are called {:?}", s.name)));
        }
        if !(1..=REPLICAS_MAX).contains(&s.replicas) {
            return Err(bad(format!("{at}.replicas"), format!("give 1 to {REPLICAS_MAX}")));
        }
        if !(1..=WORKERS_MAX).contains(&s.workers) {
            return Err(bad(format!("{at}.workers"), format!("give 1 to {WORKERS_MAX}")));
        }
        if s.queue_max > WORKERS_MAX {
            return Err(bad(format!("{at}.queue_max"), format!("at most {WORKERS_MAX}")));
        }
        if s.lifo_after == SimDuration::ZERO {
            return Err(bad(format!("{at}.lifo_after"), "must be positive"));
        }
        if s.sites.is_empty() {
            return Err(bad(format!("{at}.sites"), "name at least one site"));
        }
        if let Some(x) = s.sites.iter().find(|x| !has_site(x)) {
            return Err(bad(format!("{at}.sites"), format!("unknown site {x:?}")));
        }
        s.service_time
            .validate()
            .map_err(|m| bad(format!("{at}.service_time"), m))?;
        if let Some(store) = &s.store {
            store.validate(&format!("{at}.store"), s.replicas, has_site)?;
        }
        for (e, ep) in s.endpoints.iter().enumerate() {
            let at = format!("{at}.endpoint[{e}]");
            if s.endpoint(Some(&ep.name)) != Some(e + 1) {
                return Err(bad(
                    format!("{at}.name"),
                    format!("{:?} names another endpoint of {:?} (`default` is the service's own)", ep.name, s.name),
                ));
            }
            if let Some(t) = &ep.service_time {
                t.validate().map_err(|m| bad(format!("{at}.service_time"), m))?;
            }
            self.validate_calls(&at, &ep.calls)?;
        }
        self.validate_calls(&at, &s.calls)
    }

    fn validate_calls(&self, at: &str, calls: &[Call]) -> Result<(), Invalid> {
        for (k, c) in calls.iter().enumerate() {
            let at = format!("{at}.call[{k}]");
            let Some(callee) = self.service(&c.to) else {
                return Err(bad(format!("{at}.to"), format!("no service {:?}", c.to)));
            };
            self.endpoint_of(&at, callee, c.endpoint.as_deref())?;
            c.policy().validate(&at)?;
            if let Some(k) = &c.cache {
                if !(1..=65_535).contains(&k.keys) {
                    return Err(bad(format!("{at}.cache.keys"), "give 1 to 65535"));
                }
                if !(k.zipf.is_finite() && (0.0..=10.0).contains(&k.zipf)) {
                    return Err(bad(format!("{at}.cache.zipf"), "give an exponent from 0 to 10"));
                }
                if k.capacity == 0 || k.ttl == SimDuration::ZERO {
                    return Err(bad(format!("{at}.cache"), "capacity and ttl must be positive"));
                }
            }
        }
        Ok(())
    }

    /// The index of the endpoint a call or cohort names on `callee`.
    fn endpoint_of(&self, at: &str, callee: usize, name: Option<&str>) -> Result<usize, Invalid> {
        let s = &self.services[callee];
        s.endpoint(name).ok_or_else(|| {
            let known: Vec<&str> = s.all_endpoints().iter().map(|e| e.0).collect();
            bad(
                format!("{at}.endpoint"),
                format!("{:?} has no endpoint {:?} (it has {})", s.name, name.unwrap_or_default(), known.join(", ")),
            )
        })
    }

    /// Calls must form a DAG: a cycle would hold workers waiting on
    /// themselves.
    fn no_cycle(&self) -> Result<(), Invalid> {
        let n = self.services.len();
        // 0 unvisited, 1 on the path, 2 done.
        let mut state = vec![0u8; n];
        fn visit(c: &ArchitectureConfig, i: usize, state: &mut [u8]) -> Option<usize> {
            if state[i] == 1 {
                return Some(i);
            }
            if state[i] == 2 {
                return None;
            }
            state[i] = 1;
            for call in c.services[i].every_call() {
                let j = c.service(&call.to).expect("validated");
                if let Some(x) = visit(c, j, state) {
                    return Some(x);
                }
            }
            state[i] = 2;
            None
        }
        for i in 0..n {
            if let Some(x) = visit(self, i, &mut state) {
                return Err(bad(
                    format!("service[{x}].call"),
                    format!("the calls of {:?} lead back to it: calls must not loop", self.services[x].name),
                ));
            }
        }
        Ok(())
    }
}
