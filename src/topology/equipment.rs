//! Physical failure domains: equipment and the hazards that reach it.
//!
//! Links and sites are not the only things that fail as one piece. A room,
//! a power feed, a cooling loop or a storage array takes down every node
//! that depends on it, and a hazard (a leak on a cooling loop) fails the
//! equipment within its reach, which need not depend on the loop at all
//! (OVH's array stood next to water-cooled racks, and was not
//! water-cooled). Equipment is declared per site with what it depends on
//! (only equipment declared before it, so dependencies cannot loop); a
//! node depends on the equipment its failure-domain path names
//! (`room-3/vnx-1` at its site) and on everything those depend on.

use super::{SiteId, Topology, TopologyError};
use fixedbitset::FixedBitSet;
use serde::{Deserialize, Serialize};

/// What a piece of equipment is.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EquipmentKind {
    /// A room or hall.
    Room,
    /// A power feed.
    PowerFeed,
    /// A cooling loop.
    CoolingLoop,
    /// A storage array.
    StorageArray,
    /// A rack.
    Rack,
    /// Anything else.
    #[default]
    Other,
}

/// A piece of equipment.
#[derive(Clone, Debug, PartialEq)]
pub struct Equipment {
    /// Name (unique in the topology).
    pub name: String,
    /// What it is.
    pub kind: EquipmentKind,
    /// Where it is.
    pub site: SiteId,
    /// Equipment it needs (indices, all declared before it).
    pub depends_on: Vec<usize>,
}

/// A hazard: when it happens on `on`, everything in `reach` fails too.
#[derive(Clone, Debug, PartialEq)]
pub struct Hazard {
    /// Name.
    pub name: String,
    /// Where it starts (an equipment index).
    pub on: usize,
    /// Other equipment it fails (indices).
    pub reach: Vec<usize>,
}

impl Topology {
    /// Adds equipment at `site` depending on equipment already declared.
    pub fn add_equipment(
        &mut self,
        name: &str,
        kind: EquipmentKind,
        site: &str,
        depends_on: &[&str],
    ) -> Result<(), TopologyError> {
        if self.equipment.iter().any(|e| e.name == name) {
            return Err(TopologyError::Duplicate {
                what: "equipment",
                name: name.into(),
            });
        }
        let site = self.site_id(site)?;
        let depends_on = depends_on
            .iter()
            .map(|d| self.equipment_id(d))
            .collect::<Result<Vec<_>, _>>()?;
        self.equipment.push(Equipment {
            name: name.into(),
            kind,
            site,
            depends_on,
        });
        Ok(())
    }

    /// Adds a hazard on equipment `on` reaching `reach`.
    pub fn add_hazard(
        &mut self,
        name: &str,
        on: &str,
        reach: &[&str],
    ) -> Result<(), TopologyError> {
        if self.hazards.iter().any(|h| h.name == name) {
            return Err(TopologyError::Duplicate {
                what: "hazard",
                name: name.into(),
            });
        }
        let on = self.equipment_id(on)?;
        let reach = reach
            .iter()
            .map(|r| self.equipment_id(r))
            .collect::<Result<Vec<_>, _>>()?;
        self.hazards.push(Hazard {
            name: name.into(),
            on,
            reach,
        });
        Ok(())
    }

    /// The equipment called `name`.
    pub fn equipment_id(&self, name: &str) -> Result<usize, TopologyError> {
        self.equipment
            .iter()
            .position(|e| e.name == name)
            .ok_or_else(|| TopologyError::Unknown {
                what: "equipment",
                name: name.into(),
            })
    }

    /// Every piece of equipment, in declaration order.
    pub fn equipment(&self) -> &[Equipment] {
        &self.equipment
    }

    /// Every hazard, in declaration order.
    pub fn hazards(&self) -> &[Hazard] {
        &self.hazards
    }

    /// The hazard called `name`.
    pub fn hazard_id(&self, name: &str) -> Result<usize, TopologyError> {
        self.hazards
            .iter()
            .position(|h| h.name == name)
            .ok_or_else(|| TopologyError::Unknown {
                what: "hazard",
                name: name.into(),
            })
    }

