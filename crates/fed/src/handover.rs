//! Ownership of a case across nodes: the owner epoch and the handover protocol.
//!
//! Every node that knows a case (its owner, the nodes it is shared with) keeps an
//! [`Ownership`]: who owns the case and at which epoch, as far as it knows. Only the owner
//! writes; every update carries the epoch, and a receiver refuses one with a lower epoch
//! ([`OwnershipError::StaleEpoch`]) or from a node that is not the owner at that epoch
//! ([`OwnershipError::NotOwner`]).
//!
//! ## The handover (a two-phase commit by the giving node)
//!
//! 1. **Offer.** The owner A at epoch `e` sends `HandoverOffer(e)` to B. A stays the owner
//!    and may keep writing at `e`. A may withdraw (`HandoverCancel(e)`) until it receives an
//!    accept.
//! 2. **Accept.** B sends `HandoverAccept(e)`. B does **not** own the case yet and does not
//!    write. (B may instead decline with `HandoverReject(e)`.)
//! 3. **Commit.** When A receives the accept while still offering to B at `e`, A records,
//!    in one transaction, "owned by B from epoch `e+1`" and queues `HandoverConfirm(e+1)`.
//!    From this moment A is no longer the owner. If A had withdrawn (or offered to another
//!    node), it answers the accept with `HandoverReject(e)` instead.
//! 4. **Confirm.** A sends the confirm until it knows it arrived (the receipt of the
//!    envelope, or any message from B at `e+1`). When B receives it, it owns the case at `e+1`. The confirm is
//!    also sent to the other nodes the case is shared with: it is how they learn the new
//!    owner (an update from B at `e+1` reaching them earlier is refused as
//!    [`OwnershipError::EpochAhead`], a retryable refusal).
//!
//! **At most one owner at any moment**: B owns only after receiving a confirm, A sends a
//! confirm only after it stopped owning, and A owns again only through a new handover from B
//! (epoch `e+2`). Between commit and confirm nobody writes; the outbox delivers the confirm.
//!
//! Offers at one epoch are one offer as far as the protocol goes: after a withdrawal and a new
//! offer to the same node at the same epoch, an accept of the first still completes the
//! second (the accept and the confirm name the epoch, not the offer). The receiver therefore
//! takes a confirm from the owner of the previous epoch even if it left `Accepting` since.
//!
//! **Failures half-way converge** by retrying the pending step ([`Ownership::pending`]):
//! a lost offer is sent again; a lost accept is sent again (B stays in `Accepting`); a lost
//! confirm is answered again: A, having committed to B at `e+1`, answers a repeated accept
//! for `e` with the same confirm. Every message carries its epoch, so a late duplicate from
//! an earlier round is recognised and ignored ([`OwnershipError::StaleEpoch`]).

use serde::{Deserialize, Serialize};

use crate::envelope::MessageType;
use crate::ids::NodeId;

/// The handover messages, each with its epoch (the envelope's `epoch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HandoverMsg {
    /// The owner at `epoch` offers the case.
    Offer { epoch: u64 },
    /// The withdrawal of an offer at `epoch`.
    Cancel { epoch: u64 },
    /// The offered node accepts the offer made at `epoch`.
    Accept { epoch: u64 },
    /// The offer at `epoch` declined (by the offered node), or an accept refused (by the
    /// owner, who withdrew).
    Reject { epoch: u64 },
    /// The former owner committed: `new_owner` owns the case from `epoch` (offer's + 1).
    Confirm { epoch: u64, new_owner: NodeId },
}

impl HandoverMsg {
    pub fn message_type(&self) -> MessageType {
        match self {
            HandoverMsg::Offer { .. } => MessageType::HandoverOffer,
            HandoverMsg::Cancel { .. } => MessageType::HandoverCancel,
            HandoverMsg::Accept { .. } => MessageType::HandoverAccept,
            HandoverMsg::Reject { .. } => MessageType::HandoverReject,
            HandoverMsg::Confirm { .. } => MessageType::HandoverConfirm,
        }
    }
    pub fn epoch(&self) -> u64 {
        match self {
            HandoverMsg::Offer { epoch }
            | HandoverMsg::Cancel { epoch }
            | HandoverMsg::Accept { epoch }
            | HandoverMsg::Reject { epoch }
            | HandoverMsg::Confirm { epoch, .. } => *epoch,
        }
    }
}

