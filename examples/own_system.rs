//! Your own *system*, run from a scenario file like the built-in ones.
//!
//! `examples/own_node.rs` drives a simulation by hand. This example goes one
//! level up: it defines a small system (a primary–backup register with an
//! optional lease), registers it beside the built-in ones, loads
//! `examples/own_system/leased_register.toml` (which configures it and
//! names two designs, `naive` and `leased`, as `[design.*]` overrides), and
//! replays and compares the designs through the library, judged by the
//! library's own checkers (`split-brain`, `lost-writes`).
//!
//! Clients in both regions write through the primary; a client whose
//! request times out or is refused tries the other server next.
//! The mechanism: the primary copies writes to the backup asynchronously
//! and heartbeats it; the backup promotes itself after `promote_after`
//! without heartbeats. With no lease the cut primary keeps accepting
//! writes while the backup promotes: two writable primaries that both
//! accept writes (split brain), and acknowledged writes that the survivor
//! never saw. With a lease shorter than `promote_after`, the primary stops
//! accepting writes before the backup can promote: no split brain, though
//! writes acknowledged just before the cut are still lost (replication is
//! asynchronous).
//!
//! `cargo run --example own_system` prints both replays and the comparison;
//! `cargo test` runs the test at the bottom, which pins the verdicts.

// One line: a library user's Cargo.toml needs nothing but blastradius
// (serde comes through `blastradius::serde`).
use blastradius::prelude::*;
use std::path::Path;

/// The `[leased_register]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(crate = "blastradius::serde", deny_unknown_fields)]
struct Config {
    primary_site: String,
    backup_site: String,
    /// Sites of the client groups (each of `clients` clients).
    client_sites: Vec<String>,
    clients: u32,
    heartbeat: SimDuration,
    promote_after: SimDuration,
    /// Zero: no lease.
    lease: SimDuration,
    request_timeout: SimDuration,
    /// Mean think time between a client's writes (exponential).
    think: SimDuration,
}

#[derive(Clone, Debug)]
enum Msg {
    Write { value: u64 },
    Ack { value: u64 },
    Refused,
    Replicate { term: u64, value: u64 },
    Heartbeat { term: u64 },
    HeartbeatAck,
}

#[derive(Clone, Debug)]
enum Timer {
    Tick,
    Think,
    Timeout { value: u64 },
}

/// What nodes record; the judge turns it into a history and facts.
#[derive(Clone, Debug)]
enum Obs {
    Role { primary: bool, term: u64 },
    Accepted { value: u64 },
    Invoke { value: u64 },
    Done { value: u64, ok: Option<bool> },
}

struct Server {
    peer: NodeId,
    primary: bool,
    term: u64,
    writes: Vec<u64>,
    last_heard: SimTime,
    last_ack: SimTime,
    config: Config,
}

struct Client {
    servers: [NodeId; 2],
    target: usize,
    next: u64,
    pending: Option<(u64, TimerId)>,
    config: Config,
}

enum RegisterNode {
    Server(Server),
    Client(Client),
}

impl Server {
    fn may_accept(&self, now: SimTime) -> bool {
        self.primary
            && (self.config.lease == SimDuration::ZERO
                || now.saturating_since(self.last_ack) < self.config.lease)
    }
}

