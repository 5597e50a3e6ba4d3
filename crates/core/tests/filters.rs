//! skip_reason on real bounces and normal mail (through eml.rs), and on
//! every signal one at a time.

use std::collections::HashMap;
use std::path::PathBuf;

use triage_core::eml::message_from_eml;
use triage_core::filters::{FilterContext, SkipReason, is_automatic, skip_reason};
use triage_core::ports::FolderRole;
use triage_core::{Attachment, Header, Message, Participant};

fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing: the tests expect the shared fixtures next to the repository",
        dir.display()
    );
    dir
}

fn eml_dir(name: &str) -> Vec<(String, Message)> {
    let dir = fixtures().join("email").join(name);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("eml") {
            continue;
        }
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (msg, _) = message_from_eml(&raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push((path.display().to_string(), msg));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no .eml fixtures in {}", dir.display());
    out
}

fn ctx() -> FilterContext<'static> {
    FilterContext::default()
}

#[test]
fn every_bounce_fixture_is_skipped_as_automatic() {
    let bounces = eml_dir("bounce");
    assert_eq!(bounces.len(), 9, "expected the 9 bounce fixtures");
    for (name, msg) in &bounces {
        let reason = skip_reason(msg, &ctx());
        assert!(
            matches!(reason, Some(SkipReason::Bounce(_))),
            "{name}: {reason:?}\nheaders: {:?}\nattachments: {:?}",
            msg.headers,
            msg.attachments
        );
        assert!(is_automatic(msg).is_some(), "{name}");
    }
}

#[test]
fn bounces_are_recognised_by_structure_not_only_by_sender() {
    // Strip the sender and subject: the DSN structure alone must do.
    let mut structural = 0;
    for (name, mut msg) in eml_dir("bounce") {
        msg.from.clear();
        msg.subject = None;
        if is_automatic(&msg).is_some() {
            structural += 1;
        } else {
            eprintln!("{name}: recognised by sender/subject only");
        }
    }
    assert!(
        structural >= 6,
        "only {structural} bounces recognised by structure"
    );
}

#[test]
fn no_normal_fixture_is_skipped() {
    let normal = eml_dir("normal");
    assert_eq!(normal.len(), 12, "expected the 12 normal fixtures");
    for (name, msg) in &normal {
        assert_eq!(skip_reason(msg, &ctx()), None, "{name}");
    }
}

#[test]
fn dsn_structure_is_visible_after_eml_parsing() {
    let (_, zed) = eml_dir("bounce")
        .into_iter()
        .find(|(n, _)| n.ends_with("zed.eml"))
        .expect("zed.eml");
    let ct = zed
        .header("content-type")
        .expect("top-level Content-Type in headers");
    assert!(
        ct.contains("multipart/report") && ct.contains("report-type=delivery-status"),
        "{ct}"
    );
    assert!(
        zed.attachments
            .iter()
            .any(|a| a.content_type == "message/delivery-status"),
        "{:?}",
        zed.attachments
    );
}

// ------------------------------------------------------------ one signal at a time

fn human(headers: &[(&str, &str)]) -> Message {
    Message {
        id: "m1".into(),
        subject: Some("Question about my order".into()),
        from: vec![Participant {
            name: "Ann".into(),
            email: "ann@customer.test".into(),
        }],
        to: vec![Participant {
            name: String::new(),
            email: "support@acme.test".into(),
        }],
        body: Some("<p>Hello</p>".into()),
        folders: vec!["INBOX".into()],
        headers: Some(
            headers
                .iter()
                .map(|(name, value)| Header {
                    name: name.to_string(),
                    value: value.to_string(),
                })
                .collect(),
        ),
        ..Message::default()
    }
}

#[test]
fn the_baseline_human_message_is_kept() {
    assert_eq!(skip_reason(&human(&[]), &ctx()), None);
    assert_eq!(
        skip_reason(
            &human(&[
                ("Received", "from x"),
                ("Message-ID", "<a@b>"),
                ("Auto-Submitted", "no")
            ]),
            &ctx()
        ),
        None
    );
}

#[test]
fn each_auto_reply_header_alone_is_a_skip() {
    let cases: &[(&str, &str)] = &[
        ("Auto-Submitted", "auto-replied"),
        ("Auto-Submitted", "auto-generated"),
        ("auto-submitted", "Auto-Notified; owner-email=x@y"),
        ("Precedence", "auto_reply"),
        ("X-Precedence", "auto_reply"),
        ("X-Autoreply", "yes"),
        ("X-Autorespond", "Out of office"),
        ("X-Autoresponder", "true"),
        ("X-AutoReply-From", "ann@customer.test"),
        ("X-Mail-Autoreply", "1"),
        ("X-Autogenerated", "Reply"),
        ("X-Apple-Action", "VACATION/abc"),
        ("X-Loop", "support@acme.test"),
    ];
    for (name, value) in cases {
        let reason = skip_reason(&human(&[(name, value)]), &ctx());
        assert!(
            matches!(reason, Some(SkipReason::AutoReply(_))),
            "{name}: {value} -> {reason:?}"
        );
    }
}

