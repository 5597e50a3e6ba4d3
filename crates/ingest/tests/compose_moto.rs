//! Building the endpoints from Secrets Manager (moto on loopback, started
//! by `infra/test.sh`): ARNs are read, a secret the stack created empty
//! leaves only its provider unserved, and nothing to serve is an error.

use triage_ingest::WebhookConfig;
use triage_ingest::compose::{ComposeError, endpoints};
use triage_secrets::{SecretResolver, SecretSpec};
use triage_testkit::{moto_config, unique_name};

async fn secret(client: &aws_sdk_secretsmanager::Client, value: Option<&str>) -> String {
    let mut req = client.create_secret().name(unique_name("inbound"));
    if let Some(v) = value {
        req = req.secret_string(v);
    }
    req.send().await.unwrap().arn().unwrap().to_string()
}

fn arn(a: &str) -> Option<SecretSpec> {
    Some(SecretSpec::SecretsManager { arn: a.to_string() })
}

#[tokio::test]
async fn arns_are_read_and_an_unfilled_secret_leaves_only_its_provider_out() {
    let sdk = moto_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let resolver = SecretResolver::with_sdk(&sdk);
    let nylas = secret(&sm, Some("nylas-secret")).await;
    let inbound = secret(&sm, Some("whsec_AAAA, plain")).await;
    let empty = secret(&sm, None).await;

    let config = WebhookConfig {
        nylas: arn(&nylas),
        inbound: arn(&inbound),
        tolerance_s: 300,
    };
    let c = endpoints(&config, &resolver, None).await.unwrap();
    let served: Vec<&str> = c.endpoints.iter().map(|e| e.provider.name()).collect();
    assert_eq!(served, ["nylas", "inbound"]);
    assert_eq!(c.endpoints[1].keys.secrets.len(), 2);

    // The stack created the inbound secret and nobody filled it yet.
    let config = WebhookConfig {
        inbound: arn(&empty),
        ..config
    };
    let c = endpoints(&config, &resolver, None).await.unwrap();
    let served: Vec<&str> = c.endpoints.iter().map(|e| e.provider.name()).collect();
    assert_eq!(served, ["nylas"]);
    assert_eq!(c.secret_unset, ["inbound"]);

    // Nothing usable at all: the function must not start.
    let config = WebhookConfig {
        nylas: arn(&empty),
        ..config
    };
    assert!(matches!(
        endpoints(&config, &resolver, None).await,
        Err(ComposeError::NothingToServe)
    ));
}
