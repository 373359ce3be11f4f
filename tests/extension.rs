//! A system defined in this file alone, with its own lane states, its own
//! fact and its own check, shows up in the HTML timeline, the Chrome trace
//! and the checks table: no line outside this file names it. This is the
//! "how to add a system" of ARCHITECTURE.md, kept honest.
//!
//! The system: a lock held by `a`, watched by `b`. `a` heartbeats `b`
//! while it holds; `b` takes the lock after `takeover_after` without a
//! heartbeat (recording a `takeover` fact); with a `lease`, `a` lets go
//! when its lease runs out without an acknowledgement. Its check,
//! `one-holder`, fails when both hold at once. Cut the link longer than
//! the takeover: without a lease both hold (invalid); with a lease shorter
//! than the takeover, never (valid).

use blastradius::prelude::*;
use blastradius::report::html;
use blastradius::report::perfetto::chrome_trace;
use std::path::Path;

#[derive(Deserialize)]
#[serde(crate = "blastradius::serde", deny_unknown_fields)]
struct LockConfig {
    site_a: String,
    site_b: String,
    heartbeat: SimDuration,
    takeover_after: SimDuration,
    /// Zero: no lease.
    lease: SimDuration,
}

#[derive(Clone, Debug)]
enum Msg {
    Heartbeat,
    Ack,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Holding {
    Holds,
    Waits,
    LetGo,
}

impl Holding {
    fn name(self) -> &'static str {
        match self {
            Holding::Holds => "holding",
            Holding::Waits => "waiting",
            Holding::LetGo => "let go",
        }
    }
}

struct Locker {
    peer: NodeId,
    state: Holding,
    heartbeat: SimDuration,
    takeover_after: SimDuration,
    lease: SimDuration,
    /// Last heartbeat (b) or acknowledgement (a) heard, local time.
    heard: SimTime,
}

impl Locker {
    fn enter(&mut self, ctx: &mut Ctx<'_, Self>, state: Holding) {
        self.state = state;
        ctx.record(state);
    }
}

impl Node for Locker {
    type Message = Msg;
    type Timer = ();
    type Observation = Holding;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        let state = self.state;
        self.enter(ctx, state);
        self.heard = ctx.local_time();
        ctx.set_timer(self.heartbeat, ());
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, m: Msg) {
        self.heard = ctx.local_time();
        if let Msg::Heartbeat = m {
            ctx.send(from, Msg::Ack);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: TimerId, _: ()) {
        let silent = ctx.local_time().saturating_since(self.heard);
        match self.state {
            Holding::Holds => {
                if self.lease > SimDuration::ZERO && silent > self.lease {
                    self.enter(ctx, Holding::LetGo);
                } else {
                    ctx.send(self.peer, Msg::Heartbeat);
                }
            }
            Holding::Waits if silent > self.takeover_after => self.enter(ctx, Holding::Holds),
            Holding::Waits | Holding::LetGo => {}
        }
        ctx.set_timer(self.heartbeat, ());
    }

    fn on_crash(&mut self, _: Disk) {}
}

/// The lock's own lane states.
const STATES: &[LaneState] = &[
    LaneState {
        name: "holding",
        tone: Tone::Leading,
        meaning: "holds the lock",
    },
    LaneState {
        name: "waiting",
        tone: Tone::Serving,
        meaning: "watches the holder",
    },
    LaneState {
        name: "let go",
        tone: Tone::Fenced,
        meaning: "its lease ran out",
    },
];

/// At most one node holds at any instant.
struct OneHolder;

impl Checker for OneHolder {
    fn name(&self) -> &str {
        "one-holder"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<Finding, CheckError> {
        let mut holders: Vec<&str> = Vec::new();
        let mut both_since = None;
        let mut both_ns = 0u64;
        for f in &input.facts.facts {
            let Fact::State {
                time, node, state, ..
            } = f
            else {
                continue;
            };
            let before = holders.len();
            holders.retain(|n| *n != node);
            if state == "holding" {
                holders.push(node);
            }
            match (before > 1, holders.len() > 1) {
                (false, true) => both_since = Some(*time),
                (true, false) => both_ns += time - both_since.take().unwrap_or(*time),
                _ => {}
            }
        }
        let verdict = if both_ns > 0 || both_since.is_some() {
            Verdict::Invalid
        } else {
            Verdict::Valid
        };
        let summary = format!("two holders for {:.1} s", both_ns as f64 / 1e9);
        Ok(Finding::new("one-holder", verdict, summary))
    }
}

struct Lock;

impl System for Lock {
    type Config = LockConfig;
    type Node = Locker;
    type Layout = ();

    fn table(&self) -> &'static str {
        "lock"
    }

    fn validate(&self, c: &LockConfig, t: &Topology) -> Result<(), BuildError> {
        for (field, site) in [("site_a", &c.site_a), ("site_b", &c.site_b)] {
            t.site_id(site)
                .map_err(|e| BuildError::config(field, e.to_string()))?;
        }
        Ok(())
    }

