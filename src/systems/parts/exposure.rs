//! Network exposure and access control: a host's firewall chain, the
//! container runtime that writes rules ahead of it, authentication and
//! credential scope, and the internet scanner that finds what is open.
//!
//! Why a part: NewsBlur's MongoDB was behind a strict allow list, and
//! still reachable from the whole internet, because Docker publishes a
//! container's port by inserting its own ACCEPT rule ahead of the host
//! firewall's; with no authentication, the first scanner to connect could
//! drop everything. DigitalOcean's database accepted a drop from a test
//! runner because the runner held production credentials.
//!
//! The chain lives with the host, because netfilter evaluates it on the
//! host: the simulated network carries the packets (so a host on a private
//! site, with no route from the internet, is never reached at all), and
//! the receiving host decides, rule by rule in order, whether to accept a
//! connection. A connection is judged by the sender's site and name.

use crate::rng::SimRng;
use crate::systems::parts::workload::exponential;
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};

/// A host's exposure: firewall, container runtime, authentication.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exposure {
    /// The host firewall's allow list (site or host names), if the
    /// firewall is on; everything else is dropped.
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    /// The database port is published by a container runtime that inserts
    /// an ACCEPT rule for it ahead of the firewall (Docker's default).
    #[serde(default)]
    pub published_port: bool,
    /// Clients must authenticate (with a credential for `environment`).
    #[serde(default)]
    pub auth: bool,
    /// The environment the host belongs to (`production`, `test`).
    #[serde(default = "production")]
    pub environment: String,
}

fn production() -> String {
    "production".into()
}

/// Whether a connection gets through, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admission {
    /// The sender is on the allow list (or there is no firewall).
    pub listed: bool,
    /// The chain accepted the connection.
    pub admitted: bool,
    /// The rule that decided.
    pub rule: &'static str,
}

/// A credential a client presents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The environment it is valid for.
    pub environment: String,
}

impl Exposure {
    /// Walks the chain for a connection from host `from` at site `site`:
    /// the runtime's ACCEPT for a published port first, then the allow
    /// list, then the firewall's default DROP.
    pub fn admit(&self, site: &str, from: &str) -> Admission {
        let listed = self
            .allow
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == site || x == from));
        if self.published_port {
            return Admission {
                listed,
                admitted: true,
                rule: "container runtime: ACCEPT published port",
            };
        }
        match &self.allow {
            None => Admission {
                listed,
                admitted: true,
                rule: "no firewall",
            },
            Some(_) if listed => Admission {
                listed,
                admitted: true,
                rule: "firewall: allow list",
            },
            Some(_) => Admission {
                listed,
                admitted: false,
                rule: "firewall: default DROP",
            },
        }
    }

    /// Whether a command with `credential` may run: with authentication on,
    /// only a credential for the host's environment.
    pub fn authorize(&self, credential: Option<&Credential>) -> Result<(), String> {
        if !self.auth {
            return Ok(());
        }
        match credential {
            None => Err("authentication required".into()),
            Some(c) if c.environment == self.environment => Ok(()),
            Some(c) => Err(format!(
                "a {} credential is not valid for {}",
                c.environment, self.environment
            )),
        }
    }
}

/// When a scanner probes: a first sweep, then sweeps at a fixed or an
/// exponential interval (memoryless discovery).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeSchedule {
    /// Time of the first sweep, from the start of the run.
    pub first: SimDuration,
    /// Mean time between sweeps.
    pub every: SimDuration,
    /// Exponential intervals (Poisson sweeps) rather than fixed ones.
    #[serde(default)]
    pub exponential: bool,
}

impl ProbeSchedule {
    /// The gap to the next sweep (one uniform draw if exponential).
    pub fn next_gap(&self, rng: &mut SimRng) -> SimDuration {
        if self.exponential {
            exponential(rng, self.every)
        } else {
            self.every
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(allow: Option<&[&str]>, published: bool) -> Exposure {
        Exposure {
            allow: allow.map(|a| a.iter().map(|s| s.to_string()).collect()),
            published_port: published,
            auth: false,
            environment: "production".into(),
        }
    }

    #[test]
    fn the_published_port_rule_comes_before_the_allow_list() {
        let strict = host(Some(&["internal"]), false);
        assert!(strict.admit("internal", "app").admitted);
        let outside = strict.admit("internet", "scanner");
        assert!(!outside.listed && !outside.admitted);
        let footgun = host(Some(&["internal"]), true);
        let outside = footgun.admit("internet", "scanner");
        assert!(!outside.listed && outside.admitted);
        assert!(host(None, false).admit("internet", "scanner").admitted);
        assert!(
            strict.admit("elsewhere", "internal").admitted,
            "hosts by name too"
        );
    }

    #[test]
    fn credentials_are_scoped_to_an_environment() {
        let mut e = host(None, false);
        assert!(e.authorize(None).is_ok());
        e.auth = true;
        assert!(e.authorize(None).is_err());
        let test = Credential {
            environment: "test".into(),
        };
        let prod = Credential {
            environment: "production".into(),
        };
        assert!(e.authorize(Some(&test)).is_err());
        assert!(e.authorize(Some(&prod)).is_ok());
    }
}
