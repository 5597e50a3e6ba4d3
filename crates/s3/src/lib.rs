//! Amazon S3 adapter: the core's [`RawMailStore`] over `GetObject`, for the
//! raw messages Amazon SES receiving writes to a bucket (#16).
//!
//! [`S3RawMail::fetch_raw`] sends one `GetObject` with
//! `Range: bytes=0-{max_bytes - 1}` and reads the body up to `max_bytes`,
//! never holding more: a larger object comes back truncated with its whole
//! size, so the caller can tell (`RawObject::truncated`). `max_bytes == 0`
//! is not an error: it asks for the first byte (HTTP has no empty range)
//! and keeps none, so the answer is the object's existence and size.
//! The whole call, body included, stops at the caller's deadline.
//!
//! # Layout
//!
//! - `lib.rs`: [`S3RawMail`] (construction, the read), [`short_timeouts`].
//! - `range.rs`: the `Range` asked for and the object's size from
//!   `Content-Range` (206) or `Content-Length` (200).
//! - `error.rs`: SDK errors to the port's answers: `NoSuchKey`/404 is
//!   `Ok(None)`, `InvalidRange`/416 an empty object; throttling
//!   (`SlowDown`), 5xx, `RequestTimeout`, timeouts and connection failures
//!   are `Transient`; access denied, a missing bucket and other 4xx are
//!   `Permanent`.
//!
//! Construction takes an [`SdkConfig`] the caller built (region,
//! credentials, endpoint): this crate reads no environment. With an
//! endpoint override (`AWS_ENDPOINT_URL`: moto, LocalStack, MinIO) the
//! client uses path-style addressing (`http://host/bucket/key`), which
//! emulators need; against AWS it keeps the SDK's virtual-hosted style.
//! For a Lambda, bound each attempt with [`with_short_timeouts`].
//!
//! Permissions: `s3:GetObject` on the objects, and `s3:ListBucket` on the
//! bucket so that a missing object is a 404 (`Ok(None)`); without it S3
//! answers 403 for a missing key, which is `Permanent`.
//!
//! Nothing from the object is logged, nor its bucket or key (a key can
//! hold an address): logs and errors carry sizes, HTTP statuses and error
//! codes only.

mod error;
mod range;

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use triage_core::ports::{FetchError, ObjectLocation, RawMailStore, RawObject};

use crate::error::{Failure, map_get_object_error};

/// Whole-operation timeout of [`short_timeouts`]: until the answer's
/// headers, retries included (the body is bounded by the caller's deadline).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// Per-attempt timeout of [`short_timeouts`].
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Connect timeout of [`short_timeouts`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Short timeouts for S3 calls from a Lambda: 5 s per operation (retries
/// included), 2 s per attempt, 500 ms to connect.
pub fn short_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_timeout(OPERATION_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// `sdk` with [`short_timeouts`]; pass the result to [`S3RawMail::new`].
pub fn with_short_timeouts(sdk: &SdkConfig) -> SdkConfig {
    sdk.to_builder().timeout_config(short_timeouts()).build()
}

/// Raw messages read from S3 objects through one long-lived client.
#[derive(Debug, Clone)]
pub struct S3RawMail {
    client: Client,
}

impl S3RawMail {
    /// Build the client once (at init). Path-style addressing when `sdk`
    /// has an endpoint override (emulators), the SDK's default otherwise.
    pub fn new(sdk: &SdkConfig) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        S3RawMail {
            client: Client::from_conf(conf),
        }
    }

    /// Use a client the caller configured (addressing style included).
    pub fn from_client(client: Client) -> Self {
        S3RawMail { client }
    }

    /// The underlying client (admin tools, tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The read without the deadline: one ranged `GetObject`, then the body
    /// up to `max_bytes`.
    async fn read(
        &self,
        at: &ObjectLocation,
        max_bytes: usize,
    ) -> Result<Option<RawObject>, FetchError> {
        let answer = self
            .client
            .get_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .range(range::range_header(max_bytes))
            .send()
            .await;
        let mut out = match answer {
            Ok(out) => out,
            Err(e) => {
                return match map_get_object_error(&e) {
                    Failure::Missing => Ok(None),
                    Failure::Empty => {
                        tracing::debug!(size = 0, "s3 raw object is empty (416)");
                        Ok(Some(RawObject {
                            bytes: Vec::new(),
                            size: 0,
                        }))
                    }
                    Failure::Failed(err) => Err(err),
                };
            }
        };
        let size = range::object_size(out.content_range(), out.content_length())?;
        // Never more than the cap, nor more than the object holds.
        let want = usize::try_from(size).map_or(max_bytes, |s| s.min(max_bytes));
        let mut bytes = Vec::with_capacity(want);
        while bytes.len() < want {
            match out.body.next().await {
                Some(Ok(chunk)) => {
                    let room = want - bytes.len();
                    bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Some(Err(_)) => {
                    return Err(FetchError::Transient(
                        "S3 GetObject: the body could not be read to its end".into(),
                    ));
                }
                None => break,
            }
        }
        // The stream is dropped here: a longer body is not read further.
        if bytes.len() < want {
            return Err(FetchError::Transient(format!(
                "S3 GetObject: the body ended after {} of {want} bytes",
                bytes.len()
            )));
        }
        tracing::debug!(
            size,
            read = bytes.len(),
            truncated = (bytes.len() as u64) < size,
            "s3 raw object read"
        );
        Ok(Some(RawObject { bytes, size }))
    }
}

impl RawMailStore for S3RawMail {
    async fn fetch_raw(
        &self,
        at: &ObjectLocation,
        max_bytes: usize,
        deadline: Instant,
    ) -> Result<Option<RawObject>, FetchError> {
        if Instant::now() >= deadline {
            return Err(FetchError::Transient(
                "S3 GetObject: deadline passed before the call".into(),
            ));
        }
        let deadline = tokio::time::Instant::from_std(deadline);
        match tokio::time::timeout_at(deadline, self.read(at, max_bytes)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Transient(
                "S3 GetObject: deadline reached".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_timeouts_are_set() {
        let t = short_timeouts();
        assert_eq!(t.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert_eq!(t.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(t.connect_timeout(), Some(CONNECT_TIMEOUT));
    }
}
