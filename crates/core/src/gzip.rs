//! Gzip decoding with a hard cap on the decompressed size (gzip bombs).

use std::io::Read;

use flate2::read::MultiGzDecoder;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GzipError {
    #[error("decompressed body exceeds the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("body is not valid gzip")]
    Corrupt,
}

/// Decompress `data`, refusing to produce more than `limit` bytes. Memory use
/// is bounded by `limit` whatever the compression ratio.
pub fn gunzip_capped(data: &[u8], limit: usize) -> Result<Vec<u8>, GzipError> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    let take = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    MultiGzDecoder::new(data)
        .take(take)
        .read_to_end(&mut out)
        .map_err(|_| GzipError::Corrupt)?;
    if out.len() > limit {
        return Err(GzipError::TooLarge { limit });
    }
    if out.is_empty() && !data.is_empty() && !data.starts_with(&[0x1f, 0x8b]) {
        return Err(GzipError::Corrupt);
    }
    Ok(out)
}

/// Gzip `data` (tests, sample events, the local replay tool).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data = br#"{"type":"message.created"}"#;
        assert_eq!(gunzip_capped(&gzip(data), 1024).unwrap(), data);
    }

    #[test]
    fn exactly_at_limit_is_accepted() {
        let data = vec![b'a'; 1000];
        assert_eq!(gunzip_capped(&gzip(&data), 1000).unwrap().len(), 1000);
        assert_eq!(
            gunzip_capped(&gzip(&data), 999),
            Err(GzipError::TooLarge { limit: 999 })
        );
    }

    #[test]
    fn bomb_is_refused_without_inflating_it() {
        // 64 MiB of zeros compresses to ~64 KiB.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 256 * 1024);
        assert_eq!(
            gunzip_capped(&bomb, 1 << 20),
            Err(GzipError::TooLarge { limit: 1 << 20 })
        );
    }

    #[test]
    fn garbage_and_truncation_are_corrupt() {
        assert_eq!(
            gunzip_capped(b"not gzip at all", 1024),
            Err(GzipError::Corrupt)
        );
        let good = gzip(b"hello world hello world");
        assert_eq!(
            gunzip_capped(&good[..good.len() - 6], 1024),
            Err(GzipError::Corrupt)
        );
    }
}