#[test]
fn each_bulk_header_alone_is_a_skip() {
    for (name, value) in [
        ("Precedence", "bulk"),
        ("Precedence", "junk"),
        ("Precedence", "list"),
        ("X-Precedence", "Bulk"),
        ("List-Id", "<news.acme.test>"),
        ("List-Unsubscribe", "<mailto:u@acme.test>"),
    ] {
        let reason = skip_reason(&human(&[(name, value)]), &ctx());
        assert!(
            matches!(reason, Some(SkipReason::Bulk(_))),
            "{name}: {value} -> {reason:?}"
        );
    }
}

#[test]
fn each_bounce_header_alone_is_a_skip() {
    for (name, value) in [
        (
            "Content-Type",
            "multipart/report; report-type=delivery-status; boundary=b",
        ),
        (
            "Content-Type",
            "multipart/report; report-type=\"delivery-status\"",
        ),
        ("Content-Type", "message/delivery-status"),
        ("X-Failed-Recipients", "lost@nowhere.test"),
        ("Return-Path", "<>"),
        ("Return-Path", " < > "),
    ] {
        let reason = skip_reason(&human(&[(name, value)]), &ctx());
        assert!(
            matches!(reason, Some(SkipReason::Bounce(_))),
            "{name}: {value} -> {reason:?}"
        );
    }
}

#[test]
fn feedback_reports_are_their_own_reason() {
    let reason = skip_reason(
        &human(&[(
            "Content-Type",
            "multipart/report; report-type=feedback-report",
        )]),
        &ctx(),
    );
    assert!(
        matches!(reason, Some(SkipReason::FeedbackReport(_))),
        "{reason:?}"
    );
    let mut m = human(&[]);
    m.attachments.push(Attachment {
        content_type: "message/feedback-report".into(),
        ..Attachment::default()
    });
    assert!(matches!(
        skip_reason(&m, &ctx()),
        Some(SkipReason::FeedbackReport(_))
    ));
}

#[test]
fn a_delivery_status_part_is_a_bounce_even_without_headers() {
    let mut m = human(&[]);
    m.headers = None;
    m.attachments.push(Attachment {
        content_type: "message/delivery-status".into(),
        ..Attachment::default()
    });
    assert!(matches!(
        skip_reason(&m, &ctx()),
        Some(SkipReason::Bounce(_))
    ));
}

#[test]
fn values_that_mean_no_are_not_skips() {
    for (name, value) in [
        ("Auto-Submitted", "no"),
        ("Auto-Submitted", "No (manual)"),
        ("Precedence", "first-class"),
        ("X-Autoreply", "no"),
        ("X-Autogenerated", "Forward"),
        ("X-Apple-Action", "SEND"),
        ("Return-Path", "<ann@customer.test>"),
        (
            "Content-Type",
            "multipart/report; report-type=something-else",
        ),
        (
            "Content-Type",
            "multipart/mixed; boundary=\"report-type=delivery-status\"",
        ),
    ] {
        assert_eq!(
            skip_reason(&human(&[(name, value)]), &ctx()),
            None,
            "{name}: {value}"
        );
    }
}

#[test]
fn auto_response_suppress_alone_is_not_a_skip_but_with_inbox_rules_loop_it_is() {
    let alone = human(&[("X-Auto-Response-Suppress", "All")]);
    assert_eq!(skip_reason(&alone, &ctx()), None);
    let loop_only = human(&[("X-MS-Exchange-Inbox-Rules-Loop", "ann@customer.test")]);
    assert_eq!(skip_reason(&loop_only, &ctx()), None);
    let both = human(&[
        ("X-MS-Exchange-Inbox-Rules-Loop", "ann@customer.test"),
        ("X-Auto-Response-Suppress", "All"),
    ]);
    assert!(matches!(
        skip_reason(&both, &ctx()),
        Some(SkipReason::AutoReply(_))
    ));
}

