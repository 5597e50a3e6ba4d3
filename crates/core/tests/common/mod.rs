//! Helpers shared by the core's integration tests.

use std::path::PathBuf;

/// `fixtures/` at the repository root: the Nylas samples and the RFC 5322
/// messages (with their licences) the tests read. Part of the repository,
/// so a fresh clone runs its tests with nothing beside it.
pub fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing from the repository",
        dir.display()
    );
    dir
}
