//! [`S3RawMail`] against moto's S3 on loopback (started by infra/test.sh,
//! or `eval "$(infra/local/up.sh)"`). Each test makes its own bucket.
//! Without `AWS_ENDPOINT_URL` these tests fail, they never skip.
//!
//! moto answers ranged `GetObject`s like S3: 206 with `Content-Range` when
//! the range is satisfiable (also for an object smaller than the range), 404
//! `NoSuchKey`, 416 `InvalidRange` for an empty object. It never answers a
//! ranged read with 200 and the whole object (which S3 may do for an object
//! smaller than the range), so the size from `Content-Length` is covered by
//! the unit tests of `range.rs` only.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use triage_core::ports::{FetchError, ObjectLocation, RawMailStore, RawObject};
use triage_s3::S3RawMail;
use triage_testkit::{config_for, fixture, moto_config, unique_name};

/// The store and a fresh bucket.
async fn env() -> (S3RawMail, String) {
    let sdk = moto_config().await;
    let store = S3RawMail::new(&sdk);
    let bucket = unique_name("raw-mail");
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket: {e:?}"));
    (store, bucket)
}

async fn put(store: &S3RawMail, bucket: &str, key: &str, body: Vec<u8>) {
    store
        .client()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put object: {e:?}"));
}

fn at(bucket: &str, key: &str) -> ObjectLocation {
    ObjectLocation {
        bucket: bucket.into(),
        key: key.into(),
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

async fn fetch(
    store: &S3RawMail,
    bucket: &str,
    key: &str,
    max_bytes: usize,
) -> Result<Option<RawObject>, FetchError> {
    store.fetch_raw(&at(bucket, key), max_bytes, soon()).await
}

/// Bytes that differ at every position (a shifted read would show).
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn a_small_object_comes_back_whole() {
    let (store, bucket) = env().await;
    let body = b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n".to_vec();
    put(&store, &bucket, "inbound/small", body.clone()).await;

    let got = fetch(&store, &bucket, "inbound/small", 1 << 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes, body);
    assert_eq!(got.size, body.len() as u64);
    assert!(!got.truncated());
}

#[tokio::test]
async fn a_larger_object_stops_at_the_cap() {
    let (store, bucket) = env().await;
    let body = pattern(300_000);
    put(&store, &bucket, "inbound/large", body.clone()).await;

    let got = fetch(&store, &bucket, "inbound/large", 100_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes.len(), 100_000);
    assert_eq!(got.bytes, body[..100_000]);
    assert_eq!(got.size, 300_000);
    assert!(got.truncated());

    // A cap of one byte.
    let got = fetch(&store, &bucket, "inbound/large", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes, body[..1]);
    assert_eq!(got.size, 300_000);
    assert!(got.truncated());
}

#[tokio::test]
async fn objects_at_the_cap_and_one_byte_over() {
    let (store, bucket) = env().await;
    let cap = 4096;
    let at_cap = pattern(cap);
    let over = pattern(cap + 1);
    put(&store, &bucket, "at-cap", at_cap.clone()).await;
    put(&store, &bucket, "over", over.clone()).await;

    let got = fetch(&store, &bucket, "at-cap", cap)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes, at_cap);
    assert_eq!(got.size, cap as u64);
    assert!(!got.truncated());

    let got = fetch(&store, &bucket, "over", cap).await.unwrap().unwrap();
    assert_eq!(got.bytes, over[..cap]);
    assert_eq!(got.size, cap as u64 + 1);
    assert!(got.truncated());

    // One byte under the cap: the range reaches past the object's end.
    let got = fetch(&store, &bucket, "at-cap", cap + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes, at_cap);
    assert!(!got.truncated());
}

#[tokio::test]
async fn a_missing_key_is_none_and_a_missing_bucket_is_permanent() {
    let (store, bucket) = env().await;
    let key = "inbound/someone@example.com/gone";
    assert_eq!(fetch(&store, &bucket, key, 1024).await, Ok(None));

    let no_bucket = unique_name("no-such-bucket");
    let err = fetch(&store, &no_bucket, key, 1024).await.unwrap_err();
    let FetchError::Permanent(detail) = &err else {
        panic!("a missing bucket is permanent: {err:?}");
    };
    assert!(detail.contains("NoSuchBucket"), "{detail}");
    // Neither the key (it can hold an address) nor the bucket is in it.
    let shown = err.to_string();
    assert!(!shown.contains("someone"), "{shown}");
    assert!(!shown.contains(&no_bucket), "{shown}");
}

#[tokio::test]
async fn an_empty_object() {
    let (store, bucket) = env().await;
    put(&store, &bucket, "empty", Vec::new()).await;

    let got = fetch(&store, &bucket, "empty", 1024)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        RawObject {
            bytes: vec![],
            size: 0
        }
    );
    assert!(!got.truncated());
}