impl Node for RegisterNode {
    type Message = Msg;
    type Timer = Timer;
    type Observation = Obs;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            RegisterNode::Server(s) => {
                s.last_heard = ctx.local_time();
                s.last_ack = ctx.local_time();
                ctx.record(Obs::Role {
                    primary: s.primary,
                    term: s.term,
                });
                ctx.set_timer(s.config.heartbeat, Timer::Tick);
            }
            RegisterNode::Client(c) => {
                let think = exponential(ctx.rng(), c.config.think);
                ctx.set_timer(think, Timer::Think);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            RegisterNode::Server(s) => match msg {
                Msg::Write { value } => {
                    if s.may_accept(ctx.local_time()) {
                        s.writes.push(value);
                        ctx.record(Obs::Accepted { value });
                        ctx.send(
                            s.peer,
                            Msg::Replicate {
                                term: s.term,
                                value,
                            },
                        );
                        ctx.send(from, Msg::Ack { value });
                    } else {
                        ctx.send(from, Msg::Refused);
                    }
                }
                Msg::Replicate { term, .. } | Msg::Heartbeat { term } if term >= s.term => {
                    if let Msg::Replicate { value, .. } = msg {
                        s.writes.push(value);
                    }
                    s.last_heard = ctx.local_time();
                    if s.primary && term > s.term {
                        s.primary = false;
                        ctx.record(Obs::Role {
                            primary: false,
                            term,
                        });
                    }
                    s.term = term;
                    ctx.send(from, Msg::HeartbeatAck);
                }
                Msg::HeartbeatAck => s.last_ack = ctx.local_time(),
                _ => {}
            },
            RegisterNode::Client(c) => {
                let (value, ok) = match msg {
                    Msg::Ack { value } => (value, true),
                    Msg::Refused => match c.pending {
                        Some((v, _)) => (v, false),
                        None => return,
                    },
                    _ => return,
                };
                let Some((v, timer)) = c.pending else { return };
                if v != value {
                    return;
                }
                ctx.cancel_timer(timer);
                c.pending = None;
                if !ok {
                    c.target = 1 - c.target;
                }
                ctx.record(Obs::Done {
                    value,
                    ok: Some(ok),
                });
                let think = exponential(ctx.rng(), c.config.think);
                ctx.set_timer(think, Timer::Think);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, timer: Timer) {
        match (self, timer) {
            (RegisterNode::Server(s), Timer::Tick) => {
                if s.primary {
                    ctx.send(s.peer, Msg::Heartbeat { term: s.term });
                } else if ctx.local_time().saturating_since(s.last_heard) > s.config.promote_after {
                    s.primary = true;
                    s.term += 1;
                    s.last_ack = ctx.local_time();
                    ctx.record(Obs::Role {
                        primary: true,
                        term: s.term,
                    });
                }
                ctx.set_timer(s.config.heartbeat, Timer::Tick);
            }
            (RegisterNode::Client(c), Timer::Think) => {
                c.next += 1;
                let value = (u64::from(ctx.id().0) << 32) | c.next;
                ctx.record(Obs::Invoke { value });
                ctx.send(c.servers[c.target], Msg::Write { value });
                let t = ctx.set_timer(c.config.request_timeout, Timer::Timeout { value });
                c.pending = Some((value, t));
            }
            (RegisterNode::Client(c), Timer::Timeout { value })
                if c.pending.is_some_and(|(v, _)| v == value) =>
            {
                c.pending = None;
                c.target = 1 - c.target;
                ctx.record(Obs::Done { value, ok: None });
                let think = exponential(ctx.rng(), c.config.think);
                ctx.set_timer(think, Timer::Think);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _disk: Disk) {}
}

/// The system: its table, deployment and judge.
struct LeasedRegister;

/// Where the deployment put things.
struct Layout {
    servers: [NodeId; 2],
    names: Vec<String>,
}

impl System for LeasedRegister {
    type Config = Config;
    type Node = RegisterNode;
    type Layout = Layout;

    fn table(&self) -> &'static str {
        "leased_register"
    }

    fn about(&self) -> &'static str {
        "a primary-backup register with an optional lease (an example of a user's own system)"
    }

    fn validate(&self, c: &Config, topology: &Topology) -> Result<(), BuildError> {
        for (field, site) in [
            ("primary_site".to_string(), &c.primary_site),
            ("backup_site".to_string(), &c.backup_site),
        ]
        .into_iter()
        .chain(
            c.client_sites
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("client_sites[{i}]"), s)),
        ) {
            if topology.site_id(site).is_err() {
                return Err(BuildError::config(field, format!("unknown site {site:?}")));
            }
        }
        if c.clients == 0 || c.clients > 1000 {
            return Err(BuildError::config("clients", "must be between 1 and 1000"));
        }
        if c.heartbeat == SimDuration::ZERO || c.think == SimDuration::ZERO {
            return Err(BuildError::config(
                "heartbeat",
                "intervals must be positive",
            ));
        }
        Ok(())
    }

    fn deploy(&self, c: &Config, d: &mut Deployment<RegisterNode>) -> Result<Layout, BuildError> {
        let primary = d.reserve("primary", &c.primary_site, "")?;
        let backup = d.reserve("backup", &c.backup_site, "")?;
        for (me, peer, is_primary) in [(primary, backup, true), (backup, primary, false)] {
            d.place(
                me,
                RegisterNode::Server(Server {
                    peer,
                    primary: is_primary,
                    term: 1,
                    writes: Vec::new(),
                    last_heard: SimTime::ZERO,
                    last_ack: SimTime::ZERO,
                    config: c.clone(),
                }),
            )?;
        }
        for (site, k) in c
            .client_sites
            .iter()
            .flat_map(|s| (0..c.clients).map(move |k| (s, k)))
        {
            d.add(
                &format!("client-{site}-{k}"),
                site,
                "",
                RegisterNode::Client(Client {
                    servers: [primary, backup],
                    target: 0,
                    next: 0,
                    pending: None,
                    config: c.clone(),
                }),
            )?;
        }
        Ok(Layout {
            servers: [primary, backup],
            names: d.names(),
        })
    }

    fn judge(&self, _c: &Config, run: &Finished<'_, Self>) -> Judgement {
        let names = &run.layout.names;
        let mut history = History::new();
        let mut facts = Facts::new();
        // After an indeterminate (`info`) completion a client is a new
        // process, as in Jepsen's histories.
        let mut incarnation = vec![0u64; names.len()];
        for o in run.sim.observations() {
            let t = o.time.as_nanos();
            let node = names[o.node.index()].clone();
            let process = (u64::from(o.node.0) << 20) | incarnation[o.node.index()];
            match &o.value {
                Obs::Role { primary, term } => facts.push(Fact::Role {
                    time: t,
                    node,
                    shard: "register".into(),
                    role: if *primary {
                        Role::Primary
                    } else {
                        Role::Replica
                    },
                    epoch: *term,
                }),
                Obs::Accepted { value } => facts.push(Fact::Accepted {
                    time: t,
                    node: node.into(),
                    shard: "register".into(),
                    write: WriteRef::new(Some("r"), (*value).into()),
                }),
                Obs::Invoke { value } => {
                    let e = Event::new(process, EventType::Invoke, OpFn::Write, (*value).into())
                        .key("r")
                        .at(t);
                    history
                        .push(&e)
                        .expect("one operation at a time per client");
                }
                Obs::Done { value, ok } => {
                    let kind = match ok {
                        Some(true) => EventType::Ok,
                        Some(false) => EventType::Fail,
                        None => EventType::Info,
                    };
                    let e = Event::new(process, kind, OpFn::Write, (*value).into())
                        .key("r")
                        .at(t);
                    history.push(&e).expect("completes what it invoked");
                    if ok.is_none() {
                        incarnation[o.node.index()] += 1;
                    }
                }
            }
        }
        for &id in &run.layout.servers {
            if let RegisterNode::Server(s) = run.sim.node(id) {
                facts.push(Fact::Final {
                    node: names[id.index()].clone(),
                    shard: "register".into(),
                    writes: s
                        .writes
                        .iter()
                        .map(|&v| WriteRef::new(Some("r"), v.into()))
                        .collect(),
                });
            }
        }
        let checks = Suite::new()
            .with(SplitBrain)
            .with(LostWrites)
            .run(&CheckInput::new(&history, &facts));
        let mut metrics = indexmap::IndexMap::new();
        for f in &checks.findings {
            for (k, v) in &f.metrics {
                metrics.insert(format!("{}_{k}", f.name.replace('-', "_")), *v);
            }
        }
        metrics.insert("operations".into(), history.ops().len() as f64);
        Judgement {
            history,
            facts,
            checks,
            metrics,
            ..Judgement::default()
        }
    }
}

