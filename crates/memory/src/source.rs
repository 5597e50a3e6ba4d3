//! A message source in memory: the answers a provider's API would give,
//! set per message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use triage_core::Message;
use triage_core::ports::{FetchError, FolderRole, MessageSource};

/// What the API answers for one `(grant, message id)`.
type Answers = HashMap<(String, String), Result<Message, FetchError>>;

/// Answers per `(grant, message id)`; a message not set is gone (404).
/// Every grant's folders are `INBOX` (inbox) and `SENT` (sent). Clones
/// share the answers and the count of fetches.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    answers: Arc<Mutex<Answers>>,
    fetches: Arc<AtomicUsize>,
}

impl MemorySource {
    pub fn new() -> Self {
        MemorySource::default()
    }

    /// Answer `message` for its grant and id.
    pub fn put(&self, message: Message) {
        if let Ok(mut a) = self.answers.lock() {
            a.insert((message.grant_id.clone(), message.id.clone()), Ok(message));
        }
    }

    /// Fail every fetch of this message with `error`.
    pub fn fail(&self, grant: &str, id: &str, error: FetchError) {
        if let Ok(mut a) = self.answers.lock() {
            a.insert((grant.to_string(), id.to_string()), Err(error));
        }
    }

    /// How many fetches were made.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl MessageSource for MemorySource {
    async fn fetch_message(
        &self,
        grant_id: &str,
        message_id: &str,
        _deadline: Instant,
    ) -> Result<Option<Message>, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let answers = self
            .answers
            .lock()
            .map_err(|_| FetchError::Transient("in-memory source poisoned".into()))?;
        match answers.get(&(grant_id.to_string(), message_id.to_string())) {
            None => Ok(None),
            Some(Ok(m)) => Ok(Some(m.clone())),
            Some(Err(e)) => Err(e.clone()),
        }
    }

    async fn folder_roles(
        &self,
        _grant_id: &str,
        _deadline: Instant,
    ) -> Result<HashMap<String, FolderRole>, FetchError> {
        Ok(HashMap::from([
            ("INBOX".to_string(), FolderRole::Inbox),
            ("SENT".to_string(), FolderRole::Sent),
        ]))
    }
}
