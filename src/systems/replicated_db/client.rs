//! Service discovery, the application tier and the clients.
//!
//! Clients never talk to databases directly: like GitHub's users, they send
//! requests to an application tier, which runs the statement against the
//! primary it learned from the discovery server at its own site (or, for
//! the Raft engine, against the leader it last heard of, following
//! redirects). So where the application tier sits, and what its local
//! discovery server has heard, decide which primary takes a write.
//!
//! A client is one closed-loop process: request, wait for the answer or its
//! timeout, think (exponential), repeat; after a failure or a timeout it
//! backs off first. It records each invocation and completion, which is the
//! history the checkers judge: `ok` when answered, `fail` when the system
//! said the statement did not run, `info` when it cannot know.

use super::config::Engine;
use super::{ClusterIx, DbNode, DbObs, DbTimer, Layout, Msg, Op, OpKind, OpResult, Part};
use crate::fault::Disk;
use crate::history::FastHash;
use crate::sim::{Ctx, NodeId, TimerId};
use crate::time::SimDuration;
use indexmap::IndexMap;
use rand::RngExt;
use std::sync::Arc;

/// A discovery server (Consul-like): serves each cluster's primary to the
/// application servers at its site, a propagation delay after hearing it.
#[derive(Debug)]
pub struct Discovery {
    layout: Arc<Layout>,
    entries: Vec<(NodeId, u64)>,
    watchers: Vec<NodeId>,
}

impl Discovery {
    /// A discovery server knowing the initial primaries.
    pub fn new(layout: Arc<Layout>) -> Self {
        let entries = layout.servers.iter().map(|s| (s[0].0, 1)).collect();
        Self {
            layout,
            entries,
            watchers: Vec::new(),
        }
    }
}

impl Part for Discovery {
    fn start(&mut self, _ctx: &mut Ctx<'_, DbNode>) {}

    fn restart(&mut self, _ctx: &mut Ctx<'_, DbNode>) {}

    fn message(&mut self, ctx: &mut Ctx<'_, DbNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Watch => {
                if !self.watchers.contains(&from) {
                    self.watchers.push(from);
                }
                for (c, &(primary, epoch)) in self.entries.iter().enumerate() {
                    let cluster = c as ClusterIx;
                    ctx.send(
                        from,
                        Msg::Publish {
                            cluster,
                            primary,
                            epoch,
                        },
                    );
                }
            }
            Msg::Publish {
                cluster,
                primary,
                epoch,
            } if epoch > self.entries[cluster as usize].1 => {
                let delay = self.layout.config.discovery.propagation_delay;
                ctx.set_timer(
                    delay,
                    DbTimer::Propagated {
                        cluster,
                        primary,
                        epoch,
                    },
                );
            }
            _ => {}
        }
    }

    fn timer(&mut self, ctx: &mut Ctx<'_, DbNode>, _id: TimerId, timer: DbTimer) {
        if let DbTimer::Propagated {
            cluster,
            primary,
            epoch,
        } = timer
            && epoch > self.entries[cluster as usize].1
        {
            self.entries[cluster as usize] = (primary, epoch);
            for &w in &self.watchers {
                ctx.send(
                    w,
                    Msg::Publish {
                        cluster,
                        primary,
                        epoch,
                    },
                );
            }
        }
    }

    fn crash(&mut self, _disk: Disk) {
        // Entries and watch registrations are durable (a Consul server
        // keeps its catalogue); pending propagations are lost.
    }
}

#[derive(Debug)]
struct Route {
    primary: NodeId,
    epoch: u64,
    leader: usize,
    readers: Vec<NodeId>,
    next_reader: usize,
}

#[derive(Debug)]
struct Stmt {
    client: NodeId,
    client_id: u64,
    op: Op,
    redirects: u32,
    timer: TimerId,
}

/// An application server: runs clients' statements against the database.
#[derive(Debug)]
pub struct AppServer {
    layout: Arc<Layout>,
    tier: usize,
    routes: Vec<Route>,
    inflight: IndexMap<u64, Stmt, FastHash>,
    next_id: u64,
}

