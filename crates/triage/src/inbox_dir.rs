//! `triage serve --inbox DIR`: a watched folder that stands in for Amazon
//! SES receiving, so the `ses` family runs whole without AWS. Drop a raw
//! message (`*.eml`) into `DIR` and it becomes a ticket through the same
//! path as mail SES writes to S3: an S3-style notification on the local
//! queue, the raw message read up to `RAW_MAIL_MAX_BYTES`, SES's verdict
//! headers honoured when present, deduplicated by its `Message-ID`.
//!
//! - The folder plays the bucket [`LOCAL_BUCKET`]: each new file is moved
//!   to `DIR/accepted/<unix ms>-<name>` and a notification naming that key
//!   is queued. A file whose notification could not be queued is moved
//!   back and tried again on the next scan.
//! - `accepted/` keeps every message, as the bucket does; remove old files
//!   by hand. At start every file in it is queued again (a stop between
//!   the move and the queueing would otherwise strand it): the ones already
//!   processed are duplicates and change nothing.
//! - Only regular files ending in `.eml` directly in `DIR` are taken; a
//!   file still being written could be taken half-written, so write it
//!   elsewhere and move it in.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::sync::watch;
use triage_core::envelope::QueuedMessage;
use triage_core::ports::{FetchError, NotificationQueue, ObjectLocation, RawMailStore, RawObject};

use crate::runtime::AnyQueue;

/// The bucket name the folder stands for in notifications.
pub const LOCAL_BUCKET: &str = "local-inbound";
/// Where taken files go, under the folder.
pub const ACCEPTED: &str = "accepted";
/// How often the folder is scanned.
pub const SCAN_EVERY: Duration = Duration::from_secs(1);

/// Raw messages read from the watched folder.
#[derive(Debug, Clone)]
pub struct FolderRawMail {
    root: PathBuf,
}

impl FolderRawMail {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FolderRawMail { root: root.into() }
    }

    /// The file of `key`: a relative path of plain components only.
    fn path_of(&self, key: &str) -> Option<PathBuf> {
        let rel = Path::new(key);
        let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
        (plain && !key.is_empty()).then(|| self.root.join(rel))
    }
}

impl RawMailStore for FolderRawMail {
    async fn fetch_raw(
        &self,
        at: &ObjectLocation,
        max_bytes: usize,
        _deadline: Instant,
    ) -> Result<Option<RawObject>, FetchError> {
        if at.bucket != LOCAL_BUCKET {
            return Err(FetchError::Permanent(format!(
                "the inbox folder stands for bucket {LOCAL_BUCKET} only"
            )));
        }
        let path = self.path_of(&at.key).ok_or_else(|| {
            FetchError::Permanent("object key is not a plain relative path".into())
        })?;
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<Option<RawObject>> {
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let size = file.metadata()?.len();
            let mut bytes = Vec::new();
            file.take(max_bytes as u64).read_to_end(&mut bytes)?;
            Ok(Some(RawObject { bytes, size }))
        })
        .await
        .map_err(|_| FetchError::Transient("inbox read task failed".into()))?;
        read.map_err(|e| FetchError::Transient(format!("inbox read: {}", e.kind())))
    }
}

/// S3's notification of `key` in the folder's bucket.
pub fn notification(key: &str, size: u64) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": LOCAL_BUCKET},
               "object": {"key": utf8_percent_encode(key, NON_ALPHANUMERIC).to_string(), "size": size}}
    }]})
    .to_string()
}

/// Queue a notification of `key`.
async fn queue_key(queue: &AnyQueue, key: &str, size: u64) -> bool {
    let message = QueuedMessage {
        entry_id: "inbox".into(),
        body: notification(key, size),
        attributes: Vec::new(),
        refetch: false,
    };
    queue.send_all(std::slice::from_ref(&message)).await.is_ok()
}

/// The `.eml` files directly in `dir`, oldest name first.
fn new_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("eml")))
        .collect();
    files.sort();
    files
}

