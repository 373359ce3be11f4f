//! A library user's own system, with nothing in Cargo.toml but
//! blastradius (default features off) and one `use` line: a node that
//! counts its own ticks, configured by a `[ticker]` table, run from a
//! scenario file through the registry.

use blastradius::prelude::*;
use std::path::Path;

#[derive(Deserialize)]
#[serde(crate = "blastradius::serde", deny_unknown_fields)]
struct TickerConfig {
    site: String,
    every: SimDuration,
}

struct Tick {
    every: SimDuration,
    ticks: u64,
}

impl Node for Tick {
    type Message = ();
    type Timer = ();
    type Observation = u64;
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.set_timer(self.every, ());
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: ()) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: TimerId, _: ()) {
        self.ticks += 1;
        ctx.set_timer(self.every, ());
    }
    fn on_crash(&mut self, _: Disk) {
        self.ticks = 0;
    }
}

struct Ticker;

impl System for Ticker {
    type Config = TickerConfig;
    type Node = Tick;
    type Layout = NodeId;
    fn table(&self) -> &'static str {
        "ticker"
    }
    fn validate(&self, c: &TickerConfig, t: &Topology) -> Result<(), BuildError> {
        t.site_id(&c.site)
            .map(|_| ())
            .map_err(|e| BuildError::config("site", e.to_string()))
    }
    fn deploy(&self, c: &TickerConfig, d: &mut Deployment<Tick>) -> Result<NodeId, BuildError> {
        let node = Tick {
            every: c.every,
            ticks: 0,
        };
        d.add("ticker", &c.site, "", node)
    }
    fn judge(&self, _: &TickerConfig, run: &Finished<'_, Self>) -> Judgement {
        let mut j = Judgement::default();
        let ticks = run.sim.node(*run.layout).ticks;
        j.metrics.insert("ticks".into(), ticks as f64);
        j
    }
}

const SCENARIO: &str = r#"
[scenario]
name = "ticks"
duration = "10s"

[[site]]
name = "a"

[ticker]
site = "a"
every = "1s"
"#;

fn main() {
    let mut registry = Registry::builtin();
    registry.register(Ticker).expect("a new table name");
    let scenario = Scenario::parse_with(&registry, Path::new("ticks.toml"), SCENARIO)
        .expect("a valid scenario");
    let outcome = run(&scenario, None, Seed(1), &RunOptions::default()).expect("runs");
    println!("ticks={}", outcome.metric("ticks").unwrap_or(0.0));
}
