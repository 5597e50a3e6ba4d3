//! The worker's record and batch handler.
//!
//! Per record: decode the envelope, claim the idempotency record, get the
//! message (from the notification or the provider's API), skip what must not
//! become a ticket, classify, write the ticket (create or append to its
//! thread), and mark the record completed. A claim is released on any
//! failure so redelivery can run; every write is idempotent, so a crash at
//! any point still ends with exactly one ticket.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use futures_util::StreamExt;
use triage_core::acknowledgement::{AckOutcome, Acknowledger, NoAcknowledgements, ReplyVia};
use triage_core::classify::{BODY_SCAN_BYTES, Classification, Rules};
use triage_core::envelope::{Envelope, EnvelopeError};
use triage_core::filters::{FilterContext, SkipReason, skip_reason};
use triage_core::ingest::IngestPolicy;
use triage_core::logsafe::Escaped;
use triage_core::message::{BodyFormat, Message};
use triage_core::ports::{
    ClaimOutcome, ClaimTimes, DedupeKey, FetchError, FolderRole, IdempotencyStore, MessageSource,
    NoRawMail, NoRedelivery, ObjectLocation, RawMailStore, Redelivery, StoreError, TicketStore,
};
use triage_core::provider::ses::verdicts::{self, VerdictDecision, Verdicts};
use triage_core::provider::ses::{self, s3_event};
use triage_core::provider::{self, Authenticated, FetchRule, Provider};
use triage_core::redelivery::{DeadLetter, Disposition, Record, Setback, disposition};
use triage_core::text::visible_text_head;
use triage_core::threading::Signal;
use triage_core::ticket::{AppliedRule, TicketWrite, build_ticket};

use crate::config::{FetchPolicy, WorkerSettings};

/// What happened to a record that was handled (not an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created {
        ticket_id: String,
        classification: Classification,
        /// What became of the requester's acknowledgement.
        acknowledgement: AckOutcome,
    },
    Appended {
        ticket_id: String,
        /// Which signal joined the message to the ticket.
        signal: Signal,
    },
    /// The message was already on its ticket (redelivery after a crash).
    AlreadyRecorded {
        ticket_id: String,
    },
    /// The idempotency record says this message was completed before.
    Duplicate {
        previous: String,
    },
    Skipped {
        reason: SkipReason,
    },
    /// The provider answered 404: the message no longer exists.
    Gone,
}

impl Outcome {
    /// Short code for logs, metrics and the stored outcome.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Created { .. } => "created",
            Outcome::Appended { .. } => "appended",
            Outcome::AlreadyRecorded { .. } => "already_recorded",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Gone => "gone",
        }
    }

    /// The value kept on the idempotency record.
    fn record(&self) -> String {
        match self {
            Outcome::Created { ticket_id, .. }
            | Outcome::Appended { ticket_id, .. }
            | Outcome::AlreadyRecorded { ticket_id } => format!("{}:{ticket_id}", self.code()),
            Outcome::Skipped { reason } => format!("skipped:{}", reason.code()),
            Outcome::Duplicate { previous } => previous.clone(),
            Outcome::Gone => "gone".to_string(),
        }
    }
}

/// Why a record failed. What happens next is the core's
/// [`redelivery`](triage_core::redelivery) rule: permanent failures go to
/// the DLQ at once with this reason, transient ones are retried, waits
/// (a throttled provider, another worker's claim) do not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("permanent: {0}")]
    Permanent(String),
    #[error("transient: {0}")]
    Transient(String),
    /// The provider asked to wait longer than this run could.
    #[error("throttled for {retry_after_ms} ms: {reason}")]
    Throttled { retry_after_ms: u64, reason: String },
    /// Another worker holds a live claim on this message.
    #[error("in progress elsewhere (lease until {lease_until_ms})")]
    InProgress { lease_until_ms: i64 },
}