/// Take one file: move it under `accepted/` and queue its notification
/// (moved back when the queue refuses). True when queued.
async fn take(dir: &Path, file: &Path, queue: &AnyQueue, now_ms: i64) -> bool {
    let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let key = format!("{ACCEPTED}/{now_ms}-{name}");
    let target = dir.join(&key);
    if std::fs::rename(file, &target).is_err() {
        return false;
    }
    let size = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    if queue_key(queue, &key, size).await {
        return true;
    }
    let _ = std::fs::rename(&target, file);
    false
}

/// Watch `dir` until `stop`: queue what `accepted/` holds once, then take
/// new files every [`SCAN_EVERY`].
pub async fn watch(dir: PathBuf, queue: AnyQueue, mut stop: watch::Receiver<bool>) {
    let accepted = dir.join(ACCEPTED);
    if let Err(e) = std::fs::create_dir_all(&accepted) {
        eprintln!("triage: inbox: cannot create {}: {e}", accepted.display());
        return;
    }
    let mut again = 0u64;
    for file in new_files(&accepted) {
        let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        if queue_key(&queue, &format!("{ACCEPTED}/{name}"), size).await {
            again += 1;
        }
    }
    if again > 0 {
        eprintln!(
            "triage: inbox: {again} accepted message(s) queued again (those processed are duplicates)"
        );
    }
    loop {
        let mut taken = 0u64;
        for file in new_files(&dir) {
            if take(&dir, &file, &queue, crate::runtime::now_ms()).await {
                taken += 1;
            }
        }
        if taken > 0 {
            eprintln!("triage: inbox: {taken} message(s) queued");
        }
        tokio::select! {
            _ = tokio::time::sleep(SCAN_EVERY) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(key: &str) -> ObjectLocation {
        ObjectLocation {
            bucket: LOCAL_BUCKET.into(),
            key: key.into(),
        }
    }

    #[tokio::test]
    async fn files_are_read_up_to_the_cap_and_keys_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(ACCEPTED)).unwrap();
        std::fs::write(dir.path().join("accepted/1-a b.eml"), b"0123456789").unwrap();
        let store = FolderRawMail::new(dir.path());
        let soon = Instant::now() + Duration::from_secs(5);
        let got = store
            .fetch_raw(&at("accepted/1-a b.eml"), 4, soon)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.bytes, b"0123");
        assert_eq!(got.size, 10);
        assert!(got.truncated());
        assert_eq!(
            store
                .fetch_raw(&at("accepted/none.eml"), 4, soon)
                .await
                .unwrap(),
            None
        );
        for bad in ["../etc/passwd", "/etc/passwd", "accepted/../../x", ""] {
            assert!(
                matches!(
                    store.fetch_raw(&at(bad), 4, soon).await,
                    Err(FetchError::Permanent(_))
                ),
                "{bad}"
            );
        }
        let other = ObjectLocation {
            bucket: "elsewhere".into(),
            key: "accepted/1-a b.eml".into(),
        };
        assert!(matches!(
            store.fetch_raw(&other, 4, soon).await,
            Err(FetchError::Permanent(_))
        ));
    }

    #[test]
    fn notifications_read_back_as_the_key() {
        let body = notification("accepted/1-Grüße & more.eml", 7);
        let triage_core::provider::ses::s3_event::S3Notification::Created(objects) =
            triage_core::provider::ses::s3_event::parse(&body).unwrap()
        else {
            panic!("not created");
        };
        assert_eq!(objects[0].location, at("accepted/1-Grüße & more.eml"));
        assert_eq!(objects[0].size, 7);
    }

    #[test]
    fn only_eml_files_directly_in_the_folder_are_new() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.EML"), b"x").unwrap();
        std::fs::write(dir.path().join("a.eml"), b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        std::fs::create_dir_all(dir.path().join("sub.eml")).unwrap();
        let names: Vec<String> = new_files(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.eml", "b.EML"]);
    }
}
