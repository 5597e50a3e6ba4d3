//! `triage webhooks`: register the Nylas webhook, list destinations, send a
//! test event, rotate the secret, all without ever printing a secret.
//!
//! The webhook secret lives in the stack's Secrets Manager secret as a
//! comma-separated list (ingest accepts any entry): `register` writes the
//! one Nylas returns, `rotate` writes `NEW,OLD`, `rotate --finish` keeps
//! `NEW`. Ingest follows each change by itself: it reads the list again
//! when its copy is a minute old, and at once (rate-limited) when a
//! signature fails with its copy (`triage_ingest::keyring`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use serde_json::json;
use triage_nylas::{
    ADMIN_REQUEST_TIMEOUT, AdminError, NylasConfig, NylasError, WebhookAdmin, WebhookSecret,
};
use triage_secrets::{SecretError, SecretsReader};

use crate::error::CliError;

/// The trigger ingest queues (ENQUEUE_TYPES default).
pub const TRIGGER: &str = "message.created";

/// Attempts at storing a secret Nylas has just issued (it cannot be asked again).
const STORE_ATTEMPTS: u32 = 3;

const FOLLOW_NOTE: &str = "nothing to reload: ingest reads the stored list again within a \
     minute, and at once on the first delivery it cannot verify with its copy (a local `triage \
     serve` given NYLAS_WEBHOOK_SECRET inline: restart it with the new list)";

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// Create the Nylas webhook (trigger message.created) and store its secret in Secrets Manager.
    #[command(
        long_about = "Creates a Nylas webhook destination for message.created at --url and writes the \
                      webhook_secret Nylas returns into the stack's Secrets Manager secret, which \
                      ingest reads. Prints the webhook id, never the secret.\n\n\
                      Chicken and egg: Nylas checks the URL while creating the webhook, with \
                      GET <url>?challenge=..., and creates nothing unless the echo comes back \
                      within 10 s. Ingest answers challenges without needing the secret, so \
                      registering works as long as ingest is deployed and running (it refuses to \
                      start on an empty secret: put a placeholder value first). Deliveries are \
                      signed with the new secret at once; the first one ingest cannot verify with \
                      its copy makes it read the stored secret again, so no reload is needed.\n\n\
                      The API key comes from the Secrets Manager secret NYLAS_API_KEY_ARN, else \
                      from NYLAS_API_KEY; the API host from NYLAS_API_URI (default \
                      https://api.us.nylas.com).",
        after_help = "Examples:\n  triage webhooks register --url https://abc.execute-api.us-east-1.amazonaws.com/webhooks/nylas \\\n    --secret-arn arn:aws:secretsmanager:us-east-1:123456789012:secret:inbox-triage/nylas-webhook-secret-AbCdEf \\\n    --notify ops@example.com"
    )]
    Register {
        /// The public webhook URL (the stack's WebhookUrl output).
        #[arg(long)]
        url: String,
        /// The Secrets Manager secret ingest reads.
        #[arg(long, env = "NYLAS_WEBHOOK_SECRET_ARN")]
        secret_arn: String,
        /// An address Nylas mails when the webhook is failing (repeatable).
        #[arg(long = "notify", value_name = "EMAIL")]
        notify: Vec<String>,
    },
    /// List the application's webhook destinations (id, status, URL, triggers).
    #[command(after_help = "Examples:\n  triage webhooks list\n  triage webhooks list --json")]
    List,
    /// Ask Nylas to send a test notification to a URL.
    #[command(
        long_about = "Asks Nylas to send one test notification to --url \
                      (POST /v3/webhooks/send-test-event) and prints what Nylas answered.\n\n\
                      Nylas signs test events with its documented `mock-webhook-secret`, not with \
                      the webhook's secret: ingest answers them 401 unless that value is in its \
                      list. A 401 in ingest's logs still proves the endpoint is reachable.",
        after_help = "Examples:\n  triage webhooks test --url https://abc.execute-api.us-east-1.amazonaws.com/webhooks/nylas\n  triage webhooks test --url http://127.0.0.1:3000/webhooks/nylas --trigger message.created.truncated"
    )]
    Test {
        #[arg(long)]
        url: String,
        /// The trigger type of the test notification.
        #[arg(long, default_value = TRIGGER)]
        trigger: String,
    },
    /// Rotate the webhook secret (--id), then drop the old one (--finish).
    #[command(
        long_about = "Step 1, `rotate --id ID`: reads the current secret list, asks Nylas for a new \
                      secret (Nylas signs with it at once and forgets the old one) and writes \
                      `NEW,OLD` so ingest accepts both: deliveries signed before the rotation and \
                      retried later still verify. Ingest reads the new list on the first \
                      delivery signed with the new secret (and every minute): nothing to reload.\n\n\
                      Step 2, `rotate --finish`: once deliveries signed with the new secret are \
                      verified (no 401s from ingest, the webhook stays active), keeps only the \
                      first (newest) secret. Within a minute ingest stops accepting the old one.\n\n\
                      Nothing is rotated when the current list cannot be read. Secrets are never \
                      printed.",
        after_help = "Examples:\n  triage webhooks rotate --id 7a1b2c3d-... \n  triage webhooks rotate --finish\n  triage webhooks rotate --finish --secret-arn arn:aws:secretsmanager:...:secret:inbox-triage/nylas-webhook-secret-AbCdEf"
    )]
    Rotate {
        /// The webhook destination id (see `triage webhooks list`).
        #[arg(long, required_unless_present = "finish", conflicts_with = "finish")]
        id: Option<String>,
        /// Keep only the newest secret.
        #[arg(long)]
        finish: bool,
        /// The Secrets Manager secret ingest reads.
        #[arg(long, env = "NYLAS_WEBHOOK_SECRET_ARN")]
        secret_arn: String,
    },
}