impl Failure {
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Permanent(_) => "permanent",
            Failure::Transient(_) => "transient",
            Failure::Throttled { .. } => "throttled",
            Failure::InProgress { .. } => "in_progress",
        }
    }

    /// The failure as the redelivery rule sees it, at `now_ms`.
    pub fn setback(&self, now_ms: i64) -> Setback {
        match self {
            Failure::Permanent(_) => Setback::Permanent,
            Failure::Transient(_) => Setback::Transient,
            Failure::Throttled { retry_after_ms, .. } => Setback::Throttled {
                until_ms: now_ms.saturating_add(i64::try_from(*retry_after_ms).unwrap_or(i64::MAX)),
            },
            Failure::InProgress { lease_until_ms } => Setback::InProgress {
                lease_until_ms: *lease_until_ms,
            },
        }
    }
}

impl From<EnvelopeError> for Failure {
    fn from(e: EnvelopeError) -> Self {
        Failure::Permanent(e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            Failure::Transient(e.to_string())
        } else {
            Failure::Permanent(e.to_string())
        }
    }
}

impl From<FetchError> for Failure {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Transient(m) => Failure::Transient(m),
            FetchError::Throttled {
                retry_after_ms,
                detail,
            } => Failure::Throttled {
                retry_after_ms,
                reason: detail,
            },
            FetchError::Permanent(m) => Failure::Permanent(m),
        }
    }
}

/// The `applied_rules` entry of a ticket made from the notification's copy
/// because the fetch answered 404.
pub const CARRIED_COPY_RULE: &str = "carried_copy";

/// The `applied_rules` entry of a ticket made from a raw message read only
/// up to the size cap.
pub const RAW_MAIL_RULE: &str = "raw_mail";

/// The `applied_rules` entry of a ticket whose receiving service's verdict
/// failed and the rules file says flag (`[ses]`).
pub const VERDICT_RULE: &str = "ses_verdict";

/// What became of a raw message.
enum RawMessage {
    Made {
        message: Box<Message>,
        format: BodyFormat,
        notes: Vec<AppliedRule>,
    },
    /// The object is gone.
    Gone,
    /// A verdict says no ticket.
    Skipped(SkipReason),
}

/// Ids of a record, for logs (never addresses, subjects or bodies).
#[derive(Debug, Clone, Default)]
pub struct RecordIds {
    pub notification_id: String,
    pub grant_id: String,
    pub message_id: String,
    /// When ingest accepted the notification (unix ms; 0 when unknown).
    pub received_at_ms: i64,
}

/// The worker: ports plus rules and settings, built once at init.
pub struct Worker<I, T, S, K = NoAcknowledgements, M = NoRawMail> {
    pub idempotency: I,
    pub tickets: T,
    /// `None`: fetching is off (no API key); messages are classified from the
    /// notification alone.
    pub source: Option<S>,
    pub rules: Rules,
    pub settings: WorkerSettings,
    /// Acknowledges new tickets (off unless the rules file turns it on).
    pub acks: K,
    /// Reads raw messages stored as objects (Amazon SES receiving);
    /// [`NoRawMail`] when none is configured.
    pub raw_mail: M,
}

impl<I, T, S, K, M> Worker<I, T, S, K, M> {
    /// The same worker acknowledging new tickets with `acks`.
    pub fn with_acknowledgements<K2: Acknowledger>(self, acks: K2) -> Worker<I, T, S, K2, M> {
        Worker {
            idempotency: self.idempotency,
            tickets: self.tickets,
            source: self.source,
            rules: self.rules,
            settings: self.settings,
            acks,
            raw_mail: self.raw_mail,
        }
    }

    /// The same worker reading raw messages from `raw_mail`.
    pub fn with_raw_mail<M2: RawMailStore>(self, raw_mail: M2) -> Worker<I, T, S, K, M2> {
        Worker {
            idempotency: self.idempotency,
            tickets: self.tickets,
            source: self.source,
            rules: self.rules,
            settings: self.settings,
            acks: self.acks,
            raw_mail,
        }
    }
}

