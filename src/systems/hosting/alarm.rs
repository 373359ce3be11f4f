//! The sensor beside the array and the monitoring it feeds (an alarm that
//! may be silently broken).

use super::*;

/// The sensor beside the array.
#[derive(Debug)]
pub struct Sensor {
    pub(super) cfg: Arc<HostingConfig>,
    pub(super) watched: NodeId,
    pub(super) monitoring: NodeId,
    pub(super) awaiting: bool,
    pub(super) misses: u32,
    pub(super) tripped: bool,
}

impl Sensor {
    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>) {
        let s = &self.cfg.detection.sensor;
        if self.awaiting {
            self.misses += 1;
        }
        if self.misses >= s.misses && !self.tripped {
            self.tripped = true;
            ctx.record(Obs::Tripped);
            ctx.send(self.monitoring, Msg::Trip);
        }
        self.awaiting = true;
        ctx.send(self.watched, Msg::Ping);
        ctx.set_timer(s.every, Timer::Poll);
    }
}

/// The operations centre: the alarm panel and the service-monitoring
/// page.
#[derive(Debug)]
pub struct Monitoring {
    pub(super) cfg: Arc<HostingConfig>,
    pub(super) team: NodeId,
    pub(super) escalating: bool,
}

impl Monitoring {
    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, HostingNode>, msg: Msg) {
        match msg {
            Msg::Trip => {
                let alarm = &self.cfg.detection.alarm;
                ctx.record(Obs::Alert {
                    alarm: alarm.channel.clone(),
                    cause: format!(
                        "sensor beside {} tripped",
                        self.cfg.detection.sensor.watches
                    ),
                    delivered: alarm.delivered,
                });
                if alarm.delivered {
                    ctx.send(
                        self.team,
                        Msg::Call {
                            cause: format!("the {} alarm", alarm.channel),
                        },
                    );
                }
            }
            Msg::Degraded { sites_down } => {
                ctx.record(Obs::Alert {
                    alarm: "service monitoring".into(),
                    cause: format!("{sites_down} sites failing"),
                    delivered: true,
                });
                if !self.escalating {
                    self.escalating = true;
                    ctx.set_timer(self.cfg.detection.escalation, Timer::Escalate);
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, HostingNode>, timer: Timer) {
        if let Timer::Escalate = timer {
            self.escalating = false;
            ctx.send(
                self.team,
                Msg::Call {
                    cause: "service monitoring, escalated".into(),
                },
            );
        }
    }
}
