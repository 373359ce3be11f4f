//! A Wheel-of-Misfortune drill: a trainee takes the on-call seat of an
//! incident and is scored against what really happened.
//!
//! Why it works by re-running: the simulation is deterministic, so the
//! world a trainee has shaped so far is the scenario with the seat's
//! runbook replaced by the trainee's steps, run on the drill's seed. Each
//! view runs that scenario and shows only what the on-call could see up
//! to the drill's clock: the page, the alerts that reached a person, the
//! seat's own steps and their outcomes, and the dashboards (the system's
//! series). Nothing is snapshotted, so a finished drill is its runbook, and
//! `replay NAME --runbook FILE` gives the same run, byte for byte.
//!
//! The seat is the first `[[SYSTEM.actor]]` whose runbook reacts (a step
//! with `on`): the people who respond; or a `[SYSTEM.team]` that a
//! detection chain calls (its steps count from when it acts, and with no
//! steps the chain still calls it, so the world up to the page is the
//! incident's own). Its steps before the first reaction
//! (a cut-over scheduled before the incident) stay. The first reaction's
//! trigger stays too, as the page: the trainee's first action is that
//! reaction, after the delay the trainee took; before it, the same trigger
//! holds a step that never comes due, so the monitoring (and so the world)
//! up to the page is the incident's own.

mod debrief;
mod view;

pub use debrief::{Debrief, Score};
pub use view::{View, latest};

use crate::rng::Seed;
use crate::run::{Outcome, RunError, RunOptions, run};
use crate::scenario::{Scenario, ScenarioError};
use crate::time::{SimDuration, SimTime};

/// What the trainee's monitoring shows before they act: the delay of the
/// step that holds the page, long past any run's end.
const NEVER: &str = "36500d";

/// What a `look` costs the trainee in simulated time.
pub const LOOK_COST: SimDuration = SimDuration::from_secs(120);

/// Why a drill cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// The scenario has no on-call seat.
    #[error("{0}")]
    NoSeat(String),
    /// A step the trainee typed does not make a valid scenario.
    #[error("{0}")]
    Step(#[from] ScenarioError),
    /// A run failed.
    #[error("{0}")]
    Run(#[from] RunError),
    /// A runbook file is not one.
    #[error("{0}")]
    Runbook(String),
}

/// Where a seat's runbook is in the scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Place {
    /// `[[SYSTEM.actor]]` number `k`: steps that react (`on`) and follow.
    Actor(usize),
    /// `[SYSTEM.team]`: a team called by a detection chain, acting
    /// `response` later, its steps' `at` counted from then.
    Team {
        /// From the call to acting.
        response: SimDuration,
    },
    /// `[[SYSTEM.operator]]`: actions taken `after_alert` (the CDN's);
    /// those at a fixed `at` (scheduled work) are kept.
    Operators,
    /// `[[SYSTEM.authority.action]]`: the DNS operators' record changes,
    /// the first reaction (`on`) being the page; steps as an actor's.
    RecordActions,
}

/// The on-call seat of a scenario: whose runbook the trainee writes.
#[derive(Clone, Debug, PartialEq)]
pub struct Seat {
    /// The system's table (`durable_db`).
    pub system: String,
    /// Where its runbook is.
    pub place: Place,
    /// The actor's name (`team-member-1`), `team` or `operators`.
    pub name: String,
    /// Who notices what pages it (the `Noticed` facts' `by`): the seat
    /// itself, or the `monitoring` that alerts the operators.
    pub watches: String,
    /// Its steps before the first reaction (kept as they are).
    pub before: Vec<toml::Value>,
    /// The first reaction step (its `on` is the page).
    pub reaction: toml::Table,
    /// What the people really did from the page on.
    pub historical: Vec<toml::Value>,
}