#[tokio::test]
async fn a_cap_of_zero_reads_the_size_only() {
    let (store, bucket) = env().await;
    put(&store, &bucket, "some", pattern(1000)).await;
    put(&store, &bucket, "empty", Vec::new()).await;

    let got = fetch(&store, &bucket, "some", 0).await.unwrap().unwrap();
    assert!(got.bytes.is_empty());
    assert_eq!(got.size, 1000);
    assert!(got.truncated());

    let got = fetch(&store, &bucket, "empty", 0).await.unwrap().unwrap();
    assert_eq!(got.size, 0);
    assert!(!got.truncated());
    assert_eq!(fetch(&store, &bucket, "missing", 0).await, Ok(None));
}

#[tokio::test]
async fn keys_with_spaces_and_non_ascii_characters() {
    let (store, bucket) = env().await;
    // The port receives keys decoded (S3 event notifications URL-encode
    // them); the SDK encodes them again on the way out.
    let key = "inbound/Zoë Müller — Straße/résumé 2024 (1).eml";
    let body = "Subject: Grüße\r\n\r\nÇa va ?\r\n".as_bytes().to_vec();
    put(&store, &bucket, key, body.clone()).await;

    let got = fetch(&store, &bucket, key, 1 << 20).await.unwrap().unwrap();
    assert_eq!(got.bytes, body);
    assert!(!got.truncated());
    // The same name, encoded, is another key.
    let encoded = "inbound/Zo%C3%AB%20M%C3%BCller";
    assert_eq!(fetch(&store, &bucket, encoded, 1024).await, Ok(None));
}

#[tokio::test]
async fn a_raw_email_fixture_round_trips() {
    let (store, bucket) = env().await;
    // 240 KB with 8-bit (KOI8-R / Windows-1251) bytes in its body.
    let raw = std::fs::read(fixture("email/normal/russian-attachment-yahoo.eml")).unwrap();
    put(&store, &bucket, "inbound/yahoo", raw.clone()).await;

    let got = fetch(&store, &bucket, "inbound/yahoo", 10 << 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.size, raw.len() as u64);
    assert!(got.bytes == raw, "byte-exact");
    assert!(!got.truncated());
}

#[tokio::test]
async fn a_large_fixture_read_in_chunks_stops_at_the_cap() {
    let (store, bucket) = env().await;
    // 1.8 MB: the body arrives in many chunks, the last one cut.
    let raw = std::fs::read(fixture("email/normal/torture.eml")).unwrap();
    put(&store, &bucket, "inbound/torture", raw.clone()).await;

    let cap = 1_000_003;
    let got = fetch(&store, &bucket, "inbound/torture", cap)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes.len(), cap);
    assert!(got.bytes == raw[..cap], "the first bytes, exactly");
    assert_eq!(got.size, raw.len() as u64);
    assert!(got.truncated());
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn a_deadline_already_passed_is_transient() {
    let (store, bucket) = env().await;
    put(&store, &bucket, "k", pattern(10)).await;
    let err = store
        .fetch_raw(&at(&bucket, "k"), 1024, Instant::now())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Transient(_)), "{err:?}");
}

/// A server that accepts connections and never answers: the deadline ends
/// the call.
#[tokio::test]
async fn a_silent_server_is_transient_at_the_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let store = S3RawMail::new(&config_for(&format!("http://127.0.0.1:{port}")).await);

    let started = Instant::now();
    let err = store
        .fetch_raw(
            &at("bucket", "key"),
            1024,
            started + Duration::from_millis(500),
        )
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, FetchError::Transient(_)), "{err:?}");
    assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    drop(listener);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_transient() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sdk =
        triage_s3::with_short_timeouts(&config_for(&format!("http://127.0.0.1:{port}")).await);
    let store = S3RawMail::new(&sdk);
    let err = store
        .fetch_raw(&at("bucket", "key"), 1024, soon())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Transient(_)), "{err:?}");
}
