//! The services' node: one enum, a variant per service, with its settings,
//! messages, timers and observations.
//!
//! Each declares its durable state in `on_crash`: none of them has any, so a
//! crash forgets everything, as a restarted process would.

use crate::fault::Disk;
use crate::sim::{Ctx, Node, NodeId, TimerId};
use crate::time::{SimDuration, SimTime};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Settings of a `ping` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PingConfig {
    /// The node to ping (by name).
    pub target: String,
    /// Time between pings.
    pub interval: SimDuration,
    /// How long to wait for a reply.
    pub timeout: SimDuration,
}

/// Settings of a `heartbeat` node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// The peers to watch (by name).
    pub peers: Vec<String>,
    /// Time between heartbeats (local clock).
    pub interval: SimDuration,
    /// Silence after which a peer is suspected (local clock).
    pub timeout: SimDuration,
}

/// Which service a scenario node runs, with its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "service", rename_all = "snake_case")]
pub enum ServiceSpec {
    /// Answers pings.
    Echo {},
    /// Pings a target.
    Ping(PingConfig),
    /// Watches peers.
    Heartbeat(HeartbeatConfig),
}

/// Messages between the built-in services.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceMessage {
    /// A ping, numbered.
    Ping {
        /// Sequence number.
        seq: u64,
    },
    /// The answer to ping `seq`.
    Pong {
        /// Sequence number.
        seq: u64,
    },
    /// "I am alive."
    Heartbeat,
}

/// Timers of the built-in services.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceTimer {
    /// Time to send the next ping or heartbeat.
    Tick,
    /// Ping `seq` timed out.
    PingTimeout {
        /// Sequence number.
        seq: u64,
    },
    /// Time to look for silent peers.
    Check,
}

/// What the built-in services record.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceObservation {
    /// A ping was answered in time.
    PingOk {
        /// Sequence number.
        seq: u64,
        /// Round-trip time (true time).
        rtt: SimDuration,
    },
    /// A ping got no answer within its timeout.
    PingLost {
        /// Sequence number.
        seq: u64,
    },
    /// A peer went silent for longer than the timeout.
    Suspect {
        /// The peer's name.
        peer: String,
    },
    /// A suspected peer was heard from again.
    Trust {
        /// The peer's name.
        peer: String,
    },
}

impl ServiceObservation {
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceObservation::PingOk { .. } => "ping_ok",
            ServiceObservation::PingLost { .. } => "ping_lost",
            ServiceObservation::Suspect { .. } => "suspect",
            ServiceObservation::Trust { .. } => "trust",
        }
    }
}

/// A node running one of the built-in services.
#[derive(Clone, Debug)]
pub enum ServiceNode {
    /// Answers pings.
    Echo,
    /// Pings a target.
    Ping {
        /// Settings.
        config: PingConfig,
        /// Resolved target.
        target: NodeId,
        /// Next sequence number.
        next_seq: u64,
        /// Outstanding pings: seq → (true send time, timeout timer).
        outstanding: IndexMap<u64, (SimTime, TimerId)>,
    },
    /// Watches peers.
    Heartbeat {
        /// Settings.
        config: HeartbeatConfig,
        /// Resolved peers.
        peers: Vec<NodeId>,
        /// Per peer: local time last heard, and whether suspected.
        heard: IndexMap<NodeId, (SimTime, bool)>,
    },
}

impl ServiceNode {
    /// The service's name in scenario files.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ServiceNode::Echo => "echo",
            ServiceNode::Ping { .. } => "ping",
            ServiceNode::Heartbeat { .. } => "heartbeat",
        }
    }

    /// Builds a node for `spec`; `resolve` maps node names to ids.
    pub fn new(
        spec: &ServiceSpec,
        resolve: impl Fn(&str) -> Option<NodeId>,
    ) -> Result<Self, String> {
        Ok(match spec {
            ServiceSpec::Echo {} => ServiceNode::Echo,
            ServiceSpec::Ping(config) => ServiceNode::Ping {
                target: resolve(&config.target)
                    .ok_or_else(|| format!("target: unknown node {:?}", config.target))?,
                config: config.clone(),
                next_seq: 0,
                outstanding: IndexMap::new(),
            },
            ServiceSpec::Heartbeat(config) => ServiceNode::Heartbeat {
                peers: config
                    .peers
                    .iter()
                    .map(|p| resolve(p).ok_or_else(|| format!("peers: unknown node {p:?}")))
                    .collect::<Result<_, _>>()?,
                config: config.clone(),
                heard: IndexMap::new(),
            },
        })
    }
}

