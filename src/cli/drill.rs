//! `drill`: the trainee takes the on-call seat. A line protocol, one
//! command per line on stdin (a script in tests, a person at a prompt),
//! the screen after each; at the end, the debrief and, with --save, the
//! runbook that `replay NAME --runbook FILE` reproduces.

use super::{EXIT_BAD_INPUT, load_named};
use anyhow::Result;
use blastradius::drill::{Debrief, Drill, LOOK_COST};
use blastradius::rng::Seed;
use std::io::{BufRead, IsTerminal};
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

pub const HELP: &str = "commands (one per line):
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
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if interactive {
        if let Err(e) = super::drill_screen::run(&mut drill, &name) {
            eprintln!("error: the terminal screen: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    } else {
        script(&mut drill, &name);
    }
    finish(&drill, args.save.as_ref())
}

/// The line protocol: one command per line on stdin, each echoed, the
/// screen after each change; `end` or the end of input finishes.
fn script(drill: &mut Drill, name: &str) {
    println!(
        "You are {} of {name}. You have been paged.\n{HELP}\n",
        drill.seat.name
    );
    println!("{}", drill.view().text());
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        println!("> {line}");
        if line == "end" {
            break;
        }
        match command(drill, line) {
            Ok(Reply::Screen) => println!("{}", drill.view().text()),
            Ok(Reply::Text(t)) => println!("{t}"),
            Err(e) => println!("refused: {e}"),
        }
        if drill.over() {
            println!("The run has reached its end.");
            break;
        }
    }
}

/// What a command shows: the screen again, or words of its own.
pub enum Reply {
    /// The world or the clock changed.
    Screen,
    /// An answer (a look, the action list, the runbook).
    Text(String),
}

/// One command; `Err` says why it was refused (nothing changed).
pub fn command(drill: &mut Drill, line: &str) -> Result<Reply, String> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    Ok(match verb {
        "wait" => {
            drill.wait(blastradius::time::parse_duration(rest)?);
            Reply::Screen
        }
        "look" => {
            let seen = drill.view().look(rest.trim())?;
            drill.wait(LOOK_COST);
            Reply::Text(seen.iter().map(|l| format!("  {l}\n")).collect())
        }
        "do" => {
            drill.act(parse_step(rest)?).map_err(|e| e.to_string())?;
            Reply::Screen
        }
        "actions" => Reply::Text(actions(drill)),
        "steps" => Reply::Text(drill.steps().iter().map(|s| format!("  {s}\n")).collect()),
        "help" => Reply::Text(HELP.into()),
        _ => return Err(format!("unknown command {verb:?}\n{HELP}")),
    })
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
        if matches!(k, "at" | "on" | "after" | "only_if" | "after_alert") {
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
    let prefix = match drill.seat.place {
        blastradius::drill::Place::Operators => "operator[].",
        blastradius::drill::Place::RecordActions => "authority.action[].",
        _ => "actor[].step[].",
    };
    let mut out = String::new();
    for t in &tables {
        for k in blastradius::scenario::reference::keys(&t.schema) {
            let Some(key) = k.path.strip_prefix(prefix) else {
                continue;
            };
            let key = if key == "action" { "do" } else { key };
            if matches!(key, "at" | "after" | "after_alert" | "note") || key.starts_with("on") {
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