impl Seat {
    /// The seat of `scenario`.
    pub fn find(scenario: &Scenario) -> Result<Seat, DrillError> {
        let system = scenario.system.table.clone();
        let doc: toml::Table = toml::from_str(scenario.source_text())
            .map_err(|e| DrillError::NoSeat(format!("cannot re-read the scenario: {e}")))?;
        let actors = doc
            .get(&system)
            .and_then(|s| s.get("actor"))
            .and_then(|a| a.as_array())
            .cloned()
            .unwrap_or_default();
        for (index, actor) in actors.iter().enumerate() {
            let steps = actor
                .get("step")
                .and_then(|s| s.as_array())
                .cloned()
                .unwrap_or_default();
            let Some(k) = steps.iter().position(|s| s.get("on").is_some()) else {
                continue;
            };
            let name = actor
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("operators")
                .to_string();
            return Ok(Seat {
                watches: name.clone(),
                name,
                system,
                place: Place::Actor(index),
                before: steps[..k].to_vec(),
                reaction: steps[k].as_table().cloned().unwrap_or_default(),
                historical: steps[k..].to_vec(),
            });
        }
        if let Some(team) = doc
            .get(&system)
            .and_then(|s| s.get("team"))
            .and_then(|t| t.as_table())
        {
            let response = team
                .get("response")
                .and_then(|r| r.as_str())
                .map(crate::time::parse_duration)
                .transpose()
                .map_err(|e| DrillError::NoSeat(format!("{system}.team.response: {e}")))?
                .unwrap_or_default();
            return Ok(Seat {
                name: "team".into(),
                watches: "team".into(),
                system,
                place: Place::Team { response },
                before: Vec::new(),
                reaction: toml::Table::new(),
                historical: team
                    .get("step")
                    .and_then(|s| s.as_array())
                    .cloned()
                    .unwrap_or_default(),
            });
        }
        if let Some(seat) = Self::operators(&doc, &system) {
            return Ok(seat);
        }
        if let Some(seat) = Self::record_actions(&doc, &system) {
            return Ok(seat);
        }
        Err(DrillError::NoSeat(format!(
            "{} has no on-call seat: a drill needs a `[[{system}.actor]]` whose runbook reacts to what its monitoring shows (a step with `on`), or a `[{system}.team]` that a detection chain calls, and none of its {} actor(s) does",
            scenario.name,
            actors.len()
        )))
    }

    /// A `[[SYSTEM.operator]]` list with actions taken after the alert:
    /// the operators the monitoring pages.
    fn operators(doc: &toml::Table, system: &str) -> Option<Seat> {
        let actions = doc.get(system)?.get("operator")?.as_array()?.clone();
        let reacts = |a: &toml::Value| a.get("after_alert").is_some();
        let first = actions.iter().position(reacts)?;
        let (historical, before): (Vec<toml::Value>, Vec<toml::Value>) =
            actions.into_iter().partition(reacts);
        Some(Seat {
            system: system.to_string(),
            place: Place::Operators,
            name: "operators".into(),
            watches: "monitoring".into(),
            before,
            reaction: historical
                .get(first.min(historical.len().saturating_sub(1)))
                .and_then(|a| a.as_table())
                .cloned()
                .unwrap_or_default(),
            historical,
        })
    }

    /// A `[[SYSTEM.authority.action]]` list with a reaction: the DNS
    /// operators whose monitoring probes the datacenters.
    fn record_actions(doc: &toml::Table, system: &str) -> Option<Seat> {
        let actions = doc
            .get(system)?
            .get("authority")?
            .get("action")?
            .as_array()?
            .clone();
        let k = actions.iter().position(|a| a.get("on").is_some())?;
        Some(Seat {
            system: system.to_string(),
            place: Place::RecordActions,
            name: "operators".into(),
            watches: "operators".into(),
            before: actions[..k].to_vec(),
            reaction: actions[k].as_table().cloned().unwrap_or_default(),
            historical: actions[k..].to_vec(),
        })
    }

    /// The path of its steps in the scenario (`durable_db.actor[1].step`).
    pub fn path(&self) -> String {
        match self.place {
            Place::Actor(k) => format!("{}.actor[{k}].step", self.system),
            Place::Team { .. } => format!("{}.team.step", self.system),
            Place::Operators => format!("{}.operator", self.system),
            Place::RecordActions => format!("{}.authority.action", self.system),
        }
    }
}

/// One step the trainee took, at `at` (simulated time from the start).
#[derive(Clone, Debug, PartialEq)]
pub struct Taken {
    /// When.
    pub at: SimTime,
    /// The step, as a runbook writes it, without its timing.
    pub step: toml::Table,
}

/// A drill in progress.
#[derive(Debug)]
pub struct Drill {
    /// The incident, as it was.
    pub scenario: Scenario,
    /// The design drilled.
    pub design: String,
    /// The seed.
    pub seed: Seed,
    /// Whose runbook the trainee writes.
    pub seat: Seat,
    /// When the on-call was paged.
    pub page: SimTime,
    /// What the page said.
    pub page_text: String,
    /// The trainee's steps so far.
    pub taken: Vec<Taken>,
    /// The drill's clock.
    pub now: SimTime,
    /// The world as the trainee has shaped it, run to its end.
    world: Outcome,
}