/// Why a `triage webhooks` step failed. Each message says what was done
/// already (a webhook created, a secret issued) and how to recover; none
/// carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    /// The API key could not be read from its Secrets Manager secret.
    #[error("NYLAS_API_KEY: {0}")]
    ApiKey(#[source] SecretError),
    /// The admin client cannot be built from the configuration.
    #[error("Nylas client: {0}")]
    Client(#[source] NylasError),
    /// A Nylas admin call failed; `what` names it.
    #[error("{what}: {source}{}", admin_hint(.source))]
    Api {
        what: &'static str,
        #[source]
        source: AdminError,
    },
    /// `register`: the secret ingest reads is missing or has no value yet.
    #[error(
        "secret {arn} was not found or has no value yet; nothing was created. Put a \
         placeholder first (ingest refuses to start without one and must be running to \
         answer Nylas' challenge):\n  aws secretsmanager put-secret-value --secret-id {arn} \
         --secret-string \"placeholder-$(date +%s)\""
    )]
    NoSecretYet { arn: String },
    /// `register`: the secret list cannot be read.
    #[error("{0}; nothing was created")]
    UnreadBeforeCreate(#[source] SecretError),
    /// `register`: Nylas issued a secret the list format cannot hold.
    #[error(
        "webhook {id} was created, but its secret cannot be stored as one entry of a \
         comma-separated list; get another with `triage webhooks rotate --id {id}`"
    )]
    CreatedUnstorable { id: String },
    /// `register`: the webhook exists but its secret could not be written.
    #[error(
        "webhook {id} was created, but its secret could not be stored ({source}); it was not \
         printed. Once {arn} is writable, run `triage webhooks rotate --id {id} --secret-arn \
         {arn}` for a fresh secret stored the same way"
    )]
    CreatedNotStored {
        id: String,
        arn: String,
        #[source]
        source: SecretError,
    },
    /// `rotate`: the secret list cannot be read.
    #[error("cannot read the current secrets ({0}); nothing was rotated")]
    UnreadBeforeRotate(#[source] SecretError),
    /// `rotate`: Nylas issued a secret the list format cannot hold.
    #[error(
        "Nylas issued a secret for webhook {id} that cannot be stored as one entry of a \
         comma-separated list; run this command again for another"
    )]
    RotatedUnstorable { id: String },
    /// `rotate`: Nylas signs with the new secret, which could not be written.
    #[error(
        "Nylas now signs webhook {id}'s deliveries with a new secret that could not be \
         stored ({source}); it was not printed. Once {arn} is writable, run this command again \
         (each rotation issues a fresh secret)"
    )]
    RotatedNotStored {
        id: String,
        arn: String,
        #[source]
        source: SecretError,
    },
    /// `rotate --finish`: the secret list cannot be read.
    #[error("cannot read the current secrets: {0}")]
    UnreadBeforeFinish(#[source] SecretError),
    /// `rotate --finish`: the list is empty.
    #[error("{arn} holds no secret: nothing to finish")]
    NothingToFinish { arn: String },
    /// `rotate --finish`: the shortened list could not be written.
    #[error("could not store the newest secret alone: {0}")]
    NotStoredOnFinish(#[source] SecretError),
}

pub async fn run(command: WebhooksCommand, json: bool) -> Result<ExitCode, CliError> {
    match command {
        WebhooksCommand::Register {
            url,
            secret_arn,
            notify,
        } => register(&url, &secret_arn, &notify, json).await,
        WebhooksCommand::List => list(json).await,
        WebhooksCommand::Test { url, trigger } => test(&url, &trigger, json).await,
        WebhooksCommand::Rotate {
            id: Some(id),
            finish: false,
            secret_arn,
        } => rotate(&id, &secret_arn, json).await,
        WebhooksCommand::Rotate {
            finish: true,
            secret_arn,
            ..
        } => finish(&secret_arn, json).await,
        WebhooksCommand::Rotate { .. } => Err(CliError::Usage("rotate needs --id ID or --finish")),
    }
}

async fn sdk() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The admin client: the key and host read as the worker reads them
/// (`NYLAS_API_KEY_ARN` wins over `NYLAS_API_KEY`; `NYLAS_API_URI`).
async fn admin(sdk: &aws_config::SdkConfig) -> Result<WebhookAdmin, CliError> {
    let processing = crate::app::processing()?;
    let Some(spec) = &processing.nylas_api_key else {
        return Err(CliError::NoNylasApiKey(
            "set NYLAS_API_KEY, or NYLAS_API_KEY_ARN (a Secrets Manager secret holding the key)",
        ));
    };
    let key = triage_secrets::SecretResolver::with_sdk(sdk)
        .resolve(spec)
        .await
        .map_err(WebhooksError::ApiKey)?;
    let config = NylasConfig {
        request_timeout: ADMIN_REQUEST_TIMEOUT,
        base_url: processing.nylas_api_uri,
        ..NylasConfig::new(key.trim())
    };
    Ok(WebhookAdmin::new(config).map_err(WebhooksError::Client)?)
}

/// What to check after a failed admin call, appended to its message.
fn admin_hint(e: &AdminError) -> &'static str {
    match e {
        AdminError::Nylas(NylasError::Rejected { status: 401, .. }) => {
            ": check the API key (NYLAS_API_KEY / NYLAS_API_KEY_ARN) and the region (NYLAS_API_URI)"
        }
        AdminError::CreateUnconfirmed { .. } => ": run `triage webhooks list` before retrying",
        _ => "",
    }
}

