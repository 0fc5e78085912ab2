//! The state of a share (a referral), and how a revoke racing an accept ends.
//!
//! ```text
//!   Offered ──accept──▶ Accepted ──revoke──▶ Revoked
//!      │ └──reject──▶ Rejected                  ▲
//!      └───────────────revoke───────────────────┘
//! ```
//!
//! Each node keeps its own copy of the state. What a node may *do* is checked against its
//! copy ([`ShareState::act`]): only the recipient accepts or rejects, and only an offer;
//! the offerer revokes an offered or accepted share, the recipient an accepted one.
//!
//! What a node *observes* (its own events and the peer's, in whatever order they arrive)
//! is merged with [`ShareState::merge`], which is the join of a small lattice:
//! `Offered < Accepted < Revoked` and `Offered < Rejected < Revoked`. A join does not
//! depend on order, so both nodes, once they have seen the same events, hold the same state
//! ([`resolve`]). In particular **a revoke always wins**: an accept that reaches the offerer
//! after it revoked changes nothing there (its revoke is already on the way, in its outbox),
//! and the recipient, which may have accepted meanwhile, ends `Revoked` when the revoke
//! arrives and erases what it received. No arrival order leaves the case shared on one side
//! and revoked on the other.
//!
//! Accept and reject are incomparable: a correct recipient sends only one of them (its `act`
//! refuses the second), so seeing both is a protocol violation ([`ShareError::Conflict`]).
//! [`resolve`] refuses such a set whatever its order; [`ShareState::merge`] refuses it when
//! the state still shows the first decision (after a revoke the share has ended anyway).

use serde::{Deserialize, Serialize};

use crate::envelope::MessageType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareState {
    Offered,
    Accepted,
    Rejected,
    Revoked,
}

/// The two parties of a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The state that offered the case (holds it).
    Offerer,
    /// The state it was offered to.
    Recipient,
}

/// What can happen to a share after the offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareEvent {
    /// The recipient accepts.
    Accept,
    /// The recipient declines.
    Reject,
    /// One side ends the share.
    Revoke(Side),
}

impl ShareEvent {
    /// The side that may send this event.
    pub fn sent_by(self) -> Side {
        match self {
            ShareEvent::Accept | ShareEvent::Reject => Side::Recipient,
            ShareEvent::Revoke(side) => side,
        }
    }

