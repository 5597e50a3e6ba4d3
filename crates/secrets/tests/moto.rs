//! Secrets Manager against moto on loopback (started by infra/test.sh).

use triage_secrets::{SecretError, SecretsReader};
use triage_testkit::{moto_config, unique_name};

#[tokio::test]
async fn reads_writes_and_names_errors() {
    let sdk = moto_config().await;
    let admin = aws_sdk_secretsmanager::Client::new(&sdk);
    let reader = SecretsReader::new(&sdk);

    let name = unique_name("webhook-secret");
    let arn = admin
        .create_secret()
        .name(&name)
        .secret_string("old,new")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    assert_eq!(reader.read_string(&arn).await.unwrap(), "old,new");
    assert_eq!(reader.read_string(&name).await.unwrap(), "old,new");

    reader.write_string(&arn, "rotated").await.unwrap();
    assert_eq!(reader.read_string(&arn).await.unwrap(), "rotated");

    let missing = reader.read_string("no-such-secret-xyz").await.unwrap_err();
    assert!(
        matches!(missing, SecretError::NotFound { .. }),
        "{missing:?}"
    );

    let empty = unique_name("empty-secret");
    admin
        .create_secret()
        .name(&empty)
        .secret_string(" ")
        .send()
        .await
        .unwrap();
    assert!(matches!(
        reader.read_string(&empty).await.unwrap_err(),
        SecretError::Empty { .. }
    ));
}