impl Drill {
    /// Seats the trainee: runs the incident without a response and stops
    /// the clock at the page. `Ok(None)`: nobody is paged in this design.
    pub fn start(
        scenario: &Scenario,
        design: Option<&str>,
        seed: Seed,
    ) -> Result<Option<Drill>, DrillError> {
        let seat = Seat::find(scenario)?;
        let design = scenario
            .design(design)
            .map_err(RunError::from)?
            .name
            .clone();
        let held = steps_for(&seat, SimTime::ZERO, &[]);
        let world = run_with(scenario, &seat, held, &design, seed)?;
        let mut drill = Drill {
            scenario: scenario.clone(),
            design,
            seed,
            seat,
            page: SimTime::ZERO,
            page_text: String::new(),
            taken: Vec::new(),
            now: SimTime::ZERO,
            world,
        };
        // The page: the first time the seat's monitoring showed what its
        // first reaction waits for.
        let seat = &drill.seat.watches;
        let Some((time, what)) = drill.world.facts.facts.iter().find_map(|f| match f {
            crate::check::Fact::Noticed { time, by, what } if by == seat => Some((*time, what)),
            _ => None,
        }) else {
            return Ok(None);
        };
        let shows = what.strip_prefix(&format!("{seat}: ")).unwrap_or(what);
        drill.page_text = shows.split("; step").next().unwrap_or(shows).to_string();
        drill.page = SimTime::from_nanos(time);
        drill.now = drill.page;
        Ok(Some(drill))
    }

    /// The seat's steps as the trainee has written them: the steps before
    /// the first reaction, then the trainee's (the first one the reaction,
    /// after the delay the trainee took), or the page alone.
    pub fn steps(&self) -> Vec<toml::Value> {
        steps_for(&self.seat, self.page, &self.taken)
    }

    fn run_world(&self) -> Result<Outcome, DrillError> {
        run_with(
            &self.scenario,
            &self.seat,
            self.steps(),
            &self.design,
            self.seed,
        )
    }

    /// The trainee takes `step` now; refused (and not taken) if the
    /// scenario with it is not valid.
    pub fn act(&mut self, step: toml::Table) -> Result<(), DrillError> {
        self.taken.push(Taken { at: self.now, step });
        match self.run_world() {
            Ok(world) => {
                self.world = world;
                Ok(())
            }
            Err(e) => {
                self.taken.pop();
                Err(e)
            }
        }
    }

    /// The clock moves on by `d`, to the end of the run at most.
    pub fn wait(&mut self, d: SimDuration) {
        let end = SimTime::ZERO + self.scenario.duration;
        self.now = (self.now + d).min(end);
    }

    /// True once the clock reached the end of the run.
    pub fn over(&self) -> bool {
        self.now >= SimTime::ZERO + self.scenario.duration
    }

    /// What the on-call sees now.
    pub fn view(&self) -> View<'_> {
        View::new(self)
    }

    /// The world as the trainee shaped it, run to its end.
    pub fn world(&self) -> &Outcome {
        &self.world
    }

    /// The drill as a runbook file: `replay NAME --runbook FILE` runs it.
    pub fn runbook(&self) -> String {
        let mut doc = toml::Table::new();
        doc.insert("incident".into(), self.scenario.name.clone().into());
        doc.insert("design".into(), self.design.clone().into());
        doc.insert("seed".into(), (self.seed.0 as i64).into());
        doc.insert("actor".into(), self.seat.name.clone().into());
        let steps = self.steps();
        let body = toml::to_string(&doc).unwrap_or_default();
        let lines: Vec<String> = steps
            .iter()
            .map(|s| format!("    {},", inline(s)))
            .collect();
        format!(
            "# A drill's runbook: `blastradius replay {} --runbook FILE` runs it\n# (the design and seed below unless given on the command line).\n{body}step = [\n{}\n]\n",
            self.scenario.name,
            lines.join("\n")
        )
    }
}

/// A runbook file read back.
#[derive(Clone, Debug, PartialEq)]
pub struct RunbookFile {
    /// The incident it was written for.
    pub incident: String,
    /// Its design.
    pub design: Option<String>,
    /// Its seed.
    pub seed: Option<u64>,
    /// The seat's name.
    pub actor: String,
    /// The seat's steps.
    pub steps: Vec<toml::Value>,
}