    fn deploy(&self, c: &LockConfig, d: &mut Deployment<Locker>) -> Result<(), BuildError> {
        let a = d.reserve("a", &c.site_a, "")?;
        let b = d.reserve("b", &c.site_b, "")?;
        let node = |peer, state| Locker {
            peer,
            state,
            heartbeat: c.heartbeat,
            takeover_after: c.takeover_after,
            lease: c.lease,
            heard: SimTime::ZERO,
        };
        d.place(a, node(b, Holding::Holds))?;
        d.place(b, node(a, Holding::Waits))
    }

    fn judge(&self, _: &LockConfig, run: &Finished<'_, Self>) -> Judgement {
        let mut facts = Facts::new();
        for o in run.sim.observations() {
            let node = run.sim.node_name(o.node).to_string();
            if o.value == Holding::Holds && node == "b" {
                facts.push(Fact::Custom {
                    time: o.time.as_nanos(),
                    node: node.clone(),
                    kind: "takeover".into(),
                    data: blastradius::serde_json::json!({ "term": 2 }),
                });
            }
            facts.push(Fact::State {
                time: o.time.as_nanos(),
                node,
                lane: "lock".into(),
                state: o.value.name().into(),
            });
        }
        let checks = Suite::new()
            .with(OneHolder)
            .run(&CheckInput::new(&History::new(), &facts));
        Judgement {
            facts,
            checks,
            ..Judgement::default()
        }
    }

    fn lane_states(&self) -> &'static [LaneState] {
        STATES
    }
}

const SCENARIO: &str = r#"
[scenario]
name = "lock"
duration = "60s"

[[site]]
name = "east"

[[site]]
name = "west"

[[link]]
name = "wan"
a = "east"
b = "west"
latency = { dist = "constant", value = "20ms" }

[lock]
site_a = "east"
site_b = "west"
heartbeat = "500ms"
takeover_after = "3s"
lease = "0s"

[design.no-lease]

[design.leased]
lease = "2s"

[[fault]]
at = "10s"
duration = "20s"
kind = "cut_link"
link = "wan"
"#;

fn scenario(text: &str) -> Scenario {
    let mut registry = Registry::builtin();
    registry.register(Lock).unwrap();
    Scenario::parse_with(&registry, Path::new("lock.toml"), text).unwrap()
}

fn replay(s: &Scenario, design: &str) -> (Outcome, ReplayReport) {
    let outcome = run(s, Some(design), Seed(1), &RunOptions::default()).unwrap();
    let report = ReplayReport::new(s, &outcome, "test");
    (outcome, report)
}

#[test]
fn its_lanes_fact_and_check_reach_the_timeline_the_trace_and_the_checks() {
    let s = scenario(SCENARIO);
    let (outcome, report) = replay(&s, "no-lease");
    assert_eq!(outcome.verdict(), Verdict::Invalid);
    let page = html::replay(&report, &outcome);
    // Its lanes, drawn in its states' tones, with its legend.
    assert!(
        page.contains(r#"data-node="a" data-shard="lock""#),
        "no lane a"
    );
    assert!(
        page.contains(r#"data-node="b" data-shard="lock""#),
        "no lane b"
    );
    assert!(page.contains("b · lock holding"), "b never drawn holding");
    assert!(page.contains("holding: holds the lock"), "no legend");
    // Its own fact, marked on b's lane; its check, in the checks table.
    assert!(page.contains(r#"data-kind="takeover""#), "no takeover mark");
    assert!(page.contains(r#"id="check-one-holder" class="invalid""#));
    let trace: serde_json::Value = serde_json::from_str(&chrome_trace("lock", &outcome)).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let named = |n: &str| events.iter().filter(|e| e["name"] == n).count();
    assert!(named("holding") >= 3, "a, then b while a still holds");
    assert_eq!(named("takeover"), 1);
    let threads: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert!(threads.contains(&"a · lock") && threads.contains(&"b · lock"));
    let text = report.to_text();
    assert!(text.contains("one-holder"), "{text}");
}

#[test]
fn the_check_follows_the_lease_and_the_cut() {
    let s = scenario(SCENARIO);
    // Both hold from the takeover (~13 s) to the end: the cut never heals
    // a's belief, since nothing tells it to let go.
    let (no_lease, _) = replay(&s, "no-lease");
    let summary = &no_lease.checks.findings[0].summary;
    assert_eq!(no_lease.verdict(), Verdict::Invalid, "{summary}");
    // A lease shorter than the takeover: a lets go first.
    let (leased, _) = replay(&s, "leased");
    assert_eq!(
        leased.verdict(),
        Verdict::Valid,
        "{}",
        leased.checks.findings[0].summary
    );
    // A cut shorter than the takeover: nobody takes over, without a lease.
    let short = scenario(&SCENARIO.replace("duration = \"20s\"", "duration = \"2s\""));
    let (short, _) = replay(&short, "no-lease");
    assert_eq!(short.verdict(), Verdict::Valid);
    let takeovers = |o: &Outcome| {
        o.facts
            .facts
            .iter()
            .filter(|f| matches!(f, Fact::Custom { kind, .. } if kind == "takeover"))
            .count()
    };
    assert_eq!(takeovers(&short), 0);
    assert_eq!(takeovers(&no_lease), 1);
}