/// Where this node is in a handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// No handover under way.
    Settled,
    /// This node (the owner) offered the case to `to`.
    Offering { to: NodeId },
    /// The owner offered the case to this node, which has not answered.
    Offered,
    /// This node accepted and waits for the confirm; it does not own the case.
    Accepting,
    /// This node gave the case to `to` (committed) and sends the confirm until it is known
    /// to have arrived ([`Ownership::confirm_delivered`], or a message from the new owner).
    Confirming { to: NodeId },
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OwnershipError {
    #[error("epoch {got} is older than the current owner epoch {current}")]
    StaleEpoch { got: u64, current: u64 },
    #[error(
        "epoch {got} is newer than the owner epoch known here ({current}): retry once the handover is confirmed"
    )]
    EpochAhead { got: u64, current: u64 },
    #[error("{from} is not the owner of the case at epoch {epoch} ({owner} is)")]
    NotOwner { from: NodeId, owner: NodeId, epoch: u64 },
    #[error("a handover is already under way")]
    Busy,
    #[error("no handover of this case is under way here")]
    NoHandover,
    #[error("a case cannot be handed over to its own owner")]
    ToSelf,
}

/// One node's view of a case's ownership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    me: NodeId,
    owner: NodeId,
    epoch: u64,
    phase: Phase,
}

impl Ownership {
    /// The view of node `me` of a case owned by `owner` at `epoch` (a new case: the creating
    /// node at epoch 0; a received share: the offerer at the share's epoch).
    pub fn new(me: NodeId, owner: NodeId, epoch: u64) -> Self {
        Ownership { me, owner, epoch, phase: Phase::Settled }
    }
    pub fn owner(&self) -> &NodeId {
        &self.owner
    }
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// This node owns the case now (also while offering it).
    pub fn is_owner(&self) -> bool {
        self.owner == self.me
    }

    /// This node may change the case: gives the epoch its updates carry.
    pub fn may_write(&self) -> Result<u64, OwnershipError> {
        if self.is_owner() {
            Ok(self.epoch)
        } else {
            Err(OwnershipError::NotOwner {
                from: self.me.clone(),
                owner: self.owner.clone(),
                epoch: self.epoch,
            })
        }
    }

    /// Checks an update (or any owner's message) from `from` carrying `epoch`.
    pub fn check_update(&self, from: &NodeId, epoch: u64) -> Result<(), OwnershipError> {
        self.check_epoch(epoch)?;
        if from != &self.owner {
            return Err(OwnershipError::NotOwner { from: from.clone(), owner: self.owner.clone(), epoch });
        }
        Ok(())
    }

    fn check_epoch(&self, epoch: u64) -> Result<(), OwnershipError> {
        if epoch < self.epoch {
            Err(OwnershipError::StaleEpoch { got: epoch, current: self.epoch })
        } else if epoch > self.epoch {
            Err(OwnershipError::EpochAhead { got: epoch, current: self.epoch })
        } else {
            Ok(())
        }
    }

    /// The owner offers the case to `to`.
    pub fn offer(&mut self, to: NodeId) -> Result<HandoverMsg, OwnershipError> {
        self.may_write()?;
        if self.phase != Phase::Settled {
            return Err(OwnershipError::Busy);
        }
        if to == self.me {
            return Err(OwnershipError::ToSelf);
        }
        self.phase = Phase::Offering { to };
        Ok(HandoverMsg::Offer { epoch: self.epoch })
    }

    /// The owner withdraws its offer (before an accept arrived).
    pub fn withdraw(&mut self) -> Result<HandoverMsg, OwnershipError> {
        match self.phase {
            Phase::Offering { .. } => {
                self.phase = Phase::Settled;
                Ok(HandoverMsg::Cancel { epoch: self.epoch })
            }
            _ => Err(OwnershipError::NoHandover),
        }
    }

    /// The offered node accepts.
    pub fn accept(&mut self) -> Result<HandoverMsg, OwnershipError> {
        match self.phase {
            Phase::Offered => {
                self.phase = Phase::Accepting;
                Ok(HandoverMsg::Accept { epoch: self.epoch })
            }
            _ => Err(OwnershipError::NoHandover),
        }
    }

    /// The offered node declines.
    pub fn decline(&mut self) -> Result<HandoverMsg, OwnershipError> {
        match self.phase {
            Phase::Offered => {
                self.phase = Phase::Settled;
                Ok(HandoverMsg::Reject { epoch: self.epoch })
            }
            _ => Err(OwnershipError::NoHandover),
        }
    }