/// A failed admin call, named by `what`.
fn api_error(what: &'static str) -> impl FnOnce(AdminError) -> WebhooksError {
    move |source| WebhooksError::Api { what, source }
}

/// The entries of a comma-separated secret list, as ingest parses it.
fn entries(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A secret must survive the list format unchanged.
fn storable(secret: &WebhookSecret) -> bool {
    let s = secret.expose();
    !s.is_empty() && !s.contains(',') && s.trim() == s
}

/// The current list; `Ok(empty)` when the secret exists without a value.
async fn current_list(reader: &SecretsReader, arn: &str) -> Result<Vec<String>, SecretError> {
    match reader.read_string(arn).await {
        Ok(value) => Ok(entries(&value)),
        Err(SecretError::Empty { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Writes a list, a few times if needed: a secret Nylas has just issued is
/// not given again.
async fn store(reader: &SecretsReader, arn: &str, list: &[&str]) -> Result<(), SecretError> {
    let value = list.join(",");
    let mut attempt = 1;
    loop {
        match reader.write_string(arn, &value).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= STORE_ATTEMPTS => return Err(e),
            Err(e) => {
                tracing::warn!(attempt, error = %e, "storing the webhook secret failed, retrying");
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                attempt += 1;
            }
        }
    }
}

fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

async fn register(
    url: &str,
    arn: &str,
    notify: &[String],
    json: bool,
) -> Result<ExitCode, CliError> {
    let sdk = sdk().await;
    let admin = admin(&sdk).await?;
    let reader = SecretsReader::new(&sdk);
    // Check the secret is there before creating anything: Nylas tells the
    // webhook secret once.
    let previous = match current_list(&reader, arn).await {
        Ok(list) => list.len(),
        Err(SecretError::NotFound { .. }) => {
            return Err(WebhooksError::NoSecretYet {
                arn: arn.to_owned(),
            }
            .into());
        }
        Err(e) => return Err(WebhooksError::UnreadBeforeCreate(e).into()),
    };

    let created = admin
        .create_webhook(url, &[TRIGGER.to_owned()], notify)
        .await
        .map_err(api_error("creating the webhook failed"))?;
    let id = created.id.clone();
    if !storable(&created.webhook_secret) {
        return Err(WebhooksError::CreatedUnstorable { id }.into());
    }
    if let Err(source) = store(&reader, arn, &[created.webhook_secret.expose()]).await {
        return Err(WebhooksError::CreatedNotStored {
            id,
            arn: arn.to_owned(),
            source,
        }
        .into());
    }
    let status = created.status.unwrap_or_else(|| "unknown".into());
    if json {
        print_json(&json!({
            "webhook_id": id,
            "status": status,
            "trigger_types": [TRIGGER],
            "secret_arn": arn,
            "secret_stored": true,
            "replaced_secrets": previous,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    println!("webhook {id} registered (status {status}, trigger {TRIGGER})");
    println!("its secret is stored in {arn} (not shown)");
    if previous > 0 {
        println!(
            "the previous value ({previous} secret(s)) was replaced: a destination still \
             delivering to this endpoint with another secret will now get 401s; remove it \
             (`triage webhooks list`)"
        );
    }
    println!("next: {FOLLOW_NOTE}");
    Ok(ExitCode::SUCCESS)
}

async fn list(json: bool) -> Result<ExitCode, CliError> {
    let sdk = sdk().await;
    let admin = admin(&sdk).await?;
    let hooks = admin
        .list_webhooks()
        .await
        .map_err(api_error("listing webhooks failed"))?;
    if json {
        for h in &hooks {
            print_json(&serde_json::to_value(h)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(vec!["id", "status", "url", "triggers"]);
    for h in &hooks {
        table.add_row(vec![
            h.id.clone(),
            h.status.clone().unwrap_or_default(),
            h.webhook_url.clone(),
            h.trigger_types.join(","),
        ]);
    }
    println!("{table}");
    println!("{} webhook(s)", hooks.len());
    Ok(ExitCode::SUCCESS)
}

async fn test(url: &str, trigger: &str, json: bool) -> Result<ExitCode, CliError> {
    let sdk = sdk().await;
    let admin = admin(&sdk).await?;
    let outcome = admin
        .send_test_event(url, trigger)
        .await
        .map_err(api_error("sending the test event failed"))?;
    if json {
        print_json(&json!({
            "webhook_url": url,
            "trigger_type": trigger,
            "request_id": outcome.request_id,
            "result": outcome.result,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "test event {trigger} sent to {url} (request_id {}, result: {})",
        outcome.request_id.as_deref().unwrap_or("-"),
        outcome.result.as_deref().unwrap_or("-")
    );
    println!(
        "note: Nylas signs test events with `mock-webhook-secret`, so ingest answers them 401 \
         unless that value is in its secret list; the request reaching ingest is what this shows"
    );
    Ok(ExitCode::SUCCESS)
}

async fn rotate(id: &str, arn: &str, json: bool) -> Result<ExitCode, CliError> {
    let sdk = sdk().await;
    let admin = admin(&sdk).await?;
    let reader = SecretsReader::new(&sdk);
    let current = current_list(&reader, arn)
        .await
        .map_err(WebhooksError::UnreadBeforeRotate)?;

    let new = admin
        .rotate_secret(id)
        .await
        .map_err(api_error("rotating the secret failed"))?;
    if !storable(&new) {
        return Err(WebhooksError::RotatedUnstorable { id: id.to_owned() }.into());
    }
    // Nylas signed with the newest entry until now; older ones (an unfinished
    // earlier rotation) are of no use any more.
    let old: Option<&str> = current
        .first()
        .map(String::as_str)
        .filter(|s| *s != new.expose());
    let dropped = current.len().saturating_sub(1);
    let mut list = vec![new.expose()];
    list.extend(old);
    if let Err(source) = store(&reader, arn, &list).await {
        return Err(WebhooksError::RotatedNotStored {
            id: id.to_owned(),
            arn: arn.to_owned(),
            source,
        }
        .into());
    }
    if json {
        print_json(&json!({
            "webhook_id": id,
            "secret_arn": arn,
            "secrets_stored": list.len(),
            "dropped_obsolete": dropped,
            "next": ["triage webhooks rotate --finish"],
        }));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "webhook {id}: secret rotated; {arn} now holds {} secret(s), newest first (not shown)",
        list.len()
    );
    if dropped > 0 {
        println!("dropped {dropped} obsolete secret(s) left by an unfinished rotation");
    }
    println!("next:");
    println!("  1. {FOLLOW_NOTE}");
    println!(
        "  2. once deliveries verify with the new secret (no 401s from ingest, the webhook stays \
         active in `triage webhooks list`): triage webhooks rotate --finish --secret-arn {arn}"
    );
    println!("  3. within a minute of finishing, ingest refuses the old secret");
    Ok(ExitCode::SUCCESS)
}

async fn finish(arn: &str, json: bool) -> Result<ExitCode, CliError> {
    let sdk = sdk().await;
    let reader = SecretsReader::new(&sdk);
    let current = current_list(&reader, arn)
        .await
        .map_err(WebhooksError::UnreadBeforeFinish)?;
    let Some(newest) = current.first() else {
        return Err(WebhooksError::NothingToFinish {
            arn: arn.to_owned(),
        }
        .into());
    };
    let dropped = current.len() - 1;
    if dropped > 0 {
        store(&reader, arn, &[newest.as_str()])
            .await
            .map_err(WebhooksError::NotStoredOnFinish)?;
    }
    if json {
        print_json(&json!({
            "secret_arn": arn,
            "secrets_stored": 1,
            "dropped": dropped,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    if dropped == 0 {
        println!("{arn} holds one secret already: nothing to finish");
    } else {
        println!("kept the newest secret in {arn}, dropped {dropped} (not shown)");
        println!("next: {FOLLOW_NOTE}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_ingest_parsing() {
        assert_eq!(entries(" a , b,,c "), vec!["a", "b", "c"]);
        assert!(entries(" , ").is_empty());
    }

    #[test]
    fn a_failed_admin_call_says_what_to_check() {
        let e = api_error("creating the webhook failed")(AdminError::CreateUnconfirmed {
            attempts: 1,
            last: "timeout".into(),
        });
        let text = e.to_string();
        assert!(text.starts_with("creating the webhook failed: Nylas did not confirm"));
        assert!(text.ends_with(": run `triage webhooks list` before retrying"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn secrets_that_would_break_the_list_are_refused() {
        assert!(storable(&WebhookSecret::new("abc123")));
        assert!(!storable(&WebhookSecret::new("a,b")));
        assert!(!storable(&WebhookSecret::new(" abc")));
        assert!(!storable(&WebhookSecret::new("")));
    }
}
