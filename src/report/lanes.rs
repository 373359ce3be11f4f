//! The lanes of a run, read from its facts, for the pictures and traces
//! that draw them: a node's roles in one shard, a node's states in one of
//! its lanes (states its system declares), or one unit's impairment, as
//! spans of simulated time. Roles and states come first, in the order
//! their (node, lane) first appears, then units. A unit's lane covers the
//! whole run: healthy between its impairments, so a unit that never fails
//! (announced by a `Fact::Impaired` with `on: false`) is drawn, not left out.

use crate::check::{Fact, Facts, LaneState, Role, Tone};
use crate::run::Outcome;
use indexmap::IndexMap;

/// What a lane is in during a span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// A role, with its epoch.
    Role(Role, u64),
    /// A state the system declared.
    Declared(LaneState),
    /// The unit is impaired.
    Impaired,
    /// A unit the system follows, between its impairments (or throughout).
    Healthy,
}

impl State {
    /// How it is drawn.
    pub fn tone(self) -> Tone {
        match self {
            State::Role(r, _) => r.tone(),
            State::Declared(s) => s.tone,
            State::Impaired => Tone::Impaired,
            State::Healthy => Tone::Serving,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            State::Role(r, _) => r.name(),
            State::Declared(s) => s.name,
            State::Impaired => "impaired",
            State::Healthy => "healthy",
        }
    }
}

/// A state a system recorded without declaring it: drawn, flagged by name.
const UNDECLARED: LaneState = LaneState {
    name: "undeclared state",
    tone: Tone::Fenced,
    meaning: "a state the system did not declare (a bug in the system)",
};

/// One span of a lane, in ns; `to >= from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Start.
    pub from: u64,
    /// End (the next change, or the end of the run).
    pub to: u64,
    /// The state.
    pub state: State,
}

/// A node in one shard, or a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// The node or unit.
    pub name: String,
    /// The shard, for a role lane; the lane's name, for declared states.
    pub shard: Option<String>,
    /// Its spans, in time order.
    pub spans: Vec<Span>,
}

/// (time, state) of one node in one lane.
type Change = (u64, State);

/// The lanes of `facts`, up to `end` (ns); `declared` names the states a
/// [`Fact::State`] may take.
pub fn lanes(facts: &Facts, declared: &[LaneState], end: u64) -> Vec<Lane> {
    let mut roles: IndexMap<(String, String), Vec<Change>> = IndexMap::new();
    let mut impaired: IndexMap<String, Vec<(u64, bool)>> = IndexMap::new();
    for f in &facts.facts {
        match f {
            Fact::Role {
                time,
                node,
                shard,
                role,
                epoch,
            } => roles
                .entry((node.clone(), shard.clone()))
                .or_default()
                .push((*time, State::Role(*role, *epoch))),
            Fact::State {
                time,
                node,
                lane,
                state,
            } => {
                let known = declared.iter().find(|d| d.name == state);
                debug_assert!(known.is_some(), "undeclared lane state {state:?}");
                roles
                    .entry((node.clone(), lane.clone()))
                    .or_default()
                    .push((*time, State::Declared(*known.unwrap_or(&UNDECLARED))));
            }
            Fact::Impaired { time, unit, on } => {
                impaired.entry(unit.clone()).or_default().push((*time, *on))
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for ((node, shard), mut changes) in roles {
        changes.sort_by_key(|c| c.0);
        let spans = changes
            .iter()
            .enumerate()
            .map(|(i, &(t, state))| Span {
                from: t,
                to: changes.get(i + 1).map_or(end, |c| c.0).max(t),
                state,
            })
            .collect();
        out.push(Lane {
            name: node,
            shard: Some(shard),
            spans,
        });
    }
    for (unit, mut changes) in impaired {
        changes.sort_by_key(|c| c.0);
        out.push(Lane {
            name: unit,
            shard: None,
            spans: unit_spans(&changes, end),
        });
    }
    out
}

/// A unit's spans from its (time, impaired) changes in time order:
/// impaired while on, healthy otherwise, from 0 to `end`.
fn unit_spans(changes: &[(u64, bool)], end: u64) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut since = 0u64;
    let mut on = false;
    for &(t, now) in changes {
        if now == on {
            continue;
        }
        let state = if on { State::Impaired } else { State::Healthy };
        if t > since {
            spans.push(Span {
                from: since,
                to: t,
                state,
            });
        }
        (since, on) = (t, now);
    }
    let state = if on { State::Impaired } else { State::Healthy };
    spans.push(Span {
        from: since,
        to: end.max(since),
        state,
    });
    spans
}

/// The site a lane belongs to: its node's, or for a unit named as a site
/// (a PoP), that site.
pub fn site_of<'a>(outcome: &'a Outcome, lane: &Lane) -> Option<&'a str> {
    outcome
        .places
        .get(&lane.name)
        .or_else(|| outcome.places.values().find(|s| **s == lane.name))
        .map(String::as_str)
}

/// The system's own facts ([`Fact::Custom`]), by the node that recorded
/// them: (time in ns, kind), in time order, for marks on its lanes. Read
/// once per picture, so drawing each lane does not scan every fact.
pub fn marks(facts: &Facts) -> IndexMap<&str, Vec<(u64, &str)>> {
    let mut out: IndexMap<&str, Vec<(u64, &str)>> = IndexMap::new();
    for f in &facts.facts {
        if let Fact::Custom {
            time, node, kind, ..
        } = f
        {
            out.entry(node.as_str())
                .or_default()
                .push((*time, kind.as_str()));
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|m| m.0);
    }
    out
}