#[test]
fn bounce_and_no_reply_senders() {
    for (sender, bounce) in [
        ("MAILER-DAEMON@mx.example.com", true),
        ("postmaster@example.com", true),
        ("noreply@service.test", false),
        ("no-reply@service.test", false),
        ("do-not-reply@service.test", false),
    ] {
        let mut m = human(&[]);
        m.headers = None;
        m.from[0].email = sender.into();
        let reason = skip_reason(&m, &ctx());
        if bounce {
            assert!(
                matches!(reason, Some(SkipReason::Bounce(_))),
                "{sender}: {reason:?}"
            );
        } else {
            assert!(
                matches!(reason, Some(SkipReason::AutoReply(_))),
                "{sender}: {reason:?}"
            );
        }
    }
    // Only the local part counts.
    let mut m = human(&[]);
    m.from[0].email = "ann@noreply.test".into();
    assert_eq!(skip_reason(&m, &ctx()), None);
}

#[test]
fn bounce_subjects_without_headers() {
    for subject in [
        "Undelivered Mail Returned to Sender",
        "Delivery Status Notification (Failure)",
        "Undeliverable: test",
        "Mail delivery failed: returning message to sender",
        "Returned mail: see transcript for details",
        "failure notice",
    ] {
        let mut m = human(&[]);
        m.headers = None;
        m.subject = Some(subject.into());
        assert!(
            matches!(skip_reason(&m, &ctx()), Some(SkipReason::Bounce(_))),
            "{subject}"
        );
    }
}

#[test]
fn out_of_office_subjects_in_many_languages() {
    for subject in [
        "Out of Office: Re: ticket 42",
        "Automatic reply: Question",
        "Auto-Reply: Question",
        "AutoReply",
        "Abwesenheitsnotiz: Frage",
        "Réponse automatique : Question",
        "RÉPONSE AUTOMATIQUE : Question",
        "Respuesta automática: Pregunta",
        "Risposta automatica: Domanda",
        "Automatisch antwoord: Vraag",
        "Automatisk svar: Fråga",
        "Автоматический ответ: Вопрос",
        "自動返信: 質問",
        "[Out of Office] back Monday",
    ] {
        let mut m = human(&[]);
        m.headers = None;
        m.subject = Some(subject.into());
        assert!(
            matches!(skip_reason(&m, &ctx()), Some(SkipReason::AutoReply(_))),
            "{subject}"
        );
    }
    // A human talking about it is not one.
    for subject in [
        "Re: out of office hours support?",
        "Question about automatic replies",
    ] {
        let mut m = human(&[]);
        m.subject = Some(subject.into());
        assert_eq!(skip_reason(&m, &ctx()), None, "{subject}");
    }
}

#[test]
fn without_headers_only_subject_sender_and_attachments_count() {
    let mut m = human(&[("Auto-Submitted", "auto-replied")]);
    assert!(skip_reason(&m, &ctx()).is_some());
    m.headers = None;
    assert_eq!(skip_reason(&m, &ctx()), None);
}

// ------------------------------------------------------------ context

