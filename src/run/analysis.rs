//! `analyze`: a scenario's topology and a design's placements, without a
//! run: single points of failure, the smallest cuts that separate two node
//! sets (with a quorum), and what each piece of equipment and each hazard
//! takes down. The result is plain data the report renders.

use crate::scenario::{Scenario, ScenarioDesignError};
use crate::topology::analysis::{self, CutReport, FailureUnit, Question};
use serde::Serialize;

/// What `analyze` finds: single points of failure, the answers to the
/// scenario's cut questions, and what each piece of equipment takes down.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    /// Scenario name.
    pub scenario: String,
    /// The design analysed (`None`: the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub design: Option<String>,
    /// Units whose loss alone disconnects two sites that hold nodes.
    pub single_points_of_failure: Vec<FailureUnit>,
    /// One entry per `[[analysis]]` question.
    pub questions: Vec<QuestionAnswer>,
    /// What each piece of equipment and each hazard takes down (the nodes
    /// of the design analysed), largest first.
    pub equipment: Vec<analysis::EquipmentImpact>,
}

/// The answer to one separation question.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuestionAnswer {
    /// Title.
    pub name: String,
    /// The smallest cuts.
    pub cuts: CutReport,
}

impl Analysis {
    /// Analyses a scenario's topology (cuts of at most `max_size` units),
    /// as its default design deploys it.
    pub fn new(scenario: &Scenario, max_size: usize) -> Analysis {
        Self::of(scenario, None, max_size)
    }

    /// Analyses the scenario as design `design` deploys it (its topology
    /// edits, its nodes and what they need).
    pub fn for_design(
        scenario: &Scenario,
        design: &str,
        max_size: usize,
    ) -> Result<Analysis, ScenarioDesignError> {
        scenario.topology_for(Some(design))?;
        Ok(Self::of(scenario, Some(design), max_size))
    }

    fn of(scenario: &Scenario, design: Option<&str>, max_size: usize) -> Analysis {
        // A built-in system's design may do without some links.
        let t = scenario.topology_for(design).unwrap_or(&scenario.topology);
        let site_of = |name: &str| match scenario.nodes.iter().find(|n| n.name == name) {
            Some(spec) => t.site_id(&spec.site).expect("validated site"),
            None => t.site_id(name).expect("validated node or site name"),
        };
        let mut sites: Vec<_> = scenario
            .nodes
            .iter()
            .map(|n| t.site_id(&n.site).expect("validated site"))
            .chain(
                scenario
                    .analyses
                    .iter()
                    .flat_map(|a| a.from.iter().chain(&a.to))
                    .map(|n| site_of(n)),
            )
            .collect();
        sites.sort();
        sites.dedup();
        let questions = scenario
            .analyses
            .iter()
            .map(|a| {
                let q = Question {
                    from: a.from.iter().map(|n| site_of(n)).collect(),
                    to: a.to.iter().map(|n| site_of(n)).collect(),
                    quorum: a.quorum,
                };
                QuestionAnswer {
                    name: a.name.clone(),
                    cuts: analysis::smallest_cuts(t, &q, max_size),
                }
            })
            .collect();
        let equipment = match scenario.placements(design) {
            Ok(p) if !p.topology.equipment().is_empty() => {
                analysis::equipment_impact(&p.topology, &p.nodes)
            }
            _ => Vec::new(),
        };
        Analysis {
            scenario: scenario.name.clone(),
            design: design.map(str::to_string),
            single_points_of_failure: analysis::single_points_of_failure(t, &sites),
            questions,
            equipment,
        }
    }
}