impl Node for ServiceNode {
    type Message = ServiceMessage;
    type Timer = ServiceTimer;
    type Observation = ServiceObservation;

    /// On the wire: an ICMP-echo-sized ping or pong, a small heartbeat
    /// datagram, so links with a bandwidth delay them as they would.
    fn message_bytes(message: &ServiceMessage) -> u32 {
        match message {
            ServiceMessage::Ping { .. } | ServiceMessage::Pong { .. } => 64,
            ServiceMessage::Heartbeat => 48,
        }
    }

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            ServiceNode::Echo => {}
            ServiceNode::Ping { config, .. } => {
                ctx.set_timer(config.interval, ServiceTimer::Tick);
            }
            ServiceNode::Heartbeat {
                config,
                peers,
                heard,
            } => {
                let now = ctx.local_time();
                for p in peers.iter() {
                    heard.insert(*p, (now, false));
                }
                ctx.set_timer(SimDuration::ZERO, ServiceTimer::Tick);
                ctx.set_timer(config.interval, ServiceTimer::Check);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, message: ServiceMessage) {
        match (self, message) {
            (ServiceNode::Echo, ServiceMessage::Ping { seq }) => {
                ctx.send(from, ServiceMessage::Pong { seq })
            }
            (ServiceNode::Ping { outstanding, .. }, ServiceMessage::Pong { seq }) => {
                if let Some((sent, timer)) = outstanding.shift_remove(&seq) {
                    ctx.cancel_timer(timer);
                    ctx.record(ServiceObservation::PingOk {
                        seq,
                        rtt: ctx.now() - sent,
                    });
                }
            }
            (ServiceNode::Heartbeat { heard, .. }, ServiceMessage::Heartbeat) => {
                let now = ctx.local_time();
                if let Some(entry) = heard.get_mut(&from) {
                    if entry.1 {
                        let peer = ctx_name(ctx, from);
                        ctx.record(ServiceObservation::Trust { peer });
                    }
                    *entry = (now, false);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _timer: TimerId, payload: ServiceTimer) {
        match (self, payload) {
            (
                ServiceNode::Ping {
                    config,
                    target,
                    next_seq,
                    outstanding,
                },
                ServiceTimer::Tick,
            ) => {
                let seq = *next_seq;
                *next_seq += 1;
                let timer = ctx.set_timer(config.timeout, ServiceTimer::PingTimeout { seq });
                outstanding.insert(seq, (ctx.now(), timer));
                ctx.send(*target, ServiceMessage::Ping { seq });
                ctx.set_timer(config.interval, ServiceTimer::Tick);
            }
            (ServiceNode::Ping { outstanding, .. }, ServiceTimer::PingTimeout { seq }) => {
                // A reply already removed it; otherwise it is lost now.
                let lost = outstanding.shift_remove(&seq).is_some();
                lost.then(|| ctx.record(ServiceObservation::PingLost { seq }));
            }
            (ServiceNode::Heartbeat { config, peers, .. }, ServiceTimer::Tick) => {
                for p in peers.iter() {
                    ctx.send(*p, ServiceMessage::Heartbeat);
                }
                ctx.set_timer(config.interval, ServiceTimer::Tick);
            }
            (ServiceNode::Heartbeat { config, heard, .. }, ServiceTimer::Check) => {
                let now = ctx.local_time();
                let mut newly = Vec::new();
                for (peer, (last, suspected)) in heard.iter_mut() {
                    if !*suspected && now.saturating_since(*last) > config.timeout {
                        *suspected = true;
                        newly.push(*peer);
                    }
                }
                for peer in newly {
                    let peer = ctx_name(ctx, peer);
                    ctx.record(ServiceObservation::Suspect { peer });
                }
                ctx.set_timer(config.interval, ServiceTimer::Check);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _disk: Disk) {
        // No durable state: a restarted process remembers nothing.
        match self {
            ServiceNode::Echo => {}
            ServiceNode::Ping { outstanding, .. } => outstanding.clear(),
            ServiceNode::Heartbeat { heard, .. } => heard.clear(),
        }
    }
}

fn ctx_name<N: Node>(ctx: &Ctx<'_, N>, id: NodeId) -> String {
    ctx.node_name(id).to_string()
}
