use proptest::prelude::*;

use super::*;
use crate::classify::Rules;
use crate::message::Message;
use crate::ticket::{build_ticket, ticket_id};

const DAY: i64 = 24 * 3600;

fn p(email: &str) -> Participant {
    Participant {
        name: String::new(),
        email: email.into(),
    }
}

/// The ticket built for a message from `from` (and `reply_to`) with
/// `subject`, dated `date`.
fn message(id: &str, from: &str, reply_to: Option<&str>, subject: &str, date: i64) -> Ticket {
    let m = Message {
        id: id.into(),
        grant_id: "g1".into(),
        subject: Some(subject.into()),
        from: vec![p(from)],
        reply_to: reply_to.map(p).into_iter().collect(),
        to: vec![p("support@example.org")],
        date: Some(date),
        ..Default::default()
    };
    let class = Rules::default_rules().classify(&m, "");
    build_ticket(&m, &class, "", date)
}

/// A ticket opened by ann@example.com, cc bob@example.com, to support.
fn candidate(last_message_at: i64) -> Candidate {
    Candidate {
        id: ticket_id("g1", "m0"),
        grant_id: "g1".into(),
        requester: p("Ann@Example.com"),
        to: vec![p("support@example.org")],
        cc: vec![p("bob@example.com")],
        sender: Some("ann@example.com".into()),
        last_message_at,
    }
}

fn refused(why: &str) -> Decision {
    Decision::New {
        rule: Some(AppliedRule {
            rule: THREAD_RULE.into(),
            decision: format!("new: {why}"),
        }),
        // A participant refusal leaves the subject to its ticket.
        claims_subject: !why.starts_with("sender is not a participant"),
    }
}

#[test]
fn nothing_found_is_a_new_ticket_without_a_rule() {
    let m = message("m1", "ann@example.com", None, "Order 1234 never arrived", 0);
    assert_eq!(
        decide(&m, None),
        Decision::New {
            rule: None,
            claims_subject: true
        }
    );
}

#[test]
fn a_reference_by_a_participant_appends() {
    let c = candidate(0);
    for from in ["ann@example.com", "ANN@example.COM", "bob@example.com"] {
        let m = message("m1", from, None, "Re: x", 100 * DAY);
        assert_eq!(
            decide(&m, Some((Signal::TicketRef, &c))),
            Decision::Append {
                ticket_id: c.id.clone(),
                signal: Signal::TicketRef
            },
            "{from}: a reference has no window"
        );
    }
}

#[test]
fn a_reference_by_a_stranger_opens_a_new_ticket_saying_why() {
    let c = candidate(0);
    let m = message("m1", "eve@evil.example", None, "Re: x", 10);
    let d = decide(&m, Some((Signal::TicketRef, &c)));
    assert_eq!(
        d,
        refused("sender is not a participant of the ticket_ref match")
    );
    let Decision::New {
        rule: Some(rule), ..
    } = d
    else {
        return;
    };
    assert!(!rule.decision.contains('@'), "no address in the rule");
}

#[test]
fn reply_to_does_not_make_a_participant() {
    let c = candidate(0);
    // From a stranger, asking for replies to go to Ann.
    let m = message("m1", "eve@evil.example", Some("ann@example.com"), "x", 10);
    assert_eq!(m.requester.email, "ann@example.com");
    assert_eq!(
        decide(&m, Some((Signal::Subject, &c))),
        refused("sender is not a participant of the subject match")
    );
    // Ann herself, asking for replies elsewhere, is still Ann.
    let m = message("m2", "ann@example.com", Some("eve@evil.example"), "x", 10);
    assert!(matches!(
        decide(&m, Some((Signal::Subject, &c))),
        Decision::Append { .. }
    ));
}

#[test]
fn a_subject_match_appends_only_within_the_window() {
    let c = candidate(1_000 * DAY);
    let at = |date: i64| message("m1", "bob@example.com", None, "x", date);
    for date in [
        1_000 * DAY,
        1_000 * DAY + SUBJECT_WINDOW_S,
        1_000 * DAY - SUBJECT_WINDOW_S,
    ] {
        assert!(
            matches!(
                decide(&at(date), Some((Signal::Subject, &c))),
                Decision::Append {
                    signal: Signal::Subject,
                    ..
                }
            ),
            "{date}"
        );
    }
    for date in [
        1_000 * DAY + SUBJECT_WINDOW_S + 1,
        1_000 * DAY - SUBJECT_WINDOW_S - 1,
    ] {
        assert_eq!(
            decide(&at(date), Some((Signal::Subject, &c))),
            refused("the subject match is outside the window"),
            "{date}"
        );
    }
    assert!(!within_window(i64::MIN, i64::MAX), "no overflow");
}

#[test]
fn a_candidate_of_another_grant_or_itself_is_nothing() {
    let m = message("m1", "ann@example.com", None, "x", 0);
    let mut c = candidate(0);
    c.grant_id = "g2".into();
    assert_eq!(
        decide(&m, Some((Signal::TicketRef, &c))),
        Decision::New {
            rule: None,
            claims_subject: true
        }
    );
    let mut c = candidate(0);
    c.id = m.id.clone();
    assert_eq!(
        decide(&m, Some((Signal::Subject, &c))),
        Decision::New {
            rule: None,
            claims_subject: true
        }
    );
}