impl<I, T, S, K, M> Worker<I, T, S, K, M>
where
    I: IdempotencyStore,
    T: TicketStore,
    S: MessageSource,
    K: Acknowledger,
    M: RawMailStore,
{
    /// Handle one queue message body. `now_ms` is now (unix ms); `deadline`
    /// bounds API retries (the Lambda's remaining time less a margin).
    pub async fn process(
        &self,
        body: &str,
        now_ms: i64,
        deadline: Instant,
    ) -> (RecordIds, Result<Outcome, Failure>) {
        if s3_event::looks_like(body) {
            return self.process_s3_notification(body, now_ms, deadline).await;
        }
        let envelope = match Envelope::decode(body) {
            Ok(e) => e,
            Err(e) => return (RecordIds::default(), Err(e.into())),
        };
        let ids = record_ids(&envelope);
        let result = self.process_envelope(&envelope, now_ms, deadline).await;
        (ids, result)
    }

    /// A queue message S3 sent (Amazon SES receiving wrote raw mail to the
    /// bucket): the `ses` provider makes one envelope per object, each
    /// processed like any other. S3's test message is skipped. With several
    /// objects (S3 sends one per message in practice) the first failure is
    /// the record's result; the others' writes are idempotent on retry.
    async fn process_s3_notification(
        &self,
        body: &str,
        now_ms: i64,
        deadline: Instant,
    ) -> (RecordIds, Result<Outcome, Failure>) {
        let prepared = match ses::Ses.parse(
            &IngestPolicy::default(),
            body.as_bytes(),
            &Authenticated::unsigned(),
            now_ms,
        ) {
            Ok(p) => p,
            Err(e) => {
                return (RecordIds::default(), Err(Failure::Permanent(e.to_string())));
            }
        };
        let mut last = (
            RecordIds::default(),
            Ok(Outcome::Skipped {
                reason: SkipReason::NotMail,
            }),
        );
        for queued in &prepared.messages {
            let (ids, result) = match Envelope::decode(&queued.body) {
                Ok(env) => (
                    record_ids(&env),
                    self.process_envelope(&env, now_ms, deadline).await,
                ),
                Err(e) => (RecordIds::default(), Err(e.into())),
            };
            let failed = result.is_err();
            last = (ids, result);
            if failed {
                break;
            }
        }
        last
    }

    async fn process_envelope(
        &self,
        env: &Envelope,
        now_ms: i64,
        deadline: Instant,
    ) -> Result<Outcome, Failure> {
        let key = match (&env.grant_id, &env.message_id) {
            (Some(g), Some(m)) if !g.is_empty() && !m.is_empty() => DedupeKey {
                grant_id: g.clone(),
                message_id: m.clone(),
            },
            _ => {
                return Err(Failure::Permanent(
                    "envelope has no grant id or message id".into(),
                ));
            }
        };
        let ttl_s = secs(self.settings.idempotency_ttl);
        let expires_at_s = now_ms / 1000 + ttl_s;
        let times = ClaimTimes {
            now_ms,
            lease_until_ms: now_ms + millis(self.settings.lease),
            expires_at_s,
        };
        match self.idempotency.claim(&key, times).await? {
            ClaimOutcome::Claimed => {}
            ClaimOutcome::Completed { outcome } => {
                return Ok(Outcome::Duplicate { previous: outcome });
            }
            ClaimOutcome::InProgress { lease_until_ms } => {
                return Err(Failure::InProgress { lease_until_ms });
            }
        }
        // Never work past our own lease: after it another worker may take
        // the record over, and our completion or release would then act on
        // its claim. API retries stop in time; the store calls left are short.
        let deadline = deadline.min(lease_deadline(self.settings.lease));
        let result = self.process_claimed(env, now_ms, deadline).await;
        match &result {
            Ok(outcome) => {
                if let Err(e) = self
                    .idempotency
                    .complete(&key, &outcome.record(), expires_at_s)
                    .await
                {
                    // The ticket write is idempotent: releasing lets the retry
                    // find the ticket already written and complete then.
                    self.release(&key).await;
                    return Err(e.into());
                }
            }
            Err(_) => self.release(&key).await,
        }
        result
    }

    async fn release(&self, key: &DedupeKey) {
        if let Err(e) = self.idempotency.release(key).await {
            // The lease expires by itself; redelivery after it will run.
            tracing::warn!(grant_id = %Escaped(&key.grant_id), message_id = %Escaped(&key.message_id), error = %Escaped(&e.to_string()), "could not release claim");
        }
    }

    async fn process_claimed(
        &self,
        env: &Envelope,
        now_ms: i64,
        deadline: Instant,
    ) -> Result<Outcome, Failure> {
        let opened = provider::open(env)?;
        if let Some(at) = &opened.raw_object {
            let (message, format, notes) = match self.raw_message(at, deadline).await? {
                RawMessage::Made {
                    message,
                    format,
                    notes,
                } => (message, format, notes),
                RawMessage::Gone => return Ok(Outcome::Gone),
                RawMessage::Skipped(reason) => return Ok(Outcome::Skipped { reason }),
            };
            let ids = (message.grant_id.clone(), message.id.clone());
            return self
                .triage(
                    env,
                    (&ids.0, &ids.1),
                    *message,
                    format,
                    opened.origin,
                    notes,
                    now_ms,
                    deadline,
                )
                .await;
        }
        let want_fetch = match opened.fetch {
            FetchRule::Never => false,
            FetchRule::Required => true,
            FetchRule::Allowed => self.settings.fetch_policy == FetchPolicy::Always,
        };

        let grant = env.grant_id.as_deref().unwrap_or_default();
        let message_id = env.message_id.as_deref().unwrap_or_default();
        // A 404 on fetch while the notification carried the message is no
        // reason to lose it: providers re-key messages (IMAP consolidation),
        // so a 404 right after a notification is normal. The carried copy
        // makes the ticket, and the ticket says so.
        let mut carried_after_404 = false;
        let (message, format) = match (&self.source, want_fetch) {
            (Some(source), true) => {
                match source.fetch_message(grant, message_id, deadline).await? {
                    None => match opened.message {
                        Some(m) => {
                            carried_after_404 = true;
                            (m, opened.format)
                        }
                        None => return Ok(Outcome::Gone),
                    },
                    // The API returns HTML, whatever the notification carried.
                    Some(m) => (m, BodyFormat::Html),
                }
            }
            _ => match opened.message {
                Some(m) => (m, opened.format),
                None => {
                    return Err(Failure::Permanent(
                        "reference envelope but fetching is off (no API key)".into(),
                    ));
                }
            },
        };
        let message = fill_ids(message, grant, message_id);
        let mut notes = Vec::new();
        if carried_after_404 {
            notes.push(AppliedRule {
                rule: CARRIED_COPY_RULE.to_string(),
                decision: "the provider answered 404 on fetch: made from the notification's copy"
                    .to_string(),
            });
        }
        self.triage(
            env,
            (grant, message_id),
            message,
            format,
            opened.origin,
            notes,
            now_ms,
            deadline,
        )
        .await
    }

    /// The raw message stored at `at`, read up to the size cap, parsed, and
    /// judged by the receiving service's verdicts.
    async fn raw_message(
        &self,
        at: &ObjectLocation,
        deadline: Instant,
    ) -> Result<RawMessage, Failure> {
        let cap = self.settings.raw_mail_max_bytes;
        let Some(raw) = self.raw_mail.fetch_raw(at, cap, deadline).await? else {
            return Ok(RawMessage::Gone);
        };
        let made = ses::mime::message_from_object(&raw, at)
            .map_err(|e| Failure::Permanent(format!("raw message: {e}")))?;
        let mut notes = Vec::new();
        if let Some((read, size)) = made.truncated_at {
            notes.push(AppliedRule {
                rule: RAW_MAIL_RULE.to_string(),
                decision: format!(
                    "truncated: read {read} of {size} bytes (RAW_MAIL_MAX_BYTES); the whole message stays in the bucket"
                ),
            });
        }
        let verdicts = Verdicts::of(&made.message);
        match verdicts::decide(&verdicts, self.rules.ses_verdicts()) {
            VerdictDecision::Pass => {}
            VerdictDecision::Skip(code) => {
                return Ok(RawMessage::Skipped(SkipReason::Verdict(code)));
            }
            VerdictDecision::Flag(flags) => {
                notes.extend(flags.into_iter().map(|flag| AppliedRule {
                    rule: VERDICT_RULE.to_string(),
                    decision: format!("{flag}=fail flagged"),
                }))
            }
        }
        Ok(RawMessage::Made {
            message: Box::new(made.message),
            format: made.format,
            notes,
        })
    }

    /// Filter, classify and write the ticket of `message` (`ids`: its
    /// grant and message id at the provider); `notes` go to the ticket's
    /// applied rules after the classification's.
    #[allow(clippy::too_many_arguments)]
    async fn triage(
        &self,
        env: &Envelope,
        (grant, message_id): (&str, &str),
        message: Message,
        format: BodyFormat,
        origin: provider::Origin,
        notes: Vec<AppliedRule>,
        now_ms: i64,
        deadline: Instant,
    ) -> Result<Outcome, Failure> {
        let roles = match (&self.source, message.folders.is_empty()) {
            (Some(source), false) => Some(source.folder_roles(grant, deadline).await?),
            _ => None,
        };
        let ctx = FilterContext {
            support_addresses: &self.settings.support_addresses,
            folder_roles: roles.as_ref(),
            origin,
            allow_historic: self.settings.allow_historic,
            list_mailboxes: self.rules.list_mailboxes(),
        };
        if let Some(reason) = skip_reason(&message, &ctx) {
            return Ok(Outcome::Skipped { reason });
        }

        // The classifier reads the start of the text and the ticket keeps a
        // snippet: the rest of a long body is never converted.
        let text = visible_text_head(
            message.body.as_deref().unwrap_or(""),
            format,
            BODY_SCAN_BYTES,
        );
        let mut classification = self.rules.classify(&message, &text);
        classification.applied_rules.extend(notes);
        let ticket = build_ticket(&message, &classification, &text, now_ms / 1000);
        let written = self.tickets.write(&ticket).await?;
        Ok(match written {
            TicketWrite::Created { ref ticket_id } => {
                let via = ReplyVia {
                    provider: &env.provider,
                    grant_id: grant,
                    message_id,
                };
                let acknowledgement = self
                    .acks
                    .acknowledge(&ticket, &message, &written, &via, now_ms / 1000)
                    .await;
                if let AckOutcome::Failed(reason) = &acknowledgement {
                    tracing::warn!(ticket = %Escaped(ticket_id), reason = %Escaped(reason), "acknowledgement not sent");
                }
                Outcome::Created {
                    ticket_id: ticket_id.clone(),
                    classification,
                    acknowledgement,
                }
            }
            TicketWrite::Appended { ticket_id, signal } => Outcome::Appended { ticket_id, signal },
            TicketWrite::AlreadyRecorded { ticket_id } => Outcome::AlreadyRecorded { ticket_id },
        })
    }

    /// Handle an SQS batch without redelivery: every failure is reported
    /// for the queue's own retries (tests and runners without a DLQ URL).
    pub async fn process_batch(
        &self,
        records: Vec<SqsMessage>,
        now_ms: i64,
        deadline: Instant,
    ) -> SqsBatchResponse {
        self.process_batch_with(records, now_ms, deadline, &NoRedelivery)
            .await
    }

    /// Handle an SQS batch; report only the records left to the queue's
    /// own retries. Each failure follows the core's redelivery rule through
    /// `redelivery`: a permanent one is sent to the DLQ with its reason and
    /// reported done (Lambda deletes it), a wait is put back as a delayed
    /// copy without spending a receive; when that call fails, the record is
    /// reported failed and SQS's `maxReceiveCount` is the fallback.
    pub async fn process_batch_with<R: Redelivery>(
        &self,
        records: Vec<SqsMessage>,
        now_ms: i64,
        deadline: Instant,
        redelivery: &R,
    ) -> SqsBatchResponse {
        let concurrency = self.settings.concurrency.max(1);
        let failures: Vec<BatchItemFailure> = futures_util::stream::iter(records)
            .map(|record| async move {
                let sqs_id = record.message_id.clone().unwrap_or_default();
                let handled = self.record(&record, now_ms, deadline, redelivery).await;
                (!handled).then(|| {
                    let mut f = BatchItemFailure::default();
                    f.item_identifier = sqs_id;
                    f
                })
            })
            .buffer_unordered(concurrency)
            .filter_map(|f| async move { f })
            .collect()
            .await;
        let mut resp = SqsBatchResponse::default();
        resp.batch_item_failures = failures;
        resp
    }

    /// One SQS record; `true` when it may be deleted (done, put back or
    /// dead-lettered), `false` to leave it to the queue's retries.
    async fn record<R: Redelivery>(
        &self,
        record: &SqsMessage,
        now_ms: i64,
        deadline: Instant,
        redelivery: &R,
    ) -> bool {
        let started = Instant::now();
        let sqs_id = record.message_id.as_deref().unwrap_or_default();
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(1);
        let attributes: Vec<(String, String)> = record
            .message_attributes
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.string_value.clone()?)))
            .collect();
        let body = record.body.as_deref().unwrap_or_default();
        let rec = Record {
            body,
            attributes: &attributes,
        };
        // Put back for a provider's wait longer than SQS's 15-minute delay:
        // hop again without asking the provider early.
        if let Some(not_before) = rec.not_before_ms()
            && not_before > now_ms.saturating_add(1_000)
        {
            return match redelivery
                .put_back(&rec, not_before, rec.deferrals(), now_ms)
                .await
            {
                Ok(()) => {
                    tracing::info!(sqs_message_id = %Escaped(sqs_id), wait_ms = not_before - now_ms, "still waiting for the provider; put back");
                    true
                }
                Err(e) => {
                    tracing::warn!(sqs_message_id = %Escaped(sqs_id), error = %e, "could not put back; left to the queue");
                    false
                }
            };
        }
        let result = match record.body.as_deref() {
            Some(body) => self.process(body, now_ms, deadline).await,
            None => (
                RecordIds::default(),
                Err(Failure::Permanent("record has no body".into())),
            ),
        };
        let (ids, result) = result;
        record_metrics(&result);
        record_kpis(&ids, &result, triage_clock::now_ms());
        let failure = match result {
            Ok(outcome) => {
                log_result(sqs_id, receive_count, &ids, &Ok(outcome), started, "done");
                return true;
            }
            Err(f) => f,
        };
        let deferrals = rec.deferrals();
        let (handled, next) =
            // Waits are delayed copies here: no receive is spent.
            match disposition(failure.setback(now_ms), receive_count, deferrals, now_ms, true) {
                Disposition::DeadLetter => {
                    let letter = DeadLetter::new(
                        failure.code(),
                        &failure.to_string(),
                        receive_count,
                        now_ms,
                    );
                    match redelivery.dead_letter(&rec, &letter).await {
                        Ok(()) => {
                            metrics::counter!("DeadLettered", "Kind" => failure.code())
                                .increment(1);
                            (true, "dead_lettered")
                        }
                        Err(_) => (false, "left_to_queue"),
                    }
                }
                Disposition::RetryAt { counts: true, .. } => (false, "retry"),
                Disposition::RetryAt {
                    at_ms,
                    counts: false,
                } => {
                    let deferrals = match failure {
                        Failure::Throttled { .. } => deferrals.saturating_add(1),
                        _ => deferrals,
                    };
                    match redelivery.put_back(&rec, at_ms, deferrals, now_ms).await {
                        Ok(()) => (true, "put_back"),
                        Err(_) => (false, "left_to_queue"),
                    }
                }
            };
        log_result(sqs_id, receive_count, &ids, &Err(failure), started, next);
        handled
    }
}