impl AppServer {
    /// A server of application tier `tier`.
    pub fn new(layout: Arc<Layout>, tier: usize) -> Self {
        let site = layout.apps[tier].1.clone();
        let routes = layout
            .servers
            .iter()
            .map(|servers| {
                let replicas: Vec<&(NodeId, String)> = servers.iter().skip(1).collect();
                let local: Vec<NodeId> = replicas
                    .iter()
                    .filter(|(_, s)| *s == site)
                    .map(|(n, _)| *n)
                    .collect();
                let readers = if local.is_empty() {
                    replicas.iter().map(|(n, _)| *n).collect()
                } else {
                    local
                };
                Route {
                    primary: servers[0].0,
                    epoch: 1,
                    leader: 0,
                    readers,
                    next_reader: 0,
                }
            })
            .collect();
        Self {
            layout,
            tier,
            routes,
            inflight: IndexMap::default(),
            next_id: 0,
        }
    }

    fn target(&mut self, op: &Op) -> NodeId {
        let route = &mut self.routes[op.cluster as usize];
        match self.layout.config.engine {
            Engine::Raft => self.layout.servers[op.cluster as usize][route.leader].0,
            Engine::Mysql => {
                if op.kind == OpKind::Write || op.read_primary || route.readers.is_empty() {
                    route.primary
                } else {
                    let r = route.readers[route.next_reader % route.readers.len()];
                    route.next_reader = route.next_reader.wrapping_add(1);
                    r
                }
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, DbNode>, id: u64, result: OpResult) {
        if let Some(s) = self.inflight.swap_remove(&id) {
            ctx.cancel_timer(s.timer);
            ctx.send(
                s.client,
                Msg::Response {
                    id: s.client_id,
                    result,
                },
            );
        }
    }
}

impl Part for AppServer {
    fn start(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        if self.layout.config.engine == Engine::Mysql {
            let site = &self.layout.apps[self.tier].1;
            if let Some(&(d, _)) = self.layout.discovery.iter().find(|(_, s)| s == site) {
                ctx.send(d, Msg::Watch);
            }
        }
    }

    fn message(&mut self, ctx: &mut Ctx<'_, DbNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Request { id: client_id, op } => {
                self.next_id += 1;
                let id = self.next_id;
                let timeout = self.layout.config.app[self.tier].db_timeout;
                let timer = ctx.set_timer(timeout, DbTimer::StmtTimeout(id));
                let target = self.target(&op);
                self.inflight.insert(
                    id,
                    Stmt {
                        client: from,
                        client_id,
                        op,
                        redirects: 0,
                        timer,
                    },
                );
                ctx.send(target, Msg::Stmt { id, op });
            }
            Msg::StmtReply { id, result } => match result {
                OpResult::NotLeader(hint) => {
                    let max = self.layout.config.app[self.tier].max_redirects;
                    let Some(s) = self.inflight.get_mut(&id) else {
                        return;
                    };
                    let c = s.op.cluster as usize;
                    let voters = &self.layout.servers[c];
                    let route = &mut self.routes[c];
                    route.leader = match hint.and_then(|h| voters.iter().position(|(n, _)| *n == h))
                    {
                        Some(i) => i,
                        None => (route.leader + 1) % voters.len(),
                    };
                    if s.redirects >= max {
                        self.finish(ctx, id, OpResult::Fail("no leader"));
                    } else {
                        s.redirects += 1;
                        let op = s.op;
                        let target = voters[route.leader].0;
                        ctx.send(target, Msg::Stmt { id, op });
                    }
                }
                other => self.finish(ctx, id, other),
            },
            Msg::Publish {
                cluster,
                primary,
                epoch,
            } => {
                let r = &mut self.routes[cluster as usize];
                if epoch > r.epoch {
                    r.primary = primary;
                    r.epoch = epoch;
                }
            }
            _ => {}
        }
    }

