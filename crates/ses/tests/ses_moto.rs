//! The SES sender against moto: an acknowledgement from a verified address
//! is accepted and recorded with its subject, text and recipient; from an
//! unverified address it is a permanent failure (SES's MessageRejected).

use aws_sdk_sesv2::Client;
use serde_json::Value;
use triage_core::acknowledgement::{AckSender, Acknowledgement, ReplyVia, SendError};
use triage_core::message::Participant;
use triage_ses::SesSender;
use triage_testkit::{moto_config, unique_name};

fn ack(subject: &str) -> Acknowledgement {
    Acknowledgement {
        to: Participant {
            name: "Ann".into(),
            email: "ann@example.com".into(),
        },
        subject: subject.into(),
        text: "Thank you for writing to us. Your request is ticket t_1.".into(),
        headers: vec![
            ("Auto-Submitted", "auto-replied".into()),
            ("X-Auto-Response-Suppress", "All".into()),
            ("In-Reply-To", "<a1@example.com>".into()),
            ("References", "<a1@example.com>".into()),
        ],
        ticket_id: "t_1".into(),
    }
}

const VIA: ReplyVia<'static> = ReplyVia {
    provider: "inbound",
    grant_id: "mbx-1",
    message_id: "mid-1",
};

#[tokio::test]
async fn a_verified_sender_sends_and_an_unverified_one_is_refused_for_good() {
    let sdk = moto_config().await;
    let from = format!("{}@acme.example", unique_name("support"));
    Client::new(&sdk)
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();
    let subject = format!("Re: Refund [{}]", unique_name("t"));
    SesSender::new(&sdk, &from, None)
        .send(&VIA, &ack(&subject))
        .await
        .unwrap();

    let messages = triage_testkit::moto_ses_messages().await;
    let sent: Vec<&Value> = messages
        .iter()
        .filter(|m| m["subject"] == subject.as_str())
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["source"], from.as_str());
    assert_eq!(sent[0]["destinations"]["ToAddresses"][0], "ann@example.com");
    assert!(sent[0]["body"].as_str().unwrap().contains("ticket t_1"));

    let unverified = SesSender::new(&sdk, format!("{}@nowhere.example", unique_name("x")), None)
        .send(&VIA, &ack("Re: x"))
        .await
        .unwrap_err();
    assert!(
        matches!(unverified, SendError::Permanent(_)),
        "{unverified:?}"
    );
    assert!(
        !unverified.to_string().contains("nowhere.example"),
        "{unverified}"
    );
}