    pub fn message_type(self) -> MessageType {
        match self {
            ShareEvent::Accept => MessageType::ReferralAccept,
            ShareEvent::Reject => MessageType::ReferralReject,
            ShareEvent::Revoke(_) => MessageType::ShareRevoke,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ShareError {
    #[error("the {side:?} cannot {event:?} a share that is {state:?}")]
    NotAllowed { side: Side, event: ShareEvent, state: ShareState },
    #[error("the recipient both accepted and rejected the share")]
    Conflict,
}

impl ShareState {
    /// A local action by `side`: allowed only from the states listed in the module docs.
    pub fn act(self, side: Side, event: ShareEvent) -> Result<ShareState, ShareError> {
        use ShareState::*;
        let allowed = event.sent_by() == side
            && match event {
                ShareEvent::Accept | ShareEvent::Reject => self == Offered,
                ShareEvent::Revoke(Side::Offerer) => matches!(self, Offered | Accepted),
                ShareEvent::Revoke(Side::Recipient) => self == Accepted,
            };
        if !allowed {
            return Err(ShareError::NotAllowed { side, event, state: self });
        }
        self.merge(event)
    }

    /// Merges an observed event (the join; see the module docs). Idempotent: a duplicate
    /// leaves the state as it is.
    pub fn merge(self, event: ShareEvent) -> Result<ShareState, ShareError> {
        use ShareState::*;
        Ok(match (self, event) {
            (_, ShareEvent::Revoke(_)) | (Revoked, _) => Revoked,
            (Offered | Accepted, ShareEvent::Accept) => Accepted,
            (Offered | Rejected, ShareEvent::Reject) => Rejected,
            (Rejected, ShareEvent::Accept) | (Accepted, ShareEvent::Reject) => {
                return Err(ShareError::Conflict);
            }
        })
    }

    /// The recipient may keep the data it received: while it considers the offer, and once
    /// accepted. Leaving these states, it erases them.
    pub fn recipient_may_hold_data(self) -> bool {
        matches!(self, ShareState::Offered | ShareState::Accepted)
    }

    /// Updates and rectifications flow only in an accepted share.
    pub fn carries_updates(self) -> bool {
        self == ShareState::Accepted
    }

    pub fn is_final(self) -> bool {
        matches!(self, ShareState::Rejected | ShareState::Revoked)
    }
}

/// The state after all of `events` (from `Offered`), whatever their order.
pub fn resolve(events: &[ShareEvent]) -> Result<ShareState, ShareError> {
    if events.contains(&ShareEvent::Accept) && events.contains(&ShareEvent::Reject) {
        return Err(ShareError::Conflict);
    }
    events.iter().try_fold(ShareState::Offered, |s, &e| s.merge(e))
}

#[cfg(test)]
mod tests {
    use super::ShareEvent::*;
    use super::ShareState::*;
    use super::*;

    #[test]
    fn local_actions() {
        assert_eq!(Offered.act(Side::Recipient, Accept), Ok(Accepted));
        assert_eq!(Offered.act(Side::Recipient, Reject), Ok(Rejected));
        assert_eq!(Offered.act(Side::Offerer, Revoke(Side::Offerer)), Ok(Revoked));
        assert_eq!(Accepted.act(Side::Offerer, Revoke(Side::Offerer)), Ok(Revoked));
        assert_eq!(Accepted.act(Side::Recipient, Revoke(Side::Recipient)), Ok(Revoked));

        let refused = [
            (Offered, Side::Offerer, Accept),
            (Offered, Side::Offerer, Reject),
            (Offered, Side::Recipient, Revoke(Side::Offerer)),
            (Offered, Side::Recipient, Revoke(Side::Recipient)),
            (Accepted, Side::Recipient, Accept),
            (Accepted, Side::Recipient, Reject),
            (Rejected, Side::Recipient, Accept),
            (Rejected, Side::Offerer, Revoke(Side::Offerer)),
            (Revoked, Side::Recipient, Accept),
            (Revoked, Side::Offerer, Revoke(Side::Offerer)),
        ];
        for (state, side, event) in refused {
            assert_eq!(state.act(side, event), Err(ShareError::NotAllowed { side, event, state }));
        }
    }

    #[test]
    fn merge_is_idempotent_and_revoke_absorbs() {
        for s in [Offered, Accepted, Rejected, Revoked] {
            assert_eq!(s.merge(Revoke(Side::Offerer)), Ok(Revoked));
            assert_eq!(s.merge(Revoke(Side::Recipient)), Ok(Revoked));
        }
        assert_eq!(Accepted.merge(Accept), Ok(Accepted));
        assert_eq!(Rejected.merge(Reject), Ok(Rejected));
        assert_eq!(Revoked.merge(Accept), Ok(Revoked));
        assert_eq!(Accepted.merge(Reject), Err(ShareError::Conflict));
        assert_eq!(Rejected.merge(Accept), Err(ShareError::Conflict));
    }

    fn permutations(events: &[ShareEvent]) -> Vec<Vec<ShareEvent>> {
        if events.len() <= 1 {
            return vec![events.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..events.len() {
            let mut rest = events.to_vec();
            let e = rest.remove(i);
            for mut p in permutations(&rest) {
                p.insert(0, e);
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn resolution_does_not_depend_on_order() {
        let sets: [(&[ShareEvent], Result<ShareState, ShareError>); 6] = [
            (&[Accept, Revoke(Side::Offerer)], Ok(Revoked)),
            (&[Accept, Accept, Revoke(Side::Offerer), Revoke(Side::Recipient)], Ok(Revoked)),
            (&[Reject, Revoke(Side::Offerer)], Ok(Revoked)),
            (&[Accept, Accept], Ok(Accepted)),
            (&[Reject], Ok(Rejected)),
            (&[Accept, Reject, Revoke(Side::Offerer)], Err(ShareError::Conflict)),
        ];
        for (events, expected) in sets {
            for order in permutations(events) {
                assert_eq!(resolve(&order), expected, "{order:?}");
            }
        }
    }

    /// One node's copy, and what it sends.
    struct Node {
        side: Side,
        state: ShareState,
        holds_data: bool,
    }

    impl Node {
        fn new(side: Side) -> Node {
            Node { side, state: Offered, holds_data: true }
        }
        fn act(&mut self, e: ShareEvent) -> ShareEvent {
            self.state = self.state.act(self.side, e).unwrap();
            self.observe_effects();
            e
        }
        fn receive(&mut self, e: ShareEvent) {
            self.state = self.state.merge(e).unwrap();
            self.observe_effects();
        }
        fn observe_effects(&mut self) {
            if self.side == Side::Recipient && !self.state.recipient_may_hold_data() {
                self.holds_data = false;
            }
        }
    }

    #[test]
    fn revoke_racing_accept_converges_in_both_arrival_orders() {
        // Both act before either hears from the other: the messages cross.
        for accept_first_at_offerer in [true, false] {
            let mut offerer = Node::new(Side::Offerer);
            let mut recipient = Node::new(Side::Recipient);
            let accept = recipient.act(Accept);
            let revoke = offerer.act(Revoke(Side::Offerer));
            if accept_first_at_offerer {
                offerer.receive(accept);
                recipient.receive(revoke);
            } else {
                recipient.receive(revoke);
                offerer.receive(accept);
            }
            assert_eq!((offerer.state, recipient.state), (Revoked, Revoked));
            assert!(!recipient.holds_data);
        }
        // The accept reaches the offerer before it revokes: same end.
        let mut offerer = Node::new(Side::Offerer);
        let mut recipient = Node::new(Side::Recipient);
        offerer.receive(recipient.act(Accept));
        assert_eq!(offerer.state, Accepted);
        recipient.receive(offerer.act(Revoke(Side::Offerer)));
        assert_eq!((offerer.state, recipient.state), (Revoked, Revoked));
        assert!(!recipient.holds_data);
        // Duplicated late deliveries change nothing.
        offerer.receive(Accept);
        recipient.receive(Revoke(Side::Offerer));
        assert_eq!((offerer.state, recipient.state), (Revoked, Revoked));
    }

    #[test]
    fn revoke_racing_reject_converges() {
        let mut offerer = Node::new(Side::Offerer);
        let mut recipient = Node::new(Side::Recipient);
        let reject = recipient.act(Reject);
        let revoke = offerer.act(Revoke(Side::Offerer));
        recipient.receive(revoke);
        offerer.receive(reject);
        assert_eq!((offerer.state, recipient.state), (Revoked, Revoked));
    }

    #[test]
    fn events_map_to_message_types() {
        assert_eq!(Accept.message_type(), MessageType::ReferralAccept);
        assert_eq!(Reject.message_type(), MessageType::ReferralReject);
        assert_eq!(Revoke(Side::Recipient).message_type(), MessageType::ShareRevoke);
        assert!(Accepted.carries_updates() && !Offered.carries_updates() && !Revoked.carries_updates());
        assert!(Revoked.is_final() && Rejected.is_final() && !Accepted.is_final());
    }
}
