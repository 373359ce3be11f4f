//! The rules of a Raft-style election, shared by every system that elects
//! a leader (the failover orchestrator's own quorum, the Raft store).
//!
//! What is shared is the decision, not the messages: a node asks these
//! functions whether to adopt a newer term, whether to grant a vote,
//! what a vote reply means, and arms its randomised election timer here;
//! it then sends its own typed vote messages. Rules, as in Raft with
//! leader stickiness (a node that heard from a live leader within the
//! minimum election timeout ignores candidates, so a partitioned node
//! rejoining with a high term cannot depose a working leader):
//! - adopt a request's term only if it is newer and the node is not sticky;
//! - grant at most one vote per term, to a candidate at least as up to date;
//! - a reply with a newer term makes the node step down;
//! - a candidate with a majority of the voters' votes (itself included)
//!   becomes leader.

use crate::net::NodeId;
use crate::sim::{Ctx, Node, TimerId};
use crate::time::{SimDuration, SimTime};
use rand::RngExt;

/// Majority of `n` voters.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// True if the node is leader, or heard from one less than `min_timeout`
/// ago: it then ignores candidates.
pub fn sticky(
    is_leader: bool,
    last_leader_contact: Option<SimTime>,
    now: SimTime,
    min_timeout: SimDuration,
) -> bool {
    is_leader || last_leader_contact.is_some_and(|t| now.saturating_since(t) < min_timeout)
}

/// True if a vote request in `term` should make a node in `my_term` adopt
/// it (and step down to follower) before deciding.
pub fn adopts_term(term: u64, my_term: u64, sticky: bool) -> bool {
    term > my_term && !sticky
}

/// True if the node grants its vote for `term` to `candidate`, after any
/// term adoption.
pub fn grants_vote(
    term: u64,
    my_term: u64,
    voted_for: Option<NodeId>,
    candidate: NodeId,
    candidate_up_to_date: bool,
    sticky: bool,
) -> bool {
    !sticky && term == my_term && voted_for.is_none_or(|v| v == candidate) && candidate_up_to_date
}

/// What a vote reply means to its receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyEffect {
    /// A newer term: step down to follower in it.
    StepDown(u64),
    /// The vote made a majority: become leader.
    Elected,
    /// Nothing changes.
    Nothing,
}

/// Counts a vote reply; `votes` is the candidate's tally so far.
pub fn on_vote_reply(
    term: u64,
    granted: bool,
    my_term: u64,
    is_candidate: bool,
    votes: &mut usize,
    voters: usize,
) -> ReplyEffect {
    if term > my_term {
        return ReplyEffect::StepDown(term);
    }
    if is_candidate && term == my_term && granted {
        *votes += 1;
        if *votes >= majority(voters) {
            return ReplyEffect::Elected;
        }
    }
    ReplyEffect::Nothing
}

/// A member whose election timer fired stands in the next term: the term
/// goes up by one, it votes for itself and its tally is that one vote.
/// Returns the new term, for the vote requests it sends.
pub fn stand(term: &mut u64, voted_for: &mut Option<NodeId>, votes: &mut usize, me: NodeId) -> u64 {
    *term += 1;
    *voted_for = Some(me);
    *votes = 1;
    *term
}

/// Re-arms an election timer at a delay drawn uniformly in `[min, max]`
/// from the node's own stream (one draw), cancelling the pending one.
pub fn arm_timer<N: Node>(
    ctx: &mut Ctx<'_, N>,
    pending: &mut Option<TimerId>,
    min: SimDuration,
    max: SimDuration,
    payload: N::Timer,
) {
    if let Some(t) = pending.take() {
        ctx.cancel_timer(t);
    }
    let d = ctx.rng().random_range(min.as_nanos()..=max.as_nanos());
    *pending = Some(ctx.set_timer(SimDuration::from_nanos(d), payload));
}

/// [`arm_timer`], firing late by up to `late` more (uniform): a real
/// server's timer fires after its deadline by its scheduling and disk
/// jitter, which is what breaks ties between identical timeouts. A second
/// draw is made only when `late` is not zero.
pub fn arm_timer_late<N: Node>(
    ctx: &mut Ctx<'_, N>,
    pending: &mut Option<TimerId>,
    (min, max): (SimDuration, SimDuration),
    late: SimDuration,
    payload: N::Timer,
) {
    if let Some(t) = pending.take() {
        ctx.cancel_timer(t);
    }
    let mut d = ctx.rng().random_range(min.as_nanos()..=max.as_nanos());
    if late > SimDuration::ZERO {
        d += ctx.rng().random_range(0..=late.as_nanos());
    }
    *pending = Some(ctx.set_timer(SimDuration::from_nanos(d), payload));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_vote_per_term_and_only_for_up_to_date_candidates() {
        let (a, b) = (NodeId(1), NodeId(2));
        assert!(grants_vote(3, 3, None, a, true, false));
        assert!(grants_vote(3, 3, Some(a), a, true, false));
        assert!(!grants_vote(3, 3, Some(b), a, true, false));
        assert!(!grants_vote(3, 3, None, a, false, false));
        assert!(!grants_vote(3, 3, None, a, true, true));
        assert!(!grants_vote(2, 3, None, a, true, false));
    }

    #[test]
    fn replies_step_down_or_elect_at_a_majority() {
        let mut votes = 1;
        assert_eq!(
            on_vote_reply(4, false, 3, true, &mut votes, 3),
            ReplyEffect::StepDown(4)
        );
        assert_eq!(
            on_vote_reply(3, true, 3, true, &mut votes, 5),
            ReplyEffect::Nothing
        );
        assert_eq!(
            on_vote_reply(3, true, 3, true, &mut votes, 5),
            ReplyEffect::Elected
        );
        assert_eq!(
            on_vote_reply(3, true, 3, false, &mut votes, 5),
            ReplyEffect::Nothing
        );
    }

    #[test]
    fn stickiness_holds_for_the_minimum_timeout() {
        let min = SimDuration::from_secs(1);
        let heard = Some(SimTime::from_secs(10));
        assert!(sticky(false, heard, SimTime::from_millis(10_500), min));
        assert!(!sticky(false, heard, SimTime::from_secs(11), min));
        assert!(sticky(true, None, SimTime::ZERO, min));
        assert!(adopts_term(5, 4, false) && !adopts_term(5, 4, true) && !adopts_term(4, 4, false));
    }
}
