//! The worker's business metrics come out as CloudWatch EMF with the
//! namespace, names and dimension sets the dashboard charts.
//! (Own test binary: the metrics recorder is process-global.)

use serde_json::Value;
use triage_core::classify::{Classification, Priority};
use triage_core::filters::SkipReason;
use triage_worker::Outcome;
use triage_worker::handler::{record_kpis, record_metrics};

#[test]
fn outcomes_become_emf_documents() {
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace("InboxTriage")
        .with_timestamp(1_700_000_000_000)
        .init()
        .unwrap();
    let created = Outcome::Created {
        ticket_id: "t_1".into(),
        classification: Classification {
            category: "billing".into(),
            queue: "billing".into(),
            priority: Priority::Medium,
            applied_rules: vec![],
            language: None,
        },
        acknowledgement: triage_core::acknowledgement::AckOutcome::Disabled,
    };
    record_metrics(&Ok(created.clone()));
    let ids = triage_worker::handler::RecordIds {
        grant_id: "grant-1".into(),
        received_at_ms: 1_700_000_000_000,
        ..Default::default()
    };
    record_kpis(&ids, &Ok(created.clone()), 1_700_000_000_750);
    record_kpis(
        &ids,
        &Err(triage_worker::Failure::Transient("x".into())),
        1_700_000_000_900,
    );
    record_metrics(&Ok(created));
    record_metrics(&Ok(Outcome::Skipped {
        reason: SkipReason::OwnOutbound,
    }));
    record_metrics(&Ok(Outcome::Duplicate {
        previous: "created:t_1".into(),
    }));

    let mut out = Vec::new();
    collector.flush(&mut out).unwrap();
    let docs: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |metric: &str| {
        docs.iter()
            .find(|d| d.get(metric).is_some())
            .unwrap_or_else(|| panic!("no document for {metric}: {docs:#?}"))
    };
    let tickets = find("TicketsCreated");
    assert_eq!(tickets["TicketsCreated"], 2);
    assert_eq!(tickets["Category"], "billing");
    assert_eq!(tickets["Priority"], "medium");
    let meta = &tickets["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(meta["Namespace"], "InboxTriage");
    let dims: Vec<&str> = meta["Dimensions"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(dims, ["Category", "Priority"]);
    assert_eq!(find("Skipped")["Reason"], "own_outbound");
    assert_eq!(find("Duplicates")["Duplicates"], 1);
    // KPIs: the ledger's triaged half per grant, and ingest-to-ticket time.
    let triaged = find("MailboxTriaged");
    assert_eq!(triaged["MailboxTriaged"], 1, "failures are not triaged");
    assert_eq!(triaged["Grant"], "grant-1");
    let ttt = &find("TimeToTicketMs")["TimeToTicketMs"];
    assert!(ttt.to_string().contains("750"), "{ttt}");
}
