//! `drill`: the trainee takes the on-call seat. A line protocol, one
//! command per line on stdin (a script in tests, a person at a prompt),
//! the screen after each; at the end, the debrief and, with --save, the
//! runbook that `replay NAME --runbook FILE` reproduces.

use super::{EXIT_BAD_INPUT, load_named};
use anyhow::Result;
use blastradius::drill::{Debrief, Drill, LOOK_COST};
use blastradius::rng::Seed;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Incident name or scenario file; none spins the wheel (a random
    /// incident with an on-call seat, and a random seed, both printed).
    scenario: Option<String>,
    /// The design drilled (default: the incident as it was).
    #[arg(long)]
    design: Option<String>,
    /// The seed (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Write the trainee's runbook here at the end.
    #[arg(long, value_name = "FILE.toml")]
    save: Option<PathBuf>,
}

const HELP: &str = "commands (one per line):
  wait DURATION        let time pass (wait 5m)
  look WHAT            a host or node, or `backups` (costs 2 min)
  do ACTION KEY=VALUE  a runbook step, now (do restore host=db1 from=newest)
  actions              the actions this system's runbook knows
  steps                your runbook so far
  end                  finish: the rest of the run, then the debrief";

pub fn drill(args: Args) -> Result<ExitCode> {
    let (name, seed) = match &args.scenario {
        Some(n) => (n.clone(), args.seed),
        None => spin(args.seed),
    };
    let (scenario, _) = match load_named(&name) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let seed = Seed(
        args.seed
            .or(seed)
            .or(scenario.seed.map(|s| s.0))
            .unwrap_or(1),
    );
    let mut drill = match Drill::start(&scenario, args.design.as_deref(), seed) {
        Ok(Some(d)) => d,
        Ok(None) => {
            println!(
                "{name}: in this design and seed nobody is paged: there is nothing to respond to."
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    println!(
        "You are {} of {name}. You have been paged.\n{HELP}\n",
        drill.seat.name
    );
    println!("{}", drill.view().text());
    let interactive = std::io::stdin().is_terminal();
    let mut lines = std::io::stdin().lock().lines();
    loop {
        if interactive {
            print!("> ");
            let _ = std::io::stdout().flush();
        }
        let Some(Ok(line)) = lines.next() else { break };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !interactive {
            println!("> {line}");
        }
        if line == "end" {
            break;
        }
        if let Err(e) = command(&mut drill, line) {
            println!("refused: {e}");
        }
        if drill.over() {
            println!("The run has reached its end.");
            break;
        }
    }
    finish(&drill, args.save.as_ref())
}

/// One line of the protocol.
fn command(drill: &mut Drill, line: &str) -> Result<(), String> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    match verb {
        "wait" => {
            let d = blastradius::time::parse_duration(rest)?;
            drill.wait(d);
            println!("{}", drill.view().text());
        }
        "look" => {
            let seen = drill.view().look(rest.trim())?;
            drill.wait(LOOK_COST);
            for l in seen {
                println!("  {l}");
            }
        }
        "do" => {
            let step = parse_step(rest)?;
            drill.act(step).map_err(|e| e.to_string())?;
            println!("{}", drill.view().text());
        }
        "actions" => println!("{}", actions(drill)),
        "steps" => {
            for s in drill.steps() {
                println!("  {s}");
            }
        }
        "help" => println!("{HELP}"),
        _ => return Err(format!("unknown command {verb:?}\n{HELP}")),
    }
    Ok(())
}

/// `restore host=db1 from=newest` → `{ do = "restore", host = "db1", from
/// = "newest" }`: numbers and booleans as such, anything else a string.
fn parse_step(text: &str) -> Result<toml::Table, String> {
    let mut words = text.split_whitespace();
    let what = words
        .next()
        .ok_or("`do` needs an action: `do restore host=db1`")?;
    let mut t = toml::Table::new();
    t.insert("do".into(), what.into());
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("{w:?}: write KEY=VALUE"))?;
        let value = if let Ok(i) = v.parse::<i64>() {
            i.into()
        } else if let Ok(f) = v.parse::<f64>() {
            f.into()
        } else if let Ok(b) = v.parse::<bool>() {
            b.into()
        } else {
            v.into()
        };
        if matches!(k, "at" | "on" | "after" | "only_if") {
            return Err(format!("`{k}`: a drill's step happens now; wait first"));
        }
        t.insert(k.into(), value);
    }
    Ok(t)
}

/// The runbook vocabulary of the seat's system, from the key reference.
fn actions(drill: &Drill) -> String {
    let registry = blastradius::systems::Registry::builtin();
    let system = &drill.seat.system;
    let Ok(tables) = blastradius::scenario::reference::tables(&registry, Some(system)) else {
        return format!("no reference for {system}");
    };
    let mut out = String::new();
    for t in &tables {
        for k in blastradius::scenario::reference::keys(&t.schema) {
            let Some(key) = k.path.strip_prefix("actor[].step[].") else {
                continue;
            };
            if matches!(key, "at" | "after" | "note") || key.starts_with("on") {
                continue;
            }
            out.push_str(&format!("  {key:<14} {}: {}\n", k.kind, k.meaning));
        }
    }
    out
}

/// The debrief, and the runbook saved if asked.
fn finish(drill: &Drill, save: Option<&PathBuf>) -> Result<ExitCode> {
    let debrief = match Debrief::new(drill) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    println!("\n{}", debrief.text());
    let o = drill.world();
    println!(
        "Your run: fingerprint {}; replay it with `blastradius replay {} --runbook FILE` after --save FILE.",
        o.fingerprint, drill.scenario.name
    );
    if let Some(path) = save {
        if let Err(e) = std::fs::write(path, drill.runbook()) {
            eprintln!("error: --save {}: {e}", path.display());
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        println!("Runbook saved to {}.", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Spins the wheel: an incident with an on-call seat and a seed, from
/// `seed` or the clock (outside the simulated world; printed, so the drill
/// can be run again).
fn spin(seed: Option<u64>) -> (String, Option<u64>) {
    let spin = seed.unwrap_or_else(super::pick_seed);
    let seated: Vec<&str> = blastradius::incidents::CATALOGUE
        .iter()
        .filter(|i| {
            i.scenario()
                .ok()
                .is_some_and(|s| blastradius::drill::Seat::find(&s).is_ok())
        })
        .map(|i| i.name)
        .collect();
    use rand::RngExt as _;
    let mut wheel = Seed(spin).stream("drill", "wheel");
    let pick = seated[wheel.random_range(0..seated.len())];
    let seed = wheel.random_range(1..100_000u64);
    println!(
        "The wheel stops on {pick}, seed {seed}: `blastradius drill {pick} --seed {seed}` runs this drill again."
    );
    (pick.to_string(), Some(seed))
}