    /// What to send again while a handover waits on the other side.
    pub fn pending(&self) -> Option<HandoverMsg> {
        match &self.phase {
            Phase::Offering { .. } => Some(HandoverMsg::Offer { epoch: self.epoch }),
            Phase::Accepting => Some(HandoverMsg::Accept { epoch: self.epoch }),
            Phase::Confirming { to } => {
                Some(HandoverMsg::Confirm { epoch: self.epoch, new_owner: to.clone() })
            }
            Phase::Settled | Phase::Offered => None,
        }
    }

    /// The confirm reached the new owner (its receipt came back): stop sending it.
    pub fn confirm_delivered(&mut self) {
        if matches!(self.phase, Phase::Confirming { .. }) {
            self.phase = Phase::Settled;
        }
    }

    /// Handles a handover message from `from`; gives the answer to send, if any.
    pub fn receive(
        &mut self,
        from: &NodeId,
        msg: &HandoverMsg,
    ) -> Result<Option<HandoverMsg>, OwnershipError> {
        match msg {
            HandoverMsg::Offer { epoch } => {
                self.check_update(from, *epoch)?;
                match self.phase {
                    // A repeated offer while deciding or accepting: the pending answer stands.
                    Phase::Offered => Ok(None),
                    Phase::Accepting => Ok(self.pending()),
                    // An offer from the new owner also shows it got our confirm.
                    Phase::Settled | Phase::Confirming { .. } => {
                        self.phase = Phase::Offered;
                        Ok(None)
                    }
                    Phase::Offering { .. } => Err(OwnershipError::Busy),
                }
            }
            HandoverMsg::Cancel { epoch } => {
                self.check_update(from, *epoch)?;
                if matches!(self.phase, Phase::Offered | Phase::Accepting) {
                    self.phase = Phase::Settled;
                }
                Ok(None)
            }
            HandoverMsg::Accept { epoch } => self.receive_accept(from, *epoch),
            HandoverMsg::Reject { epoch } => {
                self.check_epoch(*epoch)?;
                match &self.phase {
                    // Declined by the node it was offered to: the owner keeps the case.
                    Phase::Offering { to } if to == from => self.phase = Phase::Settled,
                    // The owner refused our accept (it withdrew).
                    Phase::Accepting | Phase::Offered if from == &self.owner => self.phase = Phase::Settled,
                    _ => {}
                }
                Ok(None)
            }
            HandoverMsg::Confirm { epoch, new_owner } => {
                if *epoch == self.epoch && &self.owner == new_owner {
                    return Ok(None); // a duplicate confirm
                }
                if *epoch <= self.epoch {
                    return Err(OwnershipError::StaleEpoch { got: *epoch, current: self.epoch });
                }
                // Only the owner at the previous epoch commits a transfer to the next one, and
                // it does so only on the new owner's accept at that epoch. So the confirm is
                // taken even if this node has since left `Accepting` (a cancel of an earlier
                // offer at the same epoch crossed it): refusing it would leave no owner.
                self.check_update(from, epoch - 1)?;
                self.owner = new_owner.clone();
                self.epoch = *epoch;
                self.phase = Phase::Settled;
                Ok(None)
            }
        }
    }

