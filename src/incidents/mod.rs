//! The built-in catalogue: one scenario file per real incident.
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
    /// Name (`github-2018`).
    pub name: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The scenario file.
    pub text: &'static str,
}

/// Every built-in incident.
pub const CATALOGUE: &[Incident] = &[
    Incident {
        name: "github-2018",
        summary: "GitHub 2018-10-21: 43 s partition, cross-coast MySQL failover, split brain (954 writes)",
        text: include_str!("../../incidents/github-2018.toml"),
    },
    Incident {
        name: "fastly-2021",
        summary: "Fastly 2021-06-08: one valid customer config hits a latent bug; 85 % of the edge errs",
        text: include_str!("../../incidents/fastly-2021.toml"),
    },
    Incident {
        name: "clever-cloud-2021",
        summary: "Clever Cloud 2021-06-22: flooded provider fibres; one Paris DC degraded, DNS withdrawal, ISP-dependent reachability",
        text: include_str!("../../incidents/clever-cloud-2021.toml"),
    },
    Incident {
        name: "elastic-2019-01",
        summary: "Elastic Cloud 2019-01-18: a ZooKeeper leader CPU spike; TreeCache refresh storms keep the proxies down after it",
        text: include_str!("../../incidents/elastic-2019-01.toml"),
    },
    Incident {
        name: "elastic-2019-02",
        summary: "Elastic Cloud 2019-02-04: two ZooKeeper members replaced under reconnect load; syncs miss initLimit, observers cannot sync, the proxies leave the load balancer",
        text: include_str!("../../incidents/elastic-2019-02.toml"),
    },
    Incident {
        name: "criteo-hdfs",
        summary: "Criteo HDFS (date unverified): +24 M objects near the NameNode heap limit; the standby fails like the active",
        text: include_str!("../../incidents/criteo-hdfs.toml"),
    },
    Incident {
        name: "gitlab-2017",
        summary: "GitLab.com 2017-01-31: the primary wiped on the wrong host; no backup restores the last 6 h",
        text: include_str!("../../incidents/gitlab-2017.toml"),
    },
    Incident {
        name: "digitalocean-2017",
        summary: "DigitalOcean 2017-04-05: a test runner with production credentials drops the control-plane database; a delayed replica saves it",
        text: include_str!("../../incidents/digitalocean-2017.toml"),
    },
    Incident {
        name: "newsblur-2021",
        summary: "NewsBlur 2021-06-23: Docker publishes MongoDB past the firewall; a scanner drops it; a stopped copy restores it",
        text: include_str!("../../incidents/newsblur-2021.toml"),
    },
    Incident {
        name: "aws-elb-2012",
        summary: "AWS ELB 2012-12-24: control-plane state deleted; workflows misconfigure running load balancers (6.8 %)",
        text: include_str!("../../incidents/aws-elb-2012.toml"),
    },
    Incident {
        name: "ovh-2017",
        summary: "OVH P19 2017-06-29: a coolant leak kills a non-redundant storage array, the alarm is silent; ~50,000 sites down, some > 24 h",
        text: include_str!("../../incidents/ovh-2017.toml"),
    },
];

/// The incident called `name`.
pub fn find(name: &str) -> Option<&'static Incident> {
    CATALOGUE.iter().find(|i| i.name == name)
}

impl Incident {
    /// Its scenario, validated.
    pub fn scenario(&self) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new(&format!("{}.toml", self.name)), self.text)
    }
}