fn registry() -> Registry {
    let mut r = Registry::builtin();
    r.register(LeasedRegister)
        .expect("leased_register is a new name");
    r
}

fn scenario() -> Scenario {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/own_system/leased_register.toml");
    Scenario::load_with(&registry(), &path).unwrap_or_else(|e| panic!("{e}"))
}

/// One design's replay on one seed; its report ends with the command
/// that reproduces it (`--design`, `--seed`, which `main` reads).
fn replay(s: &Scenario, design: &str, seed: u64) -> ReplayReport {
    let o = run(s, Some(design), Seed(seed), &RunOptions::default()).expect("runs");
    ReplayReport::new(s, &o, COMMAND)
}

/// How this example is run, for the replay line.
const COMMAND: &str = "cargo run --example own_system --";

fn replays(s: &Scenario) -> (ReplayReport, ReplayReport) {
    (replay(s, "naive", 7), replay(s, "leased", 7))
}

/// `--design D` and `--seed N`, as the printed replay commands pass them.
fn flags() -> Result<(Option<String>, u64), String> {
    let mut args = std::env::args().skip(1);
    let (mut design, mut seed) = (None, 7);
    while let Some(a) = args.next() {
        let value = args.next().ok_or(format!("{a} needs a value"))?;
        match a.as_str() {
            "--design" => design = Some(value),
            "--seed" => {
                seed = value
                    .parse()
                    .map_err(|_| format!("--seed {value:?}: not a number"))?
            }
            _ => {
                return Err(format!(
                    "unknown flag {a} (use --design D --seed N, or none)"
                ));
            }
        }
    }
    Ok((design, seed))
}