    fn timer(&mut self, ctx: &mut Ctx<'_, DbNode>, _id: TimerId, timer: DbTimer) {
        if let DbTimer::StmtTimeout(id) = timer
            && let Some(s) = self.inflight.get(&id)
        {
            if self.layout.config.engine == Engine::Raft {
                let c = s.op.cluster as usize;
                let n = self.layout.servers[c].len();
                let r = &mut self.routes[c];
                r.leader = (r.leader + 1) % n;
            }
            self.finish(ctx, id, OpResult::Unknown("statement timeout"));
        }
    }

    fn crash(&mut self, _disk: Disk) {
        self.inflight.clear();
    }
}

/// A closed-loop client process.
#[derive(Debug)]
pub struct Client {
    layout: Arc<Layout>,
    workload: usize,
    app: NodeId,
    cluster: ClusterIx,
    counter: u64,
    pending: Option<(u64, TimerId)>,
    crashed_mid_request: bool,
}

impl Client {
    /// Client of `workload` sending to application server `app`.
    pub fn new(layout: Arc<Layout>, workload: usize, app: NodeId) -> Self {
        let w = &layout.config.workload[workload];
        let cluster = layout
            .config
            .cluster
            .iter()
            .position(|c| c.name == w.cluster)
            .unwrap_or(0) as ClusterIx;
        Self {
            layout,
            workload,
            app,
            cluster,
            counter: 0,
            pending: None,
            crashed_mid_request: false,
        }
    }

    fn think(&self, ctx: &mut Ctx<'_, DbNode>, extra: SimDuration) {
        let mean = self.layout.config.workload[self.workload].think;
        let d = crate::systems::parts::workload::exponential(ctx.rng(), mean);
        ctx.set_timer(extra + d, DbTimer::Think);
    }

    fn issue(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let w = &self.layout.config.workload[self.workload];
        let keys = self.layout.config.cluster[self.cluster as usize].keys;
        let write = ctx.rng().random_bool(w.write_fraction);
        let key = ctx.rng().random_range(0..keys);
        self.counter += 1;
        let op = Op {
            cluster: self.cluster,
            kind: if write { OpKind::Write } else { OpKind::Read },
            key,
            value: if write {
                (ctx.id().index() as u64 + 1) * 10_000_000 + self.counter
            } else {
                0
            },
            read_primary: w.reads == super::ReadFrom::Primary,
        };
        let id = self.counter;
        ctx.record(DbObs::Invoke { op });
        ctx.send(self.app, Msg::Request { id, op });
        let timer = ctx.set_timer(w.timeout, DbTimer::ClientTimeout(id));
        self.pending = Some((id, timer));
    }

    fn complete(&mut self, ctx: &mut Ctx<'_, DbNode>, result: OpResult) {
        self.pending = None;
        ctx.record(DbObs::Complete { result });
        let backoff = match result {
            OpResult::Ok(_) => SimDuration::ZERO,
            _ => self.layout.config.workload[self.workload].backoff,
        };
        self.think(ctx, backoff);
    }
}

impl Part for Client {
    fn start(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        let start = self.layout.config.workload[self.workload].start;
        self.think(ctx, start);
    }

    fn message(&mut self, ctx: &mut Ctx<'_, DbNode>, _from: NodeId, msg: Msg) {
        if let Msg::Response { id, result } = msg
            && let Some((pending, timer)) = self.pending
            && pending == id
        {
            ctx.cancel_timer(timer);
            self.complete(ctx, result);
        }
    }

    fn timer(&mut self, ctx: &mut Ctx<'_, DbNode>, _id: TimerId, timer: DbTimer) {
        match timer {
            DbTimer::Think => self.issue(ctx),
            DbTimer::ClientTimeout(id) if self.pending.is_some_and(|(p, _)| p == id) => {
                self.complete(ctx, OpResult::Unknown("client timeout"));
            }
            _ => {}
        }
    }

    fn restart(&mut self, ctx: &mut Ctx<'_, DbNode>) {
        if std::mem::take(&mut self.crashed_mid_request) {
            // The request's fate is unknown; the history says so before the
            // restarted process goes on.
            ctx.record(DbObs::Complete {
                result: OpResult::Unknown("client crashed"),
            });
        }
        self.start(ctx);
    }

    fn crash(&mut self, _disk: Disk) {
        self.crashed_mid_request = self.pending.take().is_some();
    }
}
