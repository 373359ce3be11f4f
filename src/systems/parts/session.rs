//! A client's session with a coordination service: heartbeats, connection
//! loss, resumption within the timeout, expiry.
//!
//! Why a part: ZooKeeper clients (Curator in Elastic's proxies, HDFS's
//! failover controller) share these rules, and the outages they were in
//! turned on them. A client pings every third of its session timeout; if
//! it hears nothing from its server for two thirds of it, the connection
//! is lost (a server's GC pause looks exactly like a dead server) and it
//! connects to the next server, offering its session to resume. The
//! ensemble resumes a session it still knows and expires one it has not
//! heard of for a whole timeout, taking its ephemeral nodes and watches
//! with it; the client then starts a new session. Reconnects back off
//! (`base` doubling to `max`, optionally jittered) so that a fleet does
//! not reconnect in step.

use crate::time::{SimDuration, SimTime};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Reconnect back-off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// First delay (0: reconnect at once, every time).
    pub base: SimDuration,
    /// Largest delay.
    pub max: SimDuration,
    /// Draw each delay uniformly in `[0, delay]`.
    #[serde(default)]
    pub jitter: bool,
}

/// Where a client stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Waiting to connect (backing off) to `server`.
    Waiting {
        /// The next server to try.
        server: usize,
    },
    /// Connect sent to `server`; no answer yet.
    Connecting {
        /// Server index.
        server: usize,
        /// When it was sent.
        since: SimTime,
    },
    /// Connected to `server`.
    Connected {
        /// Server index.
        server: usize,
    },
}

/// What the client should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    Nothing,
    /// Send a ping to the server.
    Ping(usize),
    /// The connection is lost: it was on this server.
    Lost(usize),
    /// Send a connect (with the session to resume, if any) to this server.
    Connect(usize),
}

/// How a connect ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Established {
    /// The old session goes on (watches kept by the server).
    Resumed,
    /// A new session (the old one expired, or there was none).
    New,
}

/// One client's session state.
#[derive(Clone, Debug)]
pub struct SessionClient {
    /// The session timeout.
    pub timeout: SimDuration,
    /// Servers of the ensemble.
    pub servers: usize,
    /// Where it stands.
    pub link: Link,
    /// The session id, if it has one.
    pub session: Option<u64>,
    /// Connection generation: bumps on every connect, so answers from an
    /// older connection are ignored.
    pub generation: u32,
    last_heard: SimTime,
    last_ping: SimTime,
    attempts: u32,
    backoff: Backoff,
    retry_at: SimTime,
}

impl SessionClient {
    /// A client that will first connect to `first`.
    pub fn new(timeout: SimDuration, servers: usize, first: usize, backoff: Backoff) -> Self {
        Self {
            timeout,
            servers: servers.max(1),
            link: Link::Waiting {
                server: first % servers.max(1),
            },
            session: None,
            generation: 0,
            last_heard: SimTime::ZERO,
            last_ping: SimTime::ZERO,
            attempts: 0,
            backoff,
            retry_at: SimTime::ZERO,
        }
    }

    /// Between pings.
    pub fn ping_every(&self) -> SimDuration {
        SimDuration::from_nanos(self.timeout.as_nanos() / 3)
    }

    /// Silence after which the connection counts as lost.
    pub fn read_timeout(&self) -> SimDuration {
        SimDuration::from_nanos(self.timeout.as_nanos() * 2 / 3)
    }

    /// How often to call [`SessionClient::tick`].
    pub fn tick_every(&self) -> SimDuration {
        SimDuration::from_nanos((self.timeout.as_nanos() / 10).max(1_000_000))
    }

    /// The server answered (anything on the current connection).
    pub fn heard(&mut self, now: SimTime) {
        self.last_heard = now;
    }

    /// Whether the client is connected.
    pub fn is_connected(&self) -> bool {
        matches!(self.link, Link::Connected { .. })
    }

    /// The server it is connected to.
    pub fn server(&self) -> Option<usize> {
        match self.link {
            Link::Connected { server } => Some(server),
            _ => None,
        }
    }

