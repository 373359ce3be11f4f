//! Detectors: a sensor, the alarm path it feeds, and the person who acts.
//!
//! Why a part: how long a failure goes unhandled often depends less on the
//! failure than on whether anyone hears of it. A chain here is data: the
//! sensor's delay, an alarm path that may be silently broken (a monitoring
//! update that disabled OVH's liquid alarm; e-mails rejected for lack of
//! DMARC), the response time of whoever it reaches, and how long the
//! failure takes to be noticed some other way when the alarm is silent
//! (rounds, customers calling). A system that does not run the chain as
//! nodes asks it when someone acts; the `hosting` system runs it as nodes
//! (sensor, operations centre, team), and its tests check the nodes
//! against this closed form. Either way the system records a
//! [`crate::check::Fact::Alert`] so the `alerts` checker can say which
//! alarms should have fired and did not.

pub use super::backup::AlertPath;
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};

/// A sensor → alarm → on-call chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectorChain {
    /// From the event to the sensor tripping.
    pub sensor_delay: SimDuration,
    /// The alarm path.
    pub alarm: AlertPath,
    /// From a delivered alarm to a person acting (on site, at the
    /// console).
    pub response: SimDuration,
    /// With the alarm silent: when the failure is noticed anyway, from the
    /// event (absent: never, within the run).
    #[serde(default)]
    pub noticed_otherwise: Option<SimDuration>,
}

impl DetectorChain {
    /// When someone acts, from the event: through the alarm if it
    /// delivers, else by the other way, whichever is first.
    pub fn acted_after(&self) -> Option<SimDuration> {
        let by_alarm = self
            .alarm
            .delivered
            .then(|| self.sensor_delay + self.response);
        match (by_alarm, self.noticed_otherwise) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(delivered: bool, otherwise: Option<u64>) -> DetectorChain {
        DetectorChain {
            sensor_delay: SimDuration::from_secs(5),
            alarm: AlertPath {
                channel: "audible".into(),
                delivered,
            },
            response: SimDuration::from_secs(90),
            noticed_otherwise: otherwise.map(SimDuration::from_secs),
        }
    }

    #[test]
    fn a_silent_alarm_leaves_only_the_other_way() {
        assert_eq!(
            chain(true, Some(660)).acted_after(),
            Some(SimDuration::from_secs(95))
        );
        assert_eq!(
            chain(false, Some(660)).acted_after(),
            Some(SimDuration::from_secs(660))
        );
        assert_eq!(chain(false, None).acted_after(), None);
        assert_eq!(
            chain(true, Some(30)).acted_after(),
            Some(SimDuration::from_secs(30))
        );
    }
}
