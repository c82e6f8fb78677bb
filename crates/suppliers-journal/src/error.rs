//! What can go wrong with the journal, whichever store keeps it.

use crate::location::redact;

/// What can go wrong with the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The database failed or refused a statement.
    #[error("purchase journal ({location}): {message}")]
    Database {
        /// Where the journal is, without a password.
        location: String,
        /// What the database said.
        message: String,
    },
    /// An application's own store failed ([`JournalError::store`]).
    #[error("purchase journal: {0}")]
    Store(StoreError),
    /// `SUPPLIERS_JOURNAL` or `--journal` does not name a journal.
    #[error("purchase journal: {0}")]
    Location(String),
    /// The location needs a store this build of the crate leaves out.
    #[error(
        "purchase journal ({location}): this build has no {store} store: enable \
         suppliers-journal's `{feature}` feature"
    )]
    FeatureDisabled {
        /// Where the journal is, without a password.
        location: String,
        /// The store it needs: `SQLite` or `PostgreSQL`.
        store: &'static str,
        /// The feature that brings it: `sqlite` or `postgres`.
        feature: &'static str,
    },
    /// The journal was written by a newer version of this SDK.
    #[error(
        "purchase journal ({location}): schema version {found} is newer than this SDK's {known}"
    )]
    NewerSchema {
        /// Where the journal is.
        location: String,
        /// The journal's version.
        found: i64,
        /// The newest this SDK knows.
        known: i64,
    },
    /// A row this SDK cannot read.
    #[error("purchase journal ({location}): unreadable entry: {message}")]
    Corrupt {
        /// Where the journal is.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The entry is no longer held by this process (another took it over after its
    /// lease ran out).
    #[error("purchase journal: {supplier} reference {reference:?} is held by another process")]
    NotHeld {
        /// Supplier.
        supplier: String,
        /// Reference.
        reference: String,
    },
}

impl JournalError {
    /// An application store's own error (its driver's, its pool's...), for a
    /// [`crate::JournalStore`] written outside this crate. It prints with any URL's
    /// password replaced by `***`; the original is [`StoreError::get_ref`], for
    /// downcasting.
    pub fn store(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(StoreError(Box::new(error)))
    }
}

/// An application store's error ([`JournalError::store`]).
///
/// Its `Display` is the error's own, with the password of any `scheme://user:password@`
/// URL in it replaced by `***`. It names no [`std::error::Error::source`]: a logger that
/// prints the chain would print the unredacted text again.
pub struct StoreError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl StoreError {
    /// The error the store returned, for downcasting.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }

    /// The error the store returned.
    pub fn into_inner(self) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self.0
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0.to_string()))
    }
}

impl std::fmt::Debug for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StoreError")
            .field(&self.to_string())
            .finish()
    }
}

impl std::error::Error for StoreError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_error_prints_without_a_password() {
        let driver = std::io::Error::other("cannot reach postgres://app:hunter2@db:5432/shop");
        let err = JournalError::store(driver);
        let text = err.to_string();
        assert_eq!(
            text,
            "purchase journal: cannot reach postgres://app:***@db:5432/shop"
        );
        assert!(!format!("{err:?}").contains("hunter2"));
        let JournalError::Store(store) = err else {
            panic!("a store error");
        };
        assert!(store.get_ref().downcast_ref::<std::io::Error>().is_some());
    }
}
