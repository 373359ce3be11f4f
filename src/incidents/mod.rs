//! The built-in catalogue: one scenario file per real incident, found in
//! `incidents/` by `build.rs` (adding an incident is adding its file).
//!
//! The shipped example scenarios (`scenarios/`: a retry storm, a shop over
//! three zones, a store failover, a few `[[node]]` toys) are compiled in
//! the same way as [`EXAMPLES`], so `replay shop` and `list` know them too;
//! they are teaching and design material, not incidents, and carry no
//! published figures.
//!
//! Each entry is an ordinary scenario file (in `incidents/` at the root of
//! the repository, compiled in), so `blastradius show NAME` prints exactly
//! what `blastradius replay NAME` runs, and an edited copy runs with
//! `blastradius run FILE`. Facts in the files are tagged as published,
//! secondary, derived or assumed (see `docs/incidents.md`).

use crate::scenario::{Scenario, ScenarioError};
use std::path::Path;

/// One catalogue entry.
#[derive(Clone, Copy, Debug)]
pub struct Incident {
    /// Name (`github-2018`): the file's stem.
    pub name: &'static str,
    /// The scenario file.
    pub text: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// One line of the catalogue, as `list` prints it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Listing {
    /// The incident's name.
    pub name: &'static str,
    /// `incident` (a real one, from `incidents/`) or `example` (from
    /// `scenarios/`).
    pub kind: &'static str,
    /// Its scenario's description.
    pub summary: String,
    /// Its designs, the as-it-was design first.
    pub designs: Vec<String>,
}

/// The whole catalogue, in order: the incidents, then the examples.
pub fn listing() -> Vec<Listing> {
    let kinds = CATALOGUE
        .iter()
        .map(|i| (i, "incident"))
        .chain(EXAMPLES.iter().map(|i| (i, "example")));
    kinds
        .map(|(i, kind)| Listing {
            name: i.name,
            kind,
            summary: i.summary(),
            designs: i
                .scenario()
                .map(|s| {
                    s.system
                        .design_names()
                        .iter()
                        .map(|d| d.to_string())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// The incident called `name`.
pub fn find(name: &str) -> Option<&'static Incident> {
    CATALOGUE.iter().find(|i| i.name == name)
}

/// The incident or shipped example called `name`.
pub fn find_any(name: &str) -> Option<&'static Incident> {
    find(name).or_else(|| EXAMPLES.iter().find(|i| i.name == name))
}

/// The built-in incident whose name is closest to `name`, when close
/// enough to be a typo (`github2018`, `elastic-2019`).
pub fn nearest(name: &str) -> Option<&'static Incident> {
    CATALOGUE
        .iter()
        .chain(EXAMPLES)
        .map(|i| (strsim::levenshtein(i.name, name), i))
        .filter(|(d, i)| *d <= 3 || i.name.starts_with(name) || stem(i.name) == stem(name))
        .min_by_key(|(d, _)| *d)
        .map(|(_, i)| i)
}

/// A name without its date: `github` of `github-2018`.
fn stem(name: &str) -> &str {
    name.split('-')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(name)
}

impl Incident {
    /// One line: the scenario's `description`.
    pub fn summary(&self) -> String {
        #[derive(serde::Deserialize)]
        struct Header {
            scenario: Described,
        }
        #[derive(serde::Deserialize)]
        struct Described {
            #[serde(default)]
            description: String,
        }
        toml::from_str::<Header>(self.text)
            .map(|h| h.scenario.description)
            .unwrap_or_default()
    }

    /// Its scenario, validated.
    pub fn scenario(&self) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new(&format!("{}.toml", self.name)), self.text)
    }
}
