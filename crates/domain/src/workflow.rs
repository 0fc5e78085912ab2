//! The case workflow: which status may follow which, and what each step requires.
//!
//! intake → protection accepted → assessment → action plan → in progress ⇄ awaiting authority /
//! referred → resolved → closed (→ reopened → assessment | in progress).

use crate::case::Protection;

crate::str_enum! {
    /// Where a case is in its workflow.
    pub enum Status {
        Intake = "intake",
        ProtectionAccepted = "protection_accepted",
        Assessment = "assessment",
        ActionPlan = "action_plan",
        InProgress = "in_progress",
        AwaitingAuthority = "awaiting_authority",
        Referred = "referred",
        Resolved = "resolved",
        Closed = "closed",
        Reopened = "reopened",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a case cannot go from {from} to {to}; allowed next: {allowed}")]
    NotAllowed { from: Status, to: Status, allowed: String },
    #[error("protection must be accepted by the person, or the reason it could not be recorded, before {0}")]
    ProtectionPending(Status),
    #[error("a reason is required for this change")]
    ReasonRequired,
}

impl Status {
    /// The statuses that may follow this one.
    pub fn next(self) -> &'static [Status] {
        use Status::*;
        match self {
            // A person may refuse protection: the case is closed with a reason.
            Intake => &[ProtectionAccepted, Closed],
            ProtectionAccepted => &[Assessment, Closed],
            Assessment => &[ActionPlan, Closed],
            ActionPlan => &[InProgress, Assessment],
            InProgress => &[AwaitingAuthority, Referred, Resolved],
            AwaitingAuthority => &[InProgress, Resolved],
            Referred => &[InProgress, Resolved],
            Resolved => &[Closed, InProgress],
            Closed => &[Reopened],
            Reopened => &[Assessment, InProgress],
        }
    }

    pub fn is_open(self) -> bool {
        self != Status::Closed
    }

    /// Checks one transition. `reason` is the officer's words; closing, reopening and going
    /// back always need one.
    pub fn transition(
        self,
        to: Status,
        protection: &Protection,
        reason: Option<&str>,
    ) -> Result<Status, TransitionError> {
        if !self.next().contains(&to) {
            return Err(TransitionError::NotAllowed {
                from: self,
                to,
                allowed: self.next().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            });
        }
        let needs_reason = matches!(to, Status::Closed | Status::Reopened)
            || (self == Status::ActionPlan && to == Status::Assessment)
            || (self == Status::Resolved && to == Status::InProgress);
        if needs_reason && reason.is_none_or(|r| r.trim().is_empty()) {
            return Err(TransitionError::ReasonRequired);
        }
        // Closing from intake means the person declined: no acceptance needed.
        if to != Status::Closed && !protection.is_settled() {
            return Err(TransitionError::ProtectionPending(to));
        }
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;
    use chrono::Utc;

    fn accepted() -> Protection {
        Protection::Accepted { at: Utc::now() }
    }

    #[test]
    fn happy_path_is_allowed() {
        let p = accepted();
        let mut s = Intake;
        for to in
            [ProtectionAccepted, Assessment, ActionPlan, InProgress, AwaitingAuthority, InProgress, Resolved]
        {
            s = s.transition(to, &p, None).unwrap();
        }
        s = s.transition(Closed, &p, Some("done")).unwrap();
        s = s.transition(Reopened, &p, Some("new facts")).unwrap();
        assert_eq!(s.transition(InProgress, &p, None).unwrap(), InProgress);
    }

    #[test]
    fn illegal_moves_are_refused_with_a_reason() {
        let p = accepted();
        let e = Intake.transition(Resolved, &p, None).unwrap_err();
        assert!(e.to_string().contains("protection_accepted"), "{e}");
        assert_eq!(Resolved.transition(Closed, &p, None), Err(TransitionError::ReasonRequired));
        assert_eq!(
            Intake.transition(ProtectionAccepted, &Protection::Pending, None),
            Err(TransitionError::ProtectionPending(ProtectionAccepted))
        );
        assert!(Intake.transition(Closed, &Protection::Pending, Some("declined")).is_ok());
        assert!(Closed.transition(InProgress, &p, Some("x")).is_err());
    }

    #[test]
    fn every_status_can_reach_closed() {
        for s in Status::ALL {
            let mut seen = vec![*s];
            let mut i = 0;
            while i < seen.len() {
                for n in seen[i].next() {
                    if !seen.contains(n) {
                        seen.push(*n);
                    }
                }
                i += 1;
            }
            assert!(seen.contains(&Closed), "{s} cannot reach closed");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn status() -> impl Strategy<Value = Status> {
            proptest::sample::select(Status::ALL.to_vec())
        }

        /// One step an officer may ask for: a target, whether protection is settled, a reason
        /// (none, blank, or words).
        fn step() -> impl Strategy<Value = (Status, bool, Option<String>)> {
            (
                status(),
                any::<bool>(),
                prop_oneof![Just(None), Just(Some("  ".to_string())), Just(Some("motivo".to_string()))],
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// Whatever officers ask, in whatever order: a case moves only along the graph, a
            /// refusal leaves it where it was, closing and reopening always carry words, and
            /// with protection unsettled the only way out is closing.
            #[test]
            fn walks_follow_the_rules(steps in proptest::collection::vec(step(), 1..60)) {
                let mut at = Intake;
                for (to, settled, reason) in steps {
                    let p = if settled { accepted() } else { Protection::Pending };
                    let before = at;
                    match before.transition(to, &p, reason.as_deref()) {
                        Ok(next) => {
                            prop_assert_eq!(next, to);
                            prop_assert!(before.next().contains(&to), "{} -> {} is not an edge", before, to);
                            if matches!(to, Closed | Reopened) {
                                prop_assert!(reason.as_deref().is_some_and(|r| !r.trim().is_empty()));
                            }
                            if !settled {
                                prop_assert_eq!(to, Closed);
                            }
                            at = next;
                        }
                        Err(TransitionError::NotAllowed { from, to: t, .. }) => {
                            prop_assert_eq!((from, t), (before, to));
                            prop_assert!(!before.next().contains(&to));
                        }
                        Err(TransitionError::ReasonRequired) => {
                            prop_assert!(reason.as_deref().is_none_or(|r| r.trim().is_empty()));
                        }
                        Err(TransitionError::ProtectionPending(t)) => {
                            prop_assert!(!settled && t == to && to != Closed);
                        }
                    }
                    // Deterministic: the same question, the same answer.
                    prop_assert_eq!(before.transition(to, &p, reason.as_deref()), before.transition(to, &p, reason.as_deref()));
                }
            }

            /// From wherever a walk ends, the case can still be closed, with reasons given.
            #[test]
            fn a_case_can_always_be_closed(steps in proptest::collection::vec(step(), 0..40)) {
                let p = accepted();
                let mut at = Intake;
                for (to, _, reason) in steps {
                    if let Ok(s) = at.transition(to, &p, reason.as_deref()) {
                        at = s;
                    }
                }
                for _ in 0..Status::ALL.len() {
                    if at == Closed {
                        break;
                    }
                    let next = if at.next().contains(&Closed) {
                        Closed
                    } else if at.next().contains(&Resolved) {
                        Resolved
                    } else {
                        at.next()[0]
                    };
                    at = at.transition(next, &p, Some("cierre")).expect("an edge of the graph");
                }
                prop_assert_eq!(at, Closed);
            }
        }
    }
}