fn comparison(s: &Scenario) -> Comparison {
    let designs = vec!["naive".to_string(), "leased".to_string()];
    compare(s, &designs, &[1, 2, 3, 4, 5], (1, 1), &|| ()).expect("runs")
}

fn main() {
    let s = scenario();
    match flags() {
        Ok((Some(design), seed)) => {
            match run(&s, Some(&design), Seed(seed), &RunOptions::default()) {
                Ok(o) => print!("{}", ReplayReport::new(&s, &o, COMMAND).to_text()),
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(3);
                }
            }
            return;
        }
        Ok((None, _)) => {}
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(3);
        }
    }
    let (naive, leased) = replays(&s);
    print!("{}", naive.to_text());
    println!();
    print!("{}", leased.to_text());
    println!();
    print!("{}", comparison(&s).to_text());
}

#[cfg(test)]
mod tests {
    use super::*;
    use blastradius::check::Verdict;

    fn verdict(r: &ReplayReport, check: &str) -> Verdict {
        r.checks
            .iter()
            .find(|c| c.name == check)
            .expect("check ran")
            .verdict
    }

    #[test]
    fn pins_the_verdicts_of_both_designs() {
        let s = scenario();
        let (naive, leased) = replays(&s);
        assert_eq!(
            verdict(&naive, "split-brain"),
            Verdict::Invalid,
            "{}",
            naive.to_text()
        );
        assert_eq!(verdict(&naive, "lost-writes"), Verdict::Invalid);
        assert_eq!(
            verdict(&leased, "split-brain"),
            Verdict::Valid,
            "{}",
            leased.to_text()
        );
        assert!(naive.metrics["split_brain_split_brain_seconds"] > 2.0);
        assert_eq!(leased.metrics["split_brain_split_brain_seconds"], 0.0);
        // Over seeds, through compare: the lease removes split brain in
        // every run.
        let c = comparison(&s);
        assert_eq!(c.runs.len(), 10);
        for r in &c.runs {
            let dual = r.metrics["split_brain_split_brain_seconds"];
            match r.design.as_str() {
                "naive" => assert!(dual > 2.0, "{r:?}"),
                _ => assert_eq!(dual, 0.0, "{r:?}"),
            }
        }
    }

    #[test]
    fn the_system_table_is_checked_like_a_built_in_one() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/own_system/leased_register.toml"),
        )
        .expect("readable");
        let bad = text.replace(
            "client_sites = [\"east\", \"west\"]",
            "client_sites = [\"east\", \"moon\"]",
        );
        let e = Scenario::parse_with(&registry(), Path::new("r.toml"), &bad).expect_err("rejected");
        assert_eq!(e.field(), "leased_register.client_sites[1]", "{e}");
        let line = bad
            .lines()
            .position(|l| l.contains("\"moon\""))
            .expect("there")
            + 1;
        assert_eq!(e.line(), line, "{e}");
        let bad = text.replace("lease = \"300ms\"", "lease = \"soon\"");
        let e = Scenario::parse_with(&registry(), Path::new("r.toml"), &bad).expect_err("rejected");
        assert_eq!(e.field(), "design.leased.lease", "{e}");
        // Without the registration the table is unknown.
        let e = Scenario::parse(Path::new("r.toml"), &text).expect_err("not built in");
        assert!(e.message().contains("unknown table"), "{e}");
    }
}
