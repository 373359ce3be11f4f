//! Reusable parts: mechanisms several systems embed.
//!
//! A part is a plain struct with the state and decisions of one mechanism
//! (when the next request arrives, how long to back off, whether to grant
//! a vote). It knows no system's messages: a system embeds the part in its
//! own node, asks it what to do, and sends its own typed messages, so
//! nothing is boxed per message and each system keeps one closed node
//! enum. Parts draw randomness only from the node's own stream
//! (`ctx.rng()`), in a documented order, so embedding one does not change
//! any other node's draws.
//!
//! - [`workload`]: open-loop (Poisson) arrivals and closed-loop think
//!   times, key and object popularity laws, timeouts and retries with
//!   backoff and jitter;
//! - [`election`]: the term, vote and candidacy rules of a Raft-style
//!   election, and its randomised timer;
//! - [`lookup`]: the table for in-flight work, with no iteration order;
//! - [`cache`]: a bounded TTL cache with CLOCK eviction over a known
//!   universe of objects (a CDN server's, a service's in front of a store);
//! - [`backup`]: backup jobs (schedules, silent failures, alert paths), the
//!   catalogue of copies with retention, the newest restorable point;
//! - [`operator`]: runbooks as data, the operator's wrong-host mistake, and
//!   guards on destructive steps;
//! - [`alarm`]: a sensor → alarm → on-call chain whose alarm can be
//!   silently broken, and when someone acts;
//! - [`exposure`]: a host's firewall chain with the container runtime's
//!   rule ahead of it, authentication and credential scope, and when an
//!   internet scanner probes.
//!
//! - [`heap`]: a collector's stop-the-world pause as the live heap nears
//!   its size;
//! - [`session`]: a coordination-service client's session: heartbeats,
//!   connection loss, resumption within the timeout, expiry, reconnect
//!   back-off.

pub mod alarm;
pub mod backup;
pub mod cache;
pub mod election;
pub mod exposure;
pub mod heap;
pub mod lookup;
pub mod operator;
pub mod session;
pub mod workload;

pub use lookup::LookupMap;