#[test]
fn folders_by_role() {
    let roles: HashMap<String, FolderRole> = [
        ("f-sent", FolderRole::Sent),
        ("f-drafts", FolderRole::Drafts),
        ("f-trash", FolderRole::Trash),
        ("f-junk", FolderRole::Spam),
        ("f-inbox", FolderRole::Inbox),
        ("f-other", FolderRole::Other),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let ctx = FilterContext {
        folder_roles: Some(&roles),
        ..FilterContext::default()
    };
    for (folder, role) in [
        ("f-sent", FolderRole::Sent),
        ("f-drafts", FolderRole::Drafts),
        ("f-trash", FolderRole::Trash),
        ("f-junk", FolderRole::Spam),
    ] {
        let mut m = human(&[]);
        m.folders = vec!["f-inbox".into(), folder.into()];
        assert_eq!(
            skip_reason(&m, &ctx),
            Some(SkipReason::Folder(role)),
            "{folder}"
        );
    }
    for folder in ["f-inbox", "f-other", "unknown-id"] {
        let mut m = human(&[]);
        m.folders = vec![folder.into()];
        assert_eq!(skip_reason(&m, &ctx), None, "{folder}");
    }
}

#[test]
fn google_label_ids_without_roles() {
    for (label, role) in [
        ("SENT", FolderRole::Sent),
        ("DRAFT", FolderRole::Drafts),
        ("DRAFTS", FolderRole::Drafts),
        ("TRASH", FolderRole::Trash),
        ("SPAM", FolderRole::Spam),
        ("spam", FolderRole::Spam),
        ("Sent", FolderRole::Sent),
    ] {
        let mut m = human(&[]);
        m.folders = vec!["INBOX".into(), "UNREAD".into(), label.into()];
        assert_eq!(
            skip_reason(&m, &ctx()),
            Some(SkipReason::Folder(role)),
            "{label}"
        );
    }
}

#[test]
fn sent_folder_webhook_fixture_is_skipped() {
    let path = fixtures().join("nylas/message.created.sent-folder.json");
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    let msg: Message = serde_json::from_value(v["data"]["object"].clone()).expect("message");
    assert_eq!(
        skip_reason(&msg, &ctx()),
        Some(SkipReason::Folder(FolderRole::Sent))
    );
    // The other webhook fixtures are customer mail.
    for name in ["message.created.json", "message.created.cleaned.json"] {
        let path = fixtures().join("nylas").join(name);
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
        let msg: Message = serde_json::from_value(v["data"]["object"].clone()).expect("message");
        assert_eq!(skip_reason(&msg, &ctx()), None, "{name}");
    }
}

#[test]
fn own_outbound_by_address_or_source() {
    let ours = vec!["support@acme.test".to_string()];
    let ctx = FilterContext {
        support_addresses: &ours,
        ..FilterContext::default()
    };
    let mut m = human(&[]);
    assert_eq!(skip_reason(&m, &ctx), None);
    m.from[0].email = "Support@ACME.test".into();
    assert_eq!(skip_reason(&m, &ctx), Some(SkipReason::OwnOutbound));

    let send = FilterContext {
        source: Some("/nylas/send"),
        ..FilterContext::default()
    };
    assert_eq!(
        skip_reason(&human(&[]), &send),
        Some(SkipReason::OwnOutbound)
    );
    let realtime = FilterContext {
        source: Some("/google/emails/realtime"),
        ..FilterContext::default()
    };
    assert_eq!(skip_reason(&human(&[]), &realtime), None);
}

#[test]
fn calendar_invitations() {
    for content_type in [
        "text/calendar",
        "text/calendar; method=REQUEST; charset=utf-8",
        "application/ics",
    ] {
        let mut m = human(&[]);
        m.headers = None;
        m.attachments.push(Attachment {
            filename: "invite.ics".into(),
            content_type: content_type.into(),
            ..Attachment::default()
        });
        assert_eq!(
            skip_reason(&m, &ctx()),
            Some(SkipReason::CalendarInvite),
            "{content_type}"
        );
    }
    for (name, value) in [
        ("Content-Class", "urn:content-classes:calendarmessage"),
        ("X-MS-Exchange-Calendar-Series-Instance-Id", "BAAAAI"),
        ("Content-Type", "text/calendar; method=REQUEST"),
    ] {
        assert_eq!(
            skip_reason(&human(&[(name, value)]), &ctx()),
            Some(SkipReason::CalendarInvite),
            "{name}"
        );
    }
    // A PDF is not an invitation.
    let mut m = human(&[]);
    m.attachments.push(Attachment {
        content_type: "application/pdf".into(),
        ..Attachment::default()
    });
    assert_eq!(skip_reason(&m, &ctx()), None);
}

#[test]
fn calendar_invitation_eml() {
    let raw = "From: Ann <ann@customer.test>\r\nTo: support@acme.test\r\nSubject: Invitation: sync\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nJoin us\r\n\
--b\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n--b--\r\n";
    let (m, _) = message_from_eml(raw.as_bytes()).expect("parses");
    assert_eq!(skip_reason(&m, &ctx()), Some(SkipReason::CalendarInvite));
}

#[test]
fn historic_backfill_unless_allowed() {
    let historic = FilterContext {
        source: Some("/google/emails/historic"),
        ..FilterContext::default()
    };
    assert_eq!(
        skip_reason(&human(&[]), &historic),
        Some(SkipReason::HistoricBackfill)
    );
    let allowed = FilterContext {
        allow_historic: true,
        ..historic
    };
    assert_eq!(skip_reason(&human(&[]), &allowed), None);
}

#[test]
fn context_checks_come_first() {
    // A bounce in the trash reads as a folder skip; a historic one as historic.
    let mut m = human(&[("Auto-Submitted", "auto-replied")]);
    m.folders = vec!["TRASH".into()];
    assert_eq!(
        skip_reason(&m, &ctx()),
        Some(SkipReason::Folder(FolderRole::Trash))
    );
    let historic = FilterContext {
        source: Some("/microsoft/emails/historic"),
        ..FilterContext::default()
    };
    assert_eq!(
        skip_reason(&m, &historic),
        Some(SkipReason::HistoricBackfill)
    );
}

#[test]
fn codes_are_stable() {
    assert_eq!(SkipReason::Bounce(String::new()).code(), "bounce");
    assert_eq!(SkipReason::Folder(FolderRole::Sent).code(), "folder");
}