impl RunbookFile {
    /// Reads `text` (from `file`, for messages).
    pub fn parse(file: &str, text: &str) -> Result<RunbookFile, DrillError> {
        let bad = |m: String| DrillError::Runbook(format!("{file}: {m}"));
        let doc: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let string = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_string);
        Ok(RunbookFile {
            incident: string("incident").ok_or_else(|| bad("no `incident`".into()))?,
            design: string("design"),
            seed: doc
                .get("seed")
                .and_then(|v| v.as_integer())
                .map(|s| s as u64),
            actor: string("actor").ok_or_else(|| bad("no `actor`".into()))?,
            steps: doc
                .get("step")
                .and_then(|v| v.as_array())
                .cloned()
                .ok_or_else(|| bad("no `step` array".into()))?,
        })
    }

    /// `scenario` with the seat's runbook replaced by this one's steps.
    pub fn apply(&self, scenario: &Scenario) -> Result<Scenario, DrillError> {
        let seat = Seat::find(scenario)?;
        if seat.name != self.actor {
            return Err(DrillError::Runbook(format!(
                "the runbook is for actor {:?}; {}'s on-call seat is {:?}",
                self.actor, scenario.name, seat.name
            )));
        }
        Ok(scenario.with_set(&seat.path(), Some(toml::Value::Array(self.steps.clone())))?)
    }
}

/// The seat's steps: those before the first reaction, then `taken` (the
/// first as the reaction, `page` being when its trigger showed), or, with
/// nothing taken, the reaction held back past the end of any run.
fn steps_for(seat: &Seat, page: SimTime, taken: &[Taken]) -> Vec<toml::Value> {
    if seat.place == Place::Operators {
        // Scheduled work stays; each action the trainee takes is one
        // `after_alert` as long after the alert as the trainee took.
        let mut out = seat.before.clone();
        out.extend(taken.iter().map(|s| {
            let mut t = s.step.clone();
            // The drill's `do` is the operator list's `action`.
            if let Some(what) = t.remove("do") {
                t.insert("action".into(), what);
            }
            t.insert(
                "after_alert".into(),
                millis(s.at.saturating_since(page)).into(),
            );
            toml::Value::from(t)
        }));
        return out;
    }
    if let Place::Team { response } = seat.place {
        // The team acts `response` after its call (the page); its steps
        // count from then, one after another.
        let acting = page + response;
        return taken
            .iter()
            .map(|s| {
                let mut t = s.step.clone();
                t.insert("at".into(), millis(s.at.saturating_since(acting)).into());
                t.into()
            })
            .collect();
    }
    let taken: Vec<Taken> = taken
        .iter()
        .map(|s| {
            let mut t = s.clone();
            // The drill's `do` is a record action's `action`.
            if seat.place == Place::RecordActions
                && let Some(what) = t.step.remove("do")
            {
                t.step.insert("action".into(), what);
            }
            t
        })
        .collect();
    let mut out = seat.before.clone();
    let Some((first, rest)) = taken.split_first() else {
        let mut held = seat.reaction.clone();
        held.insert("after".into(), NEVER.into());
        out.push(held.into());
        return out;
    };
    let mut t = first.step.clone();
    if let Some(on) = seat.reaction.get("on") {
        t.insert("on".into(), on.clone());
    }
    t.insert(
        "after".into(),
        millis(first.at.saturating_since(page)).into(),
    );
    out.push(t.into());
    for s in rest {
        let mut t = s.step.clone();
        t.insert(
            "at".into(),
            millis(s.at.saturating_since(SimTime::ZERO)).into(),
        );
        out.push(t.into());
    }
    out
}

/// Runs `scenario` with the seat's runbook replaced by `steps`.
fn run_with(
    scenario: &Scenario,
    seat: &Seat,
    steps: Vec<toml::Value>,
    design: &str,
    seed: Seed,
) -> Result<Outcome, DrillError> {
    let s = scenario.with_set(&seat.path(), Some(toml::Value::Array(steps)))?;
    Ok(run(&s, Some(design), seed, &RunOptions::default())?)
}

/// A duration as a runbook writes it, to the millisecond.
fn millis(d: SimDuration) -> String {
    format!("{}ms", d.as_nanos() / 1_000_000)
}

/// A step as one inline table.
fn inline(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(t) => {
            let parts: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        toml::Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}
