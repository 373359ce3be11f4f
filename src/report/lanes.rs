//! The lanes of a run, read from its facts, for the pictures and traces
//! that draw them: a node's roles in one shard, or one unit's impairment,
//! as spans of simulated time. Roles come first, in the order their
//! (node, shard) first appears, then units.

use crate::check::{Fact, Facts, Role};
use crate::run::Outcome;
use indexmap::IndexMap;

/// What a lane is in during a span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// A role, with its epoch.
    Role(Role, u64),
    /// The unit is impaired.
    Impaired,
}

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
    /// The shard, for a role lane.
    pub shard: Option<String>,
    /// Its spans, in time order.
    pub spans: Vec<Span>,
}

/// (time, role, epoch) of one node in one shard.
type RoleChange = (u64, Role, u64);

/// The lanes of `facts`, up to `end` (ns).
pub fn lanes(facts: &Facts, end: u64) -> Vec<Lane> {
    let mut roles: IndexMap<(String, String), Vec<RoleChange>> = IndexMap::new();
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
                .push((*time, *role, *epoch)),
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
            .map(|(i, &(t, role, epoch))| Span {
                from: t,
                to: changes.get(i + 1).map_or(end, |c| c.0).max(t),
                state: State::Role(role, epoch),
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
        let mut spans = Vec::new();
        let mut open: Option<u64> = None;
        for (t, on) in changes {
            match (on, open) {
                (true, None) => open = Some(t),
                (false, Some(a)) => {
                    spans.push(Span {
                        from: a,
                        to: t.max(a),
                        state: State::Impaired,
                    });
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(a) = open {
            spans.push(Span {
                from: a,
                to: end.max(a),
                state: State::Impaired,
            });
        }
        out.push(Lane {
            name: unit,
            shard: None,
            spans,
        });
    }
    out
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
