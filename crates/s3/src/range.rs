//! The ranged read: the `Range` header asked for and the object's whole
//! size taken from the answer's headers. Pure, no I/O.
//!
//! One `GetObject` asks for `bytes=0-{max_bytes - 1}`. S3 answers 206 with
//! `Content-Range: bytes 0-N/TOTAL` (the object's size is `TOTAL`), or 200
//! with the whole object when it honours no range (the size is then
//! `Content-Length`); an object smaller than the range may come back either
//! way. An empty object cannot satisfy any range: 416 (see `error`).

use triage_core::ports::FetchError;

/// The `Range` header for the first `max_bytes` bytes. HTTP has no empty
/// range, so `max_bytes == 0` asks for the first byte (`bytes=0-0`): the
/// answer still says whether the object exists and how large it is, and
/// the caller keeps none of it.
pub(crate) fn range_header(max_bytes: usize) -> String {
    let last = u64::try_from(max_bytes).unwrap_or(u64::MAX).max(1) - 1;
    format!("bytes=0-{last}")
}

/// The object's whole size from the answer's `Content-Range` (206) or,
/// without one, its `Content-Length` (200, the whole object).
/// Anything else is a malformed answer: `Permanent`.
pub(crate) fn object_size(
    content_range: Option<&str>,
    content_length: Option<i64>,
) -> Result<u64, FetchError> {
    match content_range {
        Some(value) => total_of_content_range(value).ok_or_else(|| {
            FetchError::Permanent("S3 GetObject: malformed Content-Range in the answer".into())
        }),
        None => content_length
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                FetchError::Permanent(
                    "S3 GetObject: answer without Content-Range or Content-Length".into(),
                )
            }),
    }
}

/// `TOTAL` of `bytes 0-N/TOTAL`, checking that the range starts at 0 and
/// ends inside the object. `None` for any other shape (a `*` total, another
/// unit, a range that does not start at 0).
pub(crate) fn total_of_content_range(value: &str) -> Option<u64> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    let total: u64 = total.trim().parse().ok()?;
    (first == 0 && last < total).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_asked_for() {
        assert_eq!(range_header(1), "bytes=0-0");
        assert_eq!(range_header(1024), "bytes=0-1023");
        assert_eq!(range_header(0), "bytes=0-0");
    }

    #[test]
    fn totals_of_content_ranges() {
        assert_eq!(total_of_content_range("bytes 0-1023/5000"), Some(5000));
        assert_eq!(total_of_content_range("bytes 0-9/10"), Some(10));
        assert_eq!(total_of_content_range(" bytes  0-0/1 "), Some(1));
        assert_eq!(total_of_content_range("bytes 0-1023/*"), None);
        assert_eq!(total_of_content_range("bytes */0"), None);
        assert_eq!(total_of_content_range("bytes 5-9/10"), None);
        assert_eq!(total_of_content_range("bytes 0-10/10"), None);
        assert_eq!(total_of_content_range("items 0-9/10"), None);
        assert_eq!(total_of_content_range(""), None);
    }

    #[test]
    fn size_from_range_or_length() {
        assert_eq!(
            object_size(Some("bytes 0-99/250"), Some(100)).ok(),
            Some(250)
        );
        assert_eq!(object_size(None, Some(42)).ok(), Some(42));
        assert_eq!(object_size(None, Some(0)).ok(), Some(0));
        assert!(matches!(
            object_size(None, None),
            Err(FetchError::Permanent(_))
        ));
        assert!(matches!(
            object_size(None, Some(-1)),
            Err(FetchError::Permanent(_))
        ));
        assert!(matches!(
            object_size(Some("bytes 0-99/*"), Some(100)),
            Err(FetchError::Permanent(_))
        ));
    }
}