    /// Called every [`SessionClient::tick_every`]: what to do.
    pub fn tick(&mut self, now: SimTime) -> Action {
        match self.link {
            Link::Connected { server } => {
                if now.saturating_since(self.last_heard) >= self.read_timeout() {
                    self.lose(now, server);
                    Action::Lost(server)
                } else if now.saturating_since(self.last_ping) >= self.ping_every() {
                    self.last_ping = now;
                    Action::Ping(server)
                } else {
                    Action::Nothing
                }
            }
            Link::Connecting { server, since } => {
                // A connect unanswered for a read timeout: try the next.
                if now.saturating_since(since) >= self.read_timeout() {
                    self.lose(now, server);
                }
                Action::Nothing
            }
            Link::Waiting { server } => {
                if now >= self.retry_at {
                    self.generation = self.generation.wrapping_add(1);
                    self.link = Link::Connecting { server, since: now };
                    Action::Connect(server)
                } else {
                    Action::Nothing
                }
            }
        }
    }

    /// The connection to `server` is gone (lost, closed by the server,
    /// refused): wait, then try the next server.
    pub fn lose(&mut self, now: SimTime, server: usize) {
        self.link = Link::Waiting {
            server: (server + 1) % self.servers,
        };
        self.attempts = self.attempts.saturating_add(1);
        self.retry_at = now + self.delay_nominal();
    }

    fn delay_nominal(&self) -> SimDuration {
        if self.backoff.base == SimDuration::ZERO {
            return SimDuration::ZERO;
        }
        let shift = self.attempts.saturating_sub(1).min(30);
        let d = self.backoff.base.as_nanos().saturating_mul(1 << shift);
        SimDuration::from_nanos(d.min(self.backoff.max.as_nanos()))
    }

    /// Draws the jitter of the pending retry, if the back-off has any
    /// (call once after [`SessionClient::lose`], from the node's stream).
    pub fn jitter(&mut self, now: SimTime, rng: &mut impl rand::Rng) {
        if self.backoff.jitter {
            let d = self.retry_at.saturating_since(now).as_nanos();
            if d > 0 {
                self.retry_at = now + SimDuration::from_nanos(rng.random_range(0..=d));
            }
        }
    }

    /// The server accepted the connect: with the session it names.
    pub fn connected(&mut self, now: SimTime, session: u64) -> Established {
        let server = match self.link {
            Link::Connecting { server, .. } => server,
            Link::Connected { server } | Link::Waiting { server } => server,
        };
        self.link = Link::Connected { server };
        self.last_heard = now;
        self.last_ping = now;
        self.attempts = 0;
        let resumed = self.session == Some(session);
        self.session = Some(session);
        if resumed {
            Established::Resumed
        } else {
            Established::New
        }
    }

    /// The ensemble said the session expired: the next connect starts a
    /// new one.
    pub fn expired(&mut self) {
        self.session = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(x)
    }

    fn client(base: u64) -> SessionClient {
        SessionClient::new(
            SimDuration::from_secs(9),
            3,
            0,
            Backoff {
                base: SimDuration::from_secs(base),
                max: SimDuration::from_secs(8),
                jitter: false,
            },
        )
    }

    #[test]
    fn pings_a_third_loses_at_two_thirds_then_tries_the_next_server() {
        let mut c = client(0);
        assert_eq!(c.tick(s(0)), Action::Connect(0));
        assert_eq!(c.connected(s(0), 7), Established::New);
        assert_eq!(c.tick(s(2)), Action::Nothing);
        assert_eq!(c.tick(s(3)), Action::Ping(0));
        c.heard(s(3));
        assert_eq!(c.tick(s(8)), Action::Ping(0));
        // Nothing heard since 3 s: lost at 9 s (6 s of silence).
        assert_eq!(c.tick(s(9)), Action::Lost(0));
        assert_eq!(c.tick(s(9)), Action::Connect(1));
        assert_eq!(c.connected(s(9), 7), Established::Resumed);
        c.expired();
        assert_eq!(c.connected(s(10), 8), Established::New);
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        let mut c = client(1);
        assert_eq!(c.tick(s(0)), Action::Connect(0));
        let mut waits = Vec::new();
        let mut now = s(0);
        for _ in 0..6 {
            let server = match c.link {
                Link::Connecting { server, .. } => server,
                _ => unreachable!(),
            };
            c.lose(now, server);
            waits.push(c.retry_at.saturating_since(now).as_secs_f64());
            now = c.retry_at;
            assert!(matches!(c.tick(now), Action::Connect(_)));
        }
        assert_eq!(waits, [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]);
    }
}
