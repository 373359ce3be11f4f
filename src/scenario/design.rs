//! Designs: a scenario's system table, and named overrides of it, resolved
//! once into typed configurations.
//!
//! A design's table (`[design.NAME]`) is merged over the system table key
//! by key (tables merge, anything else is replaced), on the *spanned*
//! document, so every value keeps the place it was written: an error in a
//! value a design overrides names the override's own line and key, one in
//! an inherited value names the base table's. Two keys are the scenario's
//! and never reach the system: `description` (of a design) and
//! `without_links` (links of the topology the design does without; any
//! system, on the base table or a design).

use super::source::{ScenarioError, Source, field_at, span_of};
use crate::fault::FaultSchedule;
use crate::net::NetConfig;
use crate::run::{Configured, World};
use crate::sim::{Limits, SimError};
use crate::systems::registry::ConfigureError;
use crate::systems::{AnySystem, BuildError};
use crate::time::SimDuration;
use crate::topology::Topology;
use std::ops::Range;
use std::sync::Arc;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A scenario's system with its designs, each resolved.
#[derive(Clone, Debug)]
pub struct SystemSetup {
    /// The system's table name (`replicated_db`).
    pub table: String,
    /// Designs in file order; a file without `[design.*]` has one, `base`.
    pub designs: Vec<DesignSetup>,
    /// Index of the design run when none is asked for.
    pub default_design: usize,
}

/// One design, validated: what a run needs.
#[derive(Clone, Debug)]
pub struct DesignSetup {
    /// Name (`as-2018`).
    pub name: String,
    /// What it changes and why.
    pub description: String,
    /// The system, configured.
    pub config: Arc<dyn Configured>,
    /// The topology it runs on (the scenario's, without the design's links).
    pub topology: Topology,
}

/// A design that is not in the scenario.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown design {name:?} (known: {})", known.join(", "))]
pub struct UnknownDesign {
    /// The name asked for.
    pub name: String,
    /// The designs there are.
    pub known: Vec<String>,
}

impl SystemSetup {
    /// The design called `name`, or the default one.
    pub fn design(&self, name: Option<&str>) -> Result<&DesignSetup, UnknownDesign> {
        match name {
            None => Ok(&self.designs[self.default_design]),
            Some(n) => self
                .designs
                .iter()
                .find(|d| d.name == n)
                .ok_or_else(|| UnknownDesign {
                    name: n.to_string(),
                    known: self.design_names().iter().map(|s| s.to_string()).collect(),
                }),
        }
    }

    /// Names of the designs, in file order.
    pub fn design_names(&self) -> Vec<&str> {
        self.designs.iter().map(|d| d.name.as_str()).collect()
    }
}

