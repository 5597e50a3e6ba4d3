//! Secret rotation while ingest runs (issue #13, loss path 1), against
//! Secrets Manager and SQS on moto (started by `infra/test.sh`).
//!
//! The sequence is `triage webhooks rotate`'s: `OLD`, then `NEW,OLD`, then
//! `NEW`. Nylas signs with the new secret the moment it is issued and does
//! not retry a 401, so the first delivery signed with it must be accepted
//! without a restart; once the rotation is finished, the old secret must
//! stop verifying within a minute. Time is passed to the handler, so the
//! minute is simulated, not waited for.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method};
use triage_core::ingest::IngestPolicy;
use triage_core::signature::sign_nylas;
use triage_ingest::{IngestState, Keyring, WebhookConfig, handle};
use triage_secrets::{SecretResolver, SecretSpec};
use triage_sqs::SqsQueue;
use triage_testkit::{create_sqs_queue, moto_config, unique_name};

const T0: i64 = 1_763_870_400_000;

fn notification(n: u32) -> String {
    serde_json::json!({
        "specversion": "1.0", "type": "message.created", "source": "/google/emails/realtime",
        "id": format!("n-rot-{n}"), "time": 1763870400,
        "data": {"application_id": "app", "object": {
            "id": format!("m-rot-{n}"), "grant_id": "grant-rot", "object": "message",
            "thread_id": "t-rot", "subject": "Cannot log in",
            "from": [{"email": "customer@client.example"}],
            "to": [{"email": "support@example.com"}], "date": 1763870395,
            "folders": ["INBOX"], "body": "<p>Hello</p>"
        }}
    })
    .to_string()
}

struct Rig {
    sm: aws_sdk_secretsmanager::Client,
    arn: String,
    state: IngestState<SqsQueue>,
    n: u32,
}

impl Rig {
    async fn new(first: &str) -> Rig {
        let sdk = moto_config().await;
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let arn = sm
            .create_secret()
            .name(unique_name("nylas-rotation"))
            .secret_string(first)
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string();
        let config = WebhookConfig {
            nylas: Some(SecretSpec::SecretsManager { arn: arn.clone() }),
            inbound: None,
            tolerance_s: 300,
        };
        let (endpoints, _) = Keyring::load(config, SecretResolver::with_sdk(&sdk), None, T0)
            .await
            .unwrap();
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let url = create_sqs_queue(&sqs, "rotation").await;
        Rig {
            sm,
            arn,
            state: IngestState {
                policy: IngestPolicy::default(),
                endpoints,
                queue: SqsQueue::new(&sdk, url, Duration::from_secs(3)),
            },
            n: 0,
        }
    }

    /// What `triage webhooks rotate` does to the stored list.
    async fn store(&self, list: &str) {
        self.sm
            .put_secret_value()
            .secret_id(&self.arn)
            .secret_string(list)
            .send()
            .await
            .unwrap();
    }

    /// POST a notification signed with `secret` at `T0 + at_s` seconds.
    async fn post(&mut self, secret: &str, at_s: i64) -> u16 {
        self.n += 1;
        let body = notification(self.n);
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "x-nylas-signature",
            HeaderValue::from_str(&sign_nylas(secret.as_bytes(), body.as_bytes())).unwrap(),
        );
        handle(
            &self.state,
            &Method::POST,
            "/webhooks/nylas",
            None,
            &headers,
            body.as_bytes(),
            T0 + at_s * 1000,
        )
        .await
        .status
    }
}

#[tokio::test]
async fn a_rotation_is_followed_without_a_restart_and_the_old_secret_stops_within_a_minute() {
    let mut rig = Rig::new("old-secret").await;
    assert_eq!(rig.post("old-secret", 1).await, 200);

    // Step 1: Nylas issued a new secret and signs with it from now on.
    rig.store("new-secret,old-secret").await;
    assert_eq!(
        rig.post("new-secret", 10).await,
        200,
        "the first delivery signed with the new secret reads the list again"
    );
    assert_eq!(rig.post("old-secret", 11).await, 200, "retries of old ones");

    // Step 2: `rotate --finish` keeps only the new secret.
    rig.store("new-secret").await;
    assert_eq!(
        rig.post("old-secret", 12).await,
        200,
        "cached for up to a minute"
    );
    assert_eq!(
        rig.post("old-secret", 70).await,
        401,
        "a minute after the last read the old secret is refused"
    );
    assert_eq!(rig.post("new-secret", 71).await, 200);
}

#[tokio::test]
async fn bad_signatures_read_the_list_at_most_once_per_gap() {
    let mut rig = Rig::new("first").await;
    assert_eq!(rig.post("forged", 10).await, 401, "reads, still refused");
    rig.store("second").await;
    // The read forced at 10 s covers the next 5 s: a flood of bad
    // signatures is not a flood of Secrets Manager calls.
    assert_eq!(rig.post("second", 12).await, 401);
    assert_eq!(rig.post("second", 15).await, 200, "the gap is over");
}

#[tokio::test]
async fn a_list_that_cannot_be_read_again_keeps_the_last_one_served() {
    let mut rig = Rig::new("kept").await;
    rig.sm
        .delete_secret()
        .secret_id(&rig.arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    assert_eq!(rig.post("kept", 61).await, 200, "stale read failed: keep");
    assert_eq!(rig.post("kept", 200).await, 200);
}

#[tokio::test]
async fn a_secret_filled_after_start_is_served_within_a_minute() {
    let sdk = moto_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn_of = |out: aws_sdk_secretsmanager::operation::create_secret::CreateSecretOutput| {
        out.arn().unwrap().to_string()
    };
    let nylas = arn_of(
        sm.create_secret()
            .name(unique_name("nylas-filled"))
            .secret_string("nylas-secret")
            .send()
            .await
            .unwrap(),
    );
    // The stack creates the inbound secret empty.
    let inbound = arn_of(
        sm.create_secret()
            .name(unique_name("inbound-empty"))
            .send()
            .await
            .unwrap(),
    );
    let config = WebhookConfig {
        nylas: Some(SecretSpec::SecretsManager { arn: nylas }),
        inbound: Some(SecretSpec::SecretsManager {
            arn: inbound.clone(),
        }),
        tolerance_s: 300,
    };
    let (keyring, composed) = Keyring::load(config, SecretResolver::with_sdk(&sdk), None, T0)
        .await
        .unwrap();
    assert_eq!(composed.secret_unset, ["inbound"]);
    assert!(
        keyring
            .current(T0 + 1_000)
            .await
            .endpoint("/webhooks/inbound")
            .is_none()
    );
    sm.put_secret_value()
        .secret_id(&inbound)
        .secret_string("whsec_AAAA")
        .send()
        .await
        .unwrap();
    let later = keyring.current(T0 + 60_000).await;
    assert!(later.endpoint("/webhooks/inbound").is_some());
}