/// Where work on a fresh claim must stop: the lease less a margin for the
/// ticket write and completion (a quarter of the lease, at most 5 s).
fn lease_deadline(lease: Duration) -> Instant {
    let margin = (lease / 4).min(Duration::from_secs(5));
    Instant::now() + lease.saturating_sub(margin)
}

/// The API may omit ids the notification had; keep the envelope's.
/// The ids of an envelope, for logs.
fn record_ids(env: &Envelope) -> RecordIds {
    RecordIds {
        notification_id: env.notification_id.clone(),
        grant_id: env.grant_id.clone().unwrap_or_default(),
        message_id: env.message_id.clone().unwrap_or_default(),
        received_at_ms: env.received_at_ms,
    }
}

fn fill_ids(mut m: Message, grant: &str, id: &str) -> Message {
    if m.grant_id.is_empty() {
        m.grant_id = grant.to_string();
    }
    if m.id.is_empty() {
        m.id = id.to_string();
    }
    m
}

fn log_result(
    sqs_id: &str,
    receive_count: u32,
    ids: &RecordIds,
    result: &Result<Outcome, Failure>,
    started: Instant,
    next: &'static str,
) {
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    match result {
        Ok(outcome) => {
            let (ticket_id, category, queue, priority, reason) = match outcome {
                Outcome::Created {
                    ticket_id,
                    classification: c,
                    ..
                } => (
                    ticket_id.as_str(),
                    c.category.as_str(),
                    c.queue.as_str(),
                    c.priority.as_str(),
                    "",
                ),
                Outcome::Appended { ticket_id, .. } | Outcome::AlreadyRecorded { ticket_id } => {
                    (ticket_id.as_str(), "", "", "", "")
                }
                Outcome::Skipped { reason } => ("", "", "", "", reason.code()),
                Outcome::Duplicate { .. } | Outcome::Gone => ("", "", "", "", ""),
            };
            // An append says which signal joined it (`thread_id`, `subject`...).
            let signal = match outcome {
                Outcome::Appended { signal, .. } => signal.as_str(),
                _ => "",
            };
            tracing::info!(
                sqs_message_id = %Escaped(sqs_id),
                notification_id = %Escaped(&ids.notification_id),
                grant_id = %Escaped(&ids.grant_id),
                message_id = %Escaped(&ids.message_id),
                outcome = outcome.code(),
                reason,
                ticket_id,
                category,
                queue,
                priority,
                signal,
                duration_us,
                "record handled"
            );
        }
        Err(failure) => {
            tracing::warn!(
                sqs_message_id = %Escaped(sqs_id),
                receive_count,
                notification_id = %Escaped(&ids.notification_id),
                grant_id = %Escaped(&ids.grant_id),
                message_id = %Escaped(&ids.message_id),
                outcome = "failed",
                failure = failure.code(),
                reason = %Escaped(&failure.to_string()),
                next,
                duration_us,
                "record failed"
            );
        }
    }
}

