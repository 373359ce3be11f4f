//! The built-in catalogue: one scenario file per real incident, found in
//! `incidents/` by `build.rs` (adding an incident is adding its file).
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

/// The incident called `name`.
pub fn find(name: &str) -> Option<&'static Incident> {
    CATALOGUE.iter().find(|i| i.name == name)
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