#[test]
fn empty_or_missing_addresses_never_match() {
    let mut c = candidate(0);
    c.requester = p("");
    c.sender = None;
    c.to = vec![p(" "), p("<>")];
    c.cc = vec![p("@"), p("x@")];
    for sender in [None, Some(""), Some(" "), Some("@"), Some("x@"), Some("<>")] {
        assert!(!is_participant(sender, &c), "{sender:?}");
    }
    let mut m = message("m1", "", None, "x", 0);
    m.sender = None;
    assert!(matches!(
        decide(&m, Some((Signal::Subject, &c))),
        Decision::New { rule: Some(_), .. }
    ));
}

#[test]
fn addresses_compare_trimmed_and_case_insensitively() {
    assert_eq!(
        address(" <Ann@Example.COM> ").as_deref(),
        Some("ann@example.com")
    );
    assert_eq!(address("no-at-sign"), None);
    let c = candidate(0);
    assert!(is_participant(Some("BOB@example.com "), &c));
    assert!(is_participant(Some("support@example.org"), &c));
    assert!(!is_participant(Some("bob@example.co"), &c));
}

#[test]
fn the_sender_is_the_from_address() {
    let m = message("m1", " Ann@Example.com ", Some("x@y.z"), "x", 0);
    assert_eq!(m.sender.as_deref(), Some("ann@example.com"));
}

#[test]
fn lookups_read_the_subject() {
    let id = ticket_id("g1", "m0");
    let m = message(
        "m1",
        "a@b.c",
        None,
        &format!("Re: Order 1234 never arrived {}", reference::tag(&id)),
        0,
    );
    let l = lookups(&m);
    assert_eq!(l.reference.as_deref(), Some(id.as_str()));
    assert_eq!(l.subject, subject_key("Order 1234 never arrived"));
    let m = message("m2", "a@b.c", None, "Help", 0);
    assert_eq!(
        lookups(&m),
        Lookups {
            reference: None,
            subject: None
        }
    );
}

#[test]
fn signals_have_names() {
    for s in [
        Signal::ThreadId,
        Signal::MessageId,
        Signal::TicketRef,
        Signal::Subject,
    ] {
        assert_eq!(Signal::parse(s.as_str()), Some(s));
        assert_eq!(s.decision(), format!("signal={}", s.as_str()));
        assert_eq!(
            serde_json::to_value(s).ok(),
            Some(serde_json::Value::String(s.as_str().into()))
        );
    }
    assert_eq!(Signal::parse("none"), None);
    assert_eq!(Signal::of_pin(true), Signal::ThreadId);
    assert_eq!(Signal::of_pin(false), Signal::MessageId);
}

#[test]
fn the_thread_rule_is_one_and_rules_stay_bounded() {
    let rule = |r: &str, d: &str| AppliedRule {
        rule: r.into(),
        decision: d.into(),
    };
    let mut rules: Vec<AppliedRule> = (0..100).map(|i| rule("kw", &i.to_string())).collect();
    record(&mut rules, rule(THREAD_RULE, "new: a"));
    record(&mut rules, rule(THREAD_RULE, "new: b"));
    assert_eq!(rules.len(), MAX_APPLIED_RULES);
    assert_eq!(rules.iter().filter(|r| r.rule == THREAD_RULE).count(), 1);
    assert_eq!(rules.last().map(|r| r.decision.as_str()), Some("new: b"));
    let mut few = vec![rule("default", "queue=support")];
    record(&mut few, rule(THREAD_RULE, "new: c"));
    assert_eq!(few.len(), 2);
}

fn any_address() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-cA-C]{1,3}@[a-c]{1,2}\\.(com|org)",
        " ?<?[a-c]{0,2}@?[a-c]{0,2}>? ?",
        Just(String::new()),
    ]
}

fn any_candidate() -> impl Strategy<Value = Candidate> {
    (
        any_address(),
        prop::option::of(any_address()),
        prop::collection::vec(any_address(), 0..4),
        prop::collection::vec(any_address(), 0..4),
        -30i64..30,
    )
        .prop_map(|(requester, sender, to, cc, days)| Candidate {
            id: ticket_id("g1", "m0"),
            grant_id: "g1".into(),
            requester: p(&requester),
            to: to.iter().map(|a| p(a)).collect(),
            cc: cc.iter().map(|a| p(a)).collect(),
            sender,
            last_message_at: days * DAY,
        })
}

proptest! {
    /// Whatever the candidate and the signal, a message whose `From` is
    /// none of its participants' addresses never joins it.
    #[test]
    fn a_stranger_is_never_admitted(
        c in any_candidate(),
        from in any_address(),
        reply_to in prop::option::of(any_address()),
        signal in prop::sample::select(vec![Signal::ThreadId, Signal::MessageId, Signal::TicketRef, Signal::Subject]),
        days in -30i64..30,
    ) {
        let m = message("m1", &from, reply_to.as_deref(), "Order 1234 never arrived", days * DAY);
        let participants: Vec<Option<String>> = std::iter::once(c.requester.email.clone())
            .chain(c.sender.clone())
            .chain(c.to.iter().chain(&c.cc).map(|p| p.email.clone()))
            .map(|a| address(&a))
            .collect();
        let stranger = match address(&from) {
            None => true,
            Some(f) => !participants.contains(&Some(f)),
        };
        let decision = decide(&m, Some((signal, &c)));
        if stranger {
            prop_assert!(matches!(decision, Decision::New { rule: Some(_), .. }), "{decision:?}");
        }
        if let Decision::Append { ticket_id, .. } = &decision {
            prop_assert_eq!(ticket_id, &c.id);
            prop_assert!(!stranger);
        }
    }
}
