//! Folder roles: mapping folder attributes to [`FolderRole`], and a
//! per-grant cache of the mapping for the life of the process.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use triage_core::Message;
use triage_core::ports::{FetchError, FolderRole, MessageSource};

/// The role named by a folder's `attributes` (`\Sent`, `\Drafts`, `\Trash`,
/// `\Junk` or `\Spam`, `\Inbox`; case-insensitive). The first attribute with
/// a role wins; `None` when no attribute names one (e.g. only `\HasChildren`).
pub fn role_from_attributes<S: AsRef<str>>(attributes: &[S]) -> Option<FolderRole> {
    attributes.iter().find_map(|a| {
        let name = a.as_ref().trim();
        let name = name.strip_prefix('\\').unwrap_or(name);
        if name.eq_ignore_ascii_case("inbox") {
            Some(FolderRole::Inbox)
        } else if name.eq_ignore_ascii_case("sent") {
            Some(FolderRole::Sent)
        } else if name.eq_ignore_ascii_case("drafts") || name.eq_ignore_ascii_case("draft") {
            Some(FolderRole::Drafts)
        } else if name.eq_ignore_ascii_case("trash") {
            Some(FolderRole::Trash)
        } else if name.eq_ignore_ascii_case("junk") || name.eq_ignore_ascii_case("spam") {
            Some(FolderRole::Spam)
        } else {
            None
        }
    })
}

/// The role of a Google system label id (`INBOX`, `SENT`, `DRAFT`, `TRASH`,
/// `SPAM`; exact, upper-case), used when a folder carries no attribute.
pub fn role_from_google_id(id: &str) -> Option<FolderRole> {
    match id {
        "INBOX" => Some(FolderRole::Inbox),
        "SENT" => Some(FolderRole::Sent),
        "DRAFT" | "DRAFTS" => Some(FolderRole::Drafts),
        "TRASH" => Some(FolderRole::Trash),
        "SPAM" => Some(FolderRole::Spam),
        _ => None,
    }
}

/// A folder's role: its attributes first, then its id if it is a Google
/// system label, else [`FolderRole::Other`].
pub fn folder_role<S: AsRef<str>>(id: &str, attributes: &[S]) -> FolderRole {
    role_from_attributes(attributes)
        .or_else(|| role_from_google_id(id))
        .unwrap_or(FolderRole::Other)
}

/// Default number of grants [`CachedFolders`] keeps.
pub const DEFAULT_MAX_CACHED_GRANTS: usize = 1024;

struct Entry {
    roles: HashMap<String, FolderRole>,
    fetched_at: Instant,
}

/// A [`MessageSource`] that caches `folder_roles` per grant (successes only)
/// for the life of the process, i.e. of the Lambda container, and passes
/// `fetch_message` through.
///
/// Bounded: beyond `max_grants` grants the oldest entry is dropped. An
/// optional TTL makes entries refresh; [`CachedFolders::invalidate`] drops one
/// grant (e.g. when a message names a folder id the cached map lacks).
/// Concurrent misses for the same grant may each fetch once.
pub struct CachedFolders<S> {
    inner: S,
    entries: Mutex<HashMap<String, Entry>>,
    ttl: Option<Duration>,
    max_grants: usize,
}

impl<S> CachedFolders<S> {
    /// Cache without expiry, up to [`DEFAULT_MAX_CACHED_GRANTS`] grants.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            entries: Mutex::new(HashMap::new()),
            ttl: None,
            max_grants: DEFAULT_MAX_CACHED_GRANTS,
        }
    }

    /// Refresh a grant's roles once they are older than `ttl`.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Keep at most `max_grants` grants (at least 1).
    pub fn with_max_grants(mut self, max_grants: usize) -> Self {
        self.max_grants = max_grants.max(1);
        self
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Forget one grant's roles; the next call fetches them again.
    pub fn invalidate(&self, grant_id: &str) {
        self.lock().remove(grant_id);
    }

    /// Number of grants cached now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // The map stays consistent even if a holder panicked: no invariant spans two calls.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lookup(&self, grant_id: &str) -> Option<HashMap<String, FolderRole>> {
        let entries = self.lock();
        let entry = entries.get(grant_id)?;
        let fresh = self.ttl.is_none_or(|ttl| entry.fetched_at.elapsed() < ttl);
        fresh.then(|| entry.roles.clone())
    }

    fn store(&self, grant_id: &str, roles: &HashMap<String, FolderRole>) {
        let mut entries = self.lock();
        if !entries.contains_key(grant_id) && entries.len() >= self.max_grants {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.fetched_at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            grant_id.to_owned(),
            Entry {
                roles: roles.clone(),
                fetched_at: Instant::now(),
            },
        );
    }
}

impl<S: MessageSource> MessageSource for CachedFolders<S> {
    async fn fetch_message(
        &self,
        grant_id: &str,
        message_id: &str,
        deadline: Instant,
    ) -> Result<Option<Message>, FetchError> {
        self.inner
            .fetch_message(grant_id, message_id, deadline)
            .await
    }

    async fn folder_roles(
        &self,
        grant_id: &str,
        deadline: Instant,
    ) -> Result<HashMap<String, FolderRole>, FetchError> {
        if let Some(roles) = self.lookup(grant_id) {
            tracing::debug!(grant_id, folders = roles.len(), "folder roles cache hit");
            return Ok(roles);
        }
        let roles = self.inner.folder_roles(grant_id, deadline).await?;
        self.store(grant_id, &roles);
        Ok(roles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_map_to_roles() {
        assert_eq!(role_from_attributes(&["\\Sent"]), Some(FolderRole::Sent));
        assert_eq!(
            role_from_attributes(&["\\Drafts"]),
            Some(FolderRole::Drafts)
        );
        assert_eq!(role_from_attributes(&["\\Trash"]), Some(FolderRole::Trash));
        assert_eq!(role_from_attributes(&["\\Junk"]), Some(FolderRole::Spam));
        assert_eq!(role_from_attributes(&["\\Spam"]), Some(FolderRole::Spam));
        assert_eq!(role_from_attributes(&["\\INBOX"]), Some(FolderRole::Inbox));
        assert_eq!(
            role_from_attributes(&["\\HasNoChildren", "\\sent"]),
            Some(FolderRole::Sent)
        );
        assert_eq!(role_from_attributes(&["\\HasChildren"]), None);
        assert_eq!(role_from_attributes::<&str>(&[]), None);
        assert_eq!(role_from_attributes(&["\\Archive"]), None);
    }

    #[test]
    fn google_ids_are_the_fallback() {
        let none: [&str; 0] = [];
        assert_eq!(folder_role("SENT", &none), FolderRole::Sent);
        assert_eq!(folder_role("DRAFT", &none), FolderRole::Drafts);
        assert_eq!(folder_role("TRASH", &none), FolderRole::Trash);
        assert_eq!(folder_role("SPAM", &none), FolderRole::Spam);
        assert_eq!(folder_role("INBOX", &none), FolderRole::Inbox);
        assert_eq!(folder_role("Label_42", &none), FolderRole::Other);
        assert_eq!(folder_role("sent", &none), FolderRole::Other);
        // Attributes win over the id.
        assert_eq!(folder_role("SENT", &["\\Trash"]), FolderRole::Trash);
    }
}