    fn receive_accept(&mut self, from: &NodeId, epoch: u64) -> Result<Option<HandoverMsg>, OwnershipError> {
        // The confirm was lost: we already committed this very transfer. Say it again.
        if &self.owner == from && self.epoch == epoch + 1 {
            return Ok(Some(HandoverMsg::Confirm { epoch: self.epoch, new_owner: from.clone() }));
        }
        if epoch < self.epoch {
            return Err(OwnershipError::StaleEpoch { got: epoch, current: self.epoch });
        }
        match &self.phase {
            Phase::Offering { to } if to == from && epoch == self.epoch && self.is_owner() => {
                // Commit: from here on this node is no longer the owner.
                self.owner = from.clone();
                self.epoch += 1;
                self.phase = Phase::Confirming { to: from.clone() };
                Ok(Some(HandoverMsg::Confirm { epoch: self.epoch, new_owner: from.clone() }))
            }
            // Withdrawn, or offered to another node: refuse the accept.
            _ if self.is_owner() && epoch == self.epoch => Ok(Some(HandoverMsg::Reject { epoch })),
            _ => Err(OwnershipError::NotOwner { from: self.me.clone(), owner: self.owner.clone(), epoch }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::node;

    fn pair() -> (Ownership, Ownership) {
        (Ownership::new(node("mx"), node("mx"), 0), Ownership::new(node("gt"), node("mx"), 0))
    }

    fn owners(nodes: &[&Ownership]) -> usize {
        nodes.iter().filter(|n| n.is_owner()).count()
    }

    #[test]
    fn happy_path() {
        let (mut a, mut b) = pair();
        let offer = a.offer(node("gt")).unwrap();
        assert_eq!(offer, HandoverMsg::Offer { epoch: 0 });
        assert_eq!(a.may_write(), Ok(0), "the offering node still owns the case");
        assert_eq!(b.receive(&node("mx"), &offer), Ok(None));
        let accept = b.accept().unwrap();
        assert!(!b.is_owner(), "accepting does not make an owner");
        let confirm = a.receive(&node("gt"), &accept).unwrap().unwrap();
        assert_eq!(confirm, HandoverMsg::Confirm { epoch: 1, new_owner: node("gt") });
        assert_eq!(owners(&[&a, &b]), 0, "between commit and confirm nobody writes");
        assert!(a.may_write().is_err());
        assert_eq!(b.receive(&node("mx"), &confirm), Ok(None));
        assert_eq!(b.may_write(), Ok(1));
        assert_eq!((a.owner(), a.epoch()), (&node("gt"), 1));
        assert_eq!(owners(&[&a, &b]), 1);
    }

    #[test]
    fn update_epoch_rules() {
        let (mut a, mut b) = pair();
        let mut c = Ownership::new(node("hn"), node("mx"), 0);
        assert_eq!(c.check_update(&node("mx"), 0), Ok(()));
        assert_eq!(
            c.check_update(&node("gt"), 0),
            Err(OwnershipError::NotOwner { from: node("gt"), owner: node("mx"), epoch: 0 })
        );
        b.receive(&node("mx"), &a.offer(node("gt")).unwrap()).unwrap();
        // An offer does not move ownership.
        assert_eq!(b.check_update(&node("mx"), 0), Ok(()));
        let confirm = a.receive(&node("gt"), &b.accept().unwrap()).unwrap().unwrap();
        b.receive(&node("mx"), &confirm).unwrap();
        // C hears from the new owner before the confirm: retry later.
        assert_eq!(c.check_update(&node("gt"), 1), Err(OwnershipError::EpochAhead { got: 1, current: 0 }));
        c.receive(&node("mx"), &confirm).unwrap();
        assert_eq!(c.check_update(&node("gt"), 1), Ok(()));
        // The former owner's late update at the old epoch, and a claim at the new one.
        for view in [&a, &b, &c] {
            assert_eq!(
                view.check_update(&node("mx"), 0),
                Err(OwnershipError::StaleEpoch { got: 0, current: 1 })
            );
            assert_eq!(
                view.check_update(&node("mx"), 1),
                Err(OwnershipError::NotOwner { from: node("mx"), owner: node("gt"), epoch: 1 })
            );
        }
        // A confirm from someone who was not the owner is refused.
        let mut d = Ownership::new(node("sv"), node("mx"), 0);
        let fake = HandoverMsg::Confirm { epoch: 1, new_owner: node("hn") };
        assert!(matches!(d.receive(&node("hn"), &fake), Err(OwnershipError::NotOwner { .. })));
        assert_eq!(d.owner(), &node("mx"));
    }

    #[test]
    fn only_the_owner_offers_and_one_at_a_time() {
        let (mut a, mut b) = pair();
        assert!(matches!(b.offer(node("hn")), Err(OwnershipError::NotOwner { .. })));
        assert_eq!(a.offer(node("mx")), Err(OwnershipError::ToSelf));
        a.offer(node("gt")).unwrap();
        assert_eq!(a.offer(node("hn")), Err(OwnershipError::Busy));
        assert_eq!(b.accept(), Err(OwnershipError::NoHandover), "nothing was offered to it yet");
    }

    #[test]
    fn declined_offer_keeps_the_owner() {
        let (mut a, mut b) = pair();
        b.receive(&node("mx"), &a.offer(node("gt")).unwrap()).unwrap();
        let reject = b.decline().unwrap();
        a.receive(&node("gt"), &reject).unwrap();
        assert_eq!((a.phase(), a.may_write()), (&Phase::Settled, Ok(0)));
        assert_eq!(b.phase(), &Phase::Settled);
    }

    #[test]
    fn offer_lost_then_sent_again() {
        let (mut a, mut b) = pair();
        let _lost = a.offer(node("gt")).unwrap();
        let again = a.pending().unwrap();
        b.receive(&node("mx"), &again).unwrap();
        b.receive(&node("mx"), &again).unwrap(); // duplicate
        let confirm = a.receive(&node("gt"), &b.accept().unwrap()).unwrap().unwrap();
        b.receive(&node("mx"), &confirm).unwrap();
        assert!(b.is_owner() && !a.is_owner());
    }

    #[test]
    fn accept_lost_then_sent_again() {
        let (mut a, mut b) = pair();
        b.receive(&node("mx"), &a.offer(node("gt")).unwrap()).unwrap();
        let _lost = b.accept().unwrap();
        assert!(a.is_owner() && !b.is_owner());
        let again = b.pending().unwrap();
        assert_eq!(again, HandoverMsg::Accept { epoch: 0 });
        let confirm = a.receive(&node("gt"), &again).unwrap().unwrap();
        b.receive(&node("mx"), &confirm).unwrap();
        assert!(b.is_owner() && !a.is_owner());
    }

    #[test]
    fn confirm_lost_then_the_repeated_accept_gets_it_again() {
        let (mut a, mut b) = pair();
        b.receive(&node("mx"), &a.offer(node("gt")).unwrap()).unwrap();
        let accept = b.accept().unwrap();
        let _lost = a.receive(&node("gt"), &accept).unwrap().unwrap();
        assert_eq!(owners(&[&a, &b]), 0);
        let confirm = a.receive(&node("gt"), &b.pending().unwrap()).unwrap().unwrap();
        assert_eq!(confirm, HandoverMsg::Confirm { epoch: 1, new_owner: node("gt") });
        b.receive(&node("mx"), &confirm).unwrap();
        assert!(b.is_owner());
        // A sends it until the receipt comes back; a late duplicate changes nothing.
        assert_eq!(a.pending(), Some(confirm.clone()));
        a.confirm_delivered();
        assert_eq!(a.pending(), None);
        assert_eq!(b.receive(&node("mx"), &confirm), Ok(None));
        assert_eq!((b.epoch(), b.is_owner(), b.pending()), (1, true, None));
    }

    #[test]
    fn withdrawal_crossing_an_accept() {
        let (mut a, mut b) = pair();
        b.receive(&node("mx"), &a.offer(node("gt")).unwrap()).unwrap();
        let accept = b.accept().unwrap();
        let cancel = a.withdraw().unwrap();
        let answer = a.receive(&node("gt"), &accept).unwrap();
        assert_eq!(answer, Some(HandoverMsg::Reject { epoch: 0 }));
        b.receive(&node("mx"), &cancel).unwrap();
        b.receive(&node("mx"), &answer.unwrap()).unwrap();
        assert!(a.is_owner() && !b.is_owner());
        assert_eq!((a.phase(), b.phase()), (&Phase::Settled, &Phase::Settled));
    }

    #[test]
    fn handing_back_ignores_the_earlier_round() {
        let (mut a, mut b) = pair();
        b.receive(&node("mx"), &a.offer(node("gt")).unwrap()).unwrap();
        let accept0 = b.accept().unwrap();
        let confirm1 = a.receive(&node("gt"), &accept0).unwrap().unwrap();
        b.receive(&node("mx"), &confirm1).unwrap();
        // B hands the case back.
        a.receive(&node("gt"), &b.offer(node("mx")).unwrap()).unwrap();
        let accept1 = a.accept().unwrap();
        let confirm2 = b.receive(&node("mx"), &accept1).unwrap().unwrap();
        a.receive(&node("gt"), &confirm2).unwrap();
        assert!(a.is_owner() && !b.is_owner());
        assert_eq!(a.epoch(), 2);
        // Late duplicates of round one are recognised as stale, whoever gets them.
        assert!(matches!(a.receive(&node("gt"), &accept0), Err(OwnershipError::StaleEpoch { .. })));
        assert!(matches!(b.receive(&node("mx"), &confirm1), Err(OwnershipError::StaleEpoch { .. })));
        assert!(a.is_owner() && !b.is_owner());
    }

    /// Random schedules of loss, duplication, reordering and retries over two nodes handing a
    /// case back and forth: never two owners; once the network delivers, exactly one, and
    /// both views agree.
    #[test]
    #[allow(clippy::needless_range_loop)] // `i` also names the other node, `1 - i`
    fn never_two_owners_under_faults() {
        let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let mut rand = move |n: usize| rng.usize(0..n);
        let ids = [node("mx"), node("gt")];
        let mut handovers = 0;
        for _ in 0..300 {
            let mut nodes = [
                Ownership::new(ids[0].clone(), ids[0].clone(), 0),
                Ownership::new(ids[1].clone(), ids[0].clone(), 0),
            ];
            // In flight: (to, from, message).
            let mut wire: Vec<(usize, usize, HandoverMsg)> = Vec::new();
            for step in 0..200 {
                let quiet = step >= 150; // the last steps: no loss, no new handovers
                match rand(8) {
                    0 if !quiet => {
                        // The owner starts a handover.
                        let i = rand(2);
                        if let Ok(m) = nodes[i].offer(ids[1 - i].clone()) {
                            wire.push((1 - i, i, m));
                        }
                    }
                    1 => {
                        for i in 0..2 {
                            if nodes[i].phase() == &Phase::Offered
                                && let Ok(m) =
                                    if rand(4) == 0 { nodes[i].decline() } else { nodes[i].accept() }
                            {
                                wire.push((1 - i, i, m));
                            }
                        }
                    }
                    2 if !quiet => {
                        let i = rand(2);
                        if rand(3) == 0
                            && let Ok(m) = nodes[i].withdraw()
                        {
                            wire.push((1 - i, i, m));
                        }
                    }
                    3 => {
                        // Timers: each side sends its pending step again.
                        for i in 0..2 {
                            if let Some(m) = nodes[i].pending() {
                                wire.push((1 - i, i, m));
                            }
                        }
                    }
                    4 if !quiet && !wire.is_empty() => {
                        wire.remove(rand(wire.len())); // lost
                    }
                    5 if !wire.is_empty() => {
                        let m = wire[rand(wire.len())].clone(); // duplicated
                        wire.push(m);
                    }
                    _ if !wire.is_empty() => {
                        let (to, from, m) = wire.remove(rand(wire.len())); // any order
                        let got = nodes[to].receive(&ids[from], &m);
                        if let Ok(Some(answer)) = &got {
                            wire.push((from, to, answer.clone()));
                        }
                        // The receipt of a delivered confirm may be lost too.
                        if got.is_ok() && matches!(m, HandoverMsg::Confirm { .. }) && rand(2) == 0 {
                            nodes[from].confirm_delivered();
                        }
                    }
                    _ => {}
                }
                assert!(owners(&[&nodes[0], &nodes[1]]) <= 1, "two owners at step {step}");
            }
            // Let the network settle: deliver everything, retry pending steps.
            for _ in 0..50 {
                for i in 0..2 {
                    if nodes[i].phase() == &Phase::Offered {
                        let m = nodes[i].accept().unwrap();
                        wire.push((1 - i, i, m));
                    }
                    if let Some(m) = nodes[i].pending() {
                        wire.push((1 - i, i, m));
                    }
                }
                while !wire.is_empty() {
                    let (to, from, m) = wire.remove(rand(wire.len()));
                    let got = nodes[to].receive(&ids[from], &m);
                    if let Ok(Some(answer)) = &got {
                        wire.push((from, to, answer.clone()));
                    }
                    if got.is_ok() && matches!(m, HandoverMsg::Confirm { .. }) {
                        nodes[from].confirm_delivered();
                    }
                    assert!(owners(&[&nodes[0], &nodes[1]]) <= 1);
                }
            }
            assert_eq!(owners(&[&nodes[0], &nodes[1]]), 1);
            assert_eq!((nodes[0].owner(), nodes[0].epoch()), (nodes[1].owner(), nodes[1].epoch()));
            assert_eq!((nodes[0].pending(), nodes[1].pending()), (None, None));
            handovers += nodes[0].epoch();
        }
        assert!(handovers > 300, "the schedules completed only {handovers} handovers");
    }

    #[test]
    fn messages_map_to_types() {
        let m = HandoverMsg::Confirm { epoch: 3, new_owner: node("gt") };
        assert_eq!((m.message_type(), m.epoch()), (MessageType::HandoverConfirm, 3));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "confirm", "epoch": 3, "new_owner": "gt"}));
    }
}