/// Business metrics (CloudWatch EMF in Lambda; no-ops where no recorder is
/// installed). Dimensions are low-cardinality: category, priority, reason.
pub fn record_metrics(result: &Result<Outcome, Failure>) {
    match result {
        Ok(Outcome::Created { classification, .. }) => {
            metrics::counter!(
                "TicketsCreated",
                "Category" => classification.category.clone(),
                "Priority" => classification.priority.as_str()
            )
            .increment(1);
        }
        Ok(Outcome::Appended { .. }) => metrics::counter!("TicketsAppended").increment(1),
        Ok(Outcome::AlreadyRecorded { .. } | Outcome::Duplicate { .. }) => {
            metrics::counter!("Duplicates").increment(1);
        }
        Ok(Outcome::Skipped { reason }) => {
            metrics::counter!("Skipped", "Reason" => reason.code()).increment(1);
        }
        Ok(Outcome::Gone) => metrics::counter!("MessagesGone").increment(1),
        Err(f) => metrics::counter!("RecordFailures", "Kind" => f.code()).increment(1),
    }
}

/// The worker half of the KPIs (`core::kpi`): `MailboxTriaged` per grant
/// for every record finished (ingest counts `MailboxReceived`), and
/// `TimeToTicketMs` (ingest to the ticket write) for tickets created or
/// appended to. `now_ms`: when the record finished.
pub fn record_kpis(ids: &RecordIds, result: &Result<Outcome, Failure>, now_ms: i64) {
    let Ok(outcome) = result else {
        return;
    };
    metrics::counter!("MailboxTriaged", "Grant" => ids.grant_id.clone()).increment(1);
    if matches!(outcome, Outcome::Created { .. } | Outcome::Appended { .. })
        && let Some(ms) = triage_core::kpi::time_to_ticket_ms(ids.received_at_ms, now_ms)
    {
        metrics::histogram!("TimeToTicketMs").record(ms as f64);
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

/// Folder roles are looked up per grant; exposed for tests of the wiring.
pub type FolderRoles = HashMap<String, FolderRole>;