/// Deep merge: tables merge key by key, anything else is replaced.
fn merge<'i>(base: &mut Spanned<DeValue<'i>>, over: &Spanned<DeValue<'i>>) {
    match (base.get_mut(), over.get_ref()) {
        (DeValue::Table(b), DeValue::Table(o)) => {
            for (k, v) in o.iter() {
                match b.get_mut(k.get_ref().as_ref()) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *base = over.clone(),
    }
}

/// What the scenario part of the world is, for resolving designs.
pub(super) struct Context<'a, 'i> {
    pub src: &'a Source<'a>,
    pub system: &'a dyn AnySystem,
    pub base: &'a Spanned<DeValue<'i>>,
    pub topology: &'a Topology,
    pub net: &'a NetConfig,
    pub limits: &'a Limits,
    pub faults: &'a FaultSchedule,
    pub duration: SimDuration,
    /// Spans of the `[[fault]]` entries.
    pub fault_spans: &'a [Range<usize>],
}

/// The designs of `designs` (the `[design]` table, if any) resolved over
/// the base table; `default` is `[scenario] design`.
pub(super) fn resolve_all(
    cx: &Context<'_, '_>,
    designs: Option<&Spanned<DeValue<'_>>>,
    default: Option<&Spanned<String>>,
) -> Result<SystemSetup, ScenarioError> {
    let src = cx.src;
    let table = cx.system.table();
    let mut resolved = Vec::new();
    match designs {
        None => {
            if let Some(d) = default {
                return Err(src.error(
                    d.span(),
                    "scenario.design",
                    format!("no [design.{}] table", d.get_ref()),
                ));
            }
            resolved.push(resolve(cx, "base", String::new(), None)?);
        }
        Some(all) => {
            let DeValue::Table(all_t) = all.get_ref() else {
                return Err(src.error(all.span(), "design", "expected tables [design.NAME]"));
            };
            // In file order (the document's tables are sorted by name).
            let mut entries: Vec<_> = all_t.iter().collect();
            entries.sort_by_key(|(_, v)| v.span().start);
            for (name, over) in entries {
                let name = name.get_ref().to_string();
                let DeValue::Table(t) = over.get_ref() else {
                    return Err(src.error(
                        over.span(),
                        format!("design.{name}"),
                        "expected a table of overrides",
                    ));
                };
                let mut t: DeTable<'_> = t.clone();
                let description = match t.remove("description") {
                    Some(v) => match v.get_ref() {
                        DeValue::String(s) => s.to_string(),
                        _ => {
                            return Err(src.error(
                                v.span(),
                                format!("design.{name}.description"),
                                "expected a string",
                            ));
                        }
                    },
                    None => String::new(),
                };
                let over = Spanned::new(over.span(), DeValue::Table(t));
                resolved.push(resolve(cx, &name, description, Some(&over))?);
            }
            if resolved.is_empty() {
                return Err(src.error(all.span(), "design", "no design tables"));
            }
        }
    }
    let default_design = match default {
        None => 0,
        Some(d) => resolved
            .iter()
            .position(|x| &x.name == d.get_ref())
            .ok_or_else(|| {
                src.error(
                    d.span(),
                    "scenario.design",
                    format!("no [design.{}] table", d.get_ref()),
                )
            })?,
    };
    Ok(SystemSetup {
        table: table.to_string(),
        designs: resolved,
        default_design,
    })
}

/// Merges `over` into the base, takes the scenario's keys out, and
/// configures the system; every error is placed in the file.
fn resolve(
    cx: &Context<'_, '_>,
    name: &str,
    description: String,
    over: Option<&Spanned<DeValue<'_>>>,
) -> Result<DesignSetup, ScenarioError> {
    let src = cx.src;
    let table = cx.system.table();
    let mut merged = cx.base.clone();
    if let Some(o) = over {
        merge(&mut merged, o);
    }
    let design_span = over.map_or(cx.base.span(), |o| o.span());
    // Which table a span is in, for field names: a design's values sit
    // under its `[design.NAME]` header, inherited ones under the system's.
    let place = |span: &Range<usize>| {
        if field_at(src.text, span).starts_with("design.") {
            format!("design.{name}")
        } else {
            table.to_string()
        }
    };
    let DeValue::Table(t) = merged.get_mut() else {
        return Err(src.error(cx.base.span(), table, "expected a table"));
    };
    let topology = match t.remove("without_links") {
        None => cx.topology.clone(),
        Some(v) => {
            let field = format!("{}.without_links", place(&v.span()));
            let DeValue::Array(a) = v.get_ref() else {
                return Err(src.error(v.span(), field, "expected an array of link names"));
            };
            let mut names = Vec::new();
            for item in a.iter() {
                match item.get_ref() {
                    DeValue::String(s) => names.push(s.to_string()),
                    _ => return Err(src.error(item.span(), field, "expected a link name")),
                }
            }
            cx.topology
                .without_links(&names)
                .map_err(|e| src.error(v.span(), field, e))?
        }
    };
    let config = cx
        .system
        .configure(merged.clone(), &topology)
        .map_err(|e| match e {
            ConfigureError::Parse(e) => {
                let mut err = src.toml_error(&e, design_span.clone());
                if e.span().is_none() {
                    err.field = place(&design_span);
                }
                err
            }
            ConfigureError::Build(b) => build_error(cx, &merged, &place, &design_span, b),
        })?;
    let world = World {
        topology: &topology,
        net: cx.net,
        limits: cx.limits,
        faults: cx.faults,
        duration: cx.duration,
        trace: false,
        watch: None,
    };
    config
        .check_builds(&world)
        .map_err(|b| build_error(cx, &merged, &place, &design_span, b))?;
    Ok(DesignSetup {
        name: name.to_string(),
        description,
        config,
        topology,
    })
}

fn build_error(
    cx: &Context<'_, '_>,
    merged: &Spanned<DeValue<'_>>,
    place: &dyn Fn(&Range<usize>) -> String,
    design_span: &Range<usize>,
    e: BuildError,
) -> ScenarioError {
    let src = cx.src;
    match e {
        BuildError::Config { field, message } => {
            let span = span_of(merged, &field);
            let span = if span == merged.span() {
                design_span.clone()
            } else {
                span
            };
            src.error(span.clone(), format!("{}.{field}", place(&span)), message)
        }
        BuildError::Sim(SimError::Fault(f)) => src.error(
            cx.fault_spans.get(f.index).cloned().unwrap_or(0..0),
            format!("fault[{}].{}", f.index, f.field),
            f.reason,
        ),
        BuildError::Sim(other) => src.error(design_span.clone(), place(design_span), other),
    }
}