    /// What fails when the equipment in `failed` fails: it and everything
    /// that depends on it, directly or not.
    pub fn failing_with(&self, failed: &FixedBitSet) -> FixedBitSet {
        let mut out = failed.clone();
        out.grow(self.equipment.len());
        // Dependencies point backwards, so one pass in order suffices.
        for (i, e) in self.equipment.iter().enumerate() {
            if e.depends_on.iter().any(|&d| out.contains(d)) {
                out.insert(i);
            }
        }
        out
    }

    /// What fails when equipment `e` fails.
    pub fn failing_with_equipment(&self, e: usize) -> FixedBitSet {
        let mut s = FixedBitSet::with_capacity(self.equipment.len());
        s.insert(e);
        self.failing_with(&s)
    }

    /// What fails when hazard `h` happens.
    pub fn failing_with_hazard(&self, h: usize) -> FixedBitSet {
        let hz = &self.hazards[h];
        let mut s = FixedBitSet::with_capacity(self.equipment.len());
        s.insert(hz.on);
        hz.reach.iter().for_each(|&r| s.insert(r));
        self.failing_with(&s)
    }

    /// The equipment a node at `site` with failure-domain path `domain`
    /// sits in: the path's components that name equipment at its site.
    pub fn equipment_of(&self, site: SiteId, domain: &str) -> FixedBitSet {
        let mut s = FixedBitSet::with_capacity(self.equipment.len());
        for part in domain.split('/').filter(|p| !p.is_empty()) {
            if let Some(i) = self
                .equipment
                .iter()
                .position(|e| e.name == part && e.site == site)
            {
                s.insert(i);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::SiteKind;

    fn p19() -> Topology {
        let mut t = Topology::new();
        t.add_site("p19", SiteKind::Datacenter).unwrap();
        t.add_equipment("room-3", EquipmentKind::Room, "p19", &[])
            .unwrap();
        t.add_equipment("feed-a", EquipmentKind::PowerFeed, "p19", &[])
            .unwrap();
        t.add_equipment("loop-3", EquipmentKind::CoolingLoop, "p19", &["room-3"])
            .unwrap();
        t.add_equipment(
            "vnx-1",
            EquipmentKind::StorageArray,
            "p19",
            &["room-3", "feed-a"],
        )
        .unwrap();
        t.add_equipment("vnx-2", EquipmentKind::StorageArray, "p19", &["feed-a"])
            .unwrap();
        t.add_hazard("leak", "loop-3", &["vnx-1"]).unwrap();
        t
    }

    fn names(t: &Topology, s: &FixedBitSet) -> Vec<String> {
        s.ones().map(|i| t.equipment()[i].name.clone()).collect()
    }

    #[test]
    fn failures_spread_to_what_depends_on_them_and_hazards_to_their_reach() {
        let t = p19();
        let room = t.equipment_id("room-3").unwrap();
        assert_eq!(
            names(&t, &t.failing_with_equipment(room)),
            ["room-3", "loop-3", "vnx-1"]
        );
        let feed = t.equipment_id("feed-a").unwrap();
        assert_eq!(
            names(&t, &t.failing_with_equipment(feed)),
            ["feed-a", "vnx-1", "vnx-2"]
        );
        // The leak fails the array next to it, which does not depend on
        // the loop, and not the other array.
        assert_eq!(names(&t, &t.failing_with_hazard(0)), ["loop-3", "vnx-1"]);
    }

    #[test]
    fn a_node_sits_in_the_equipment_its_path_names_at_its_site() {
        let t = p19();
        let site = t.site_id("p19").unwrap();
        assert_eq!(
            names(&t, &t.equipment_of(site, "room-3/vnx-1")),
            ["room-3", "vnx-1"]
        );
        assert!(t.equipment_of(site, "rack-9").is_clear());
    }

    #[test]
    fn dependencies_must_exist_first_and_names_are_unique() {
        let mut t = p19();
        assert!(
            t.add_equipment("x", EquipmentKind::Rack, "p19", &["later"])
                .is_err()
        );
        assert!(
            t.add_equipment("vnx-1", EquipmentKind::Rack, "p19", &[])
                .is_err()
        );
        assert!(t.add_hazard("leak", "loop-3", &[]).is_err());
        assert!(
            t.add_equipment("y", EquipmentKind::Rack, "nowhere", &[])
                .is_err()
        );
    }
}
