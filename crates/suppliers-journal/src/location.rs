//! Where a journal lives: `SUPPLIERS_JOURNAL`, `--journal`, or the default file.

use std::path::PathBuf;
use std::sync::Arc;

use crate::{Journal, JournalError, JournalStore};

/// The default journal's file name, under [`default_path`]'s directory.
pub const DEFAULT_FILE_NAME: &str = "journal.sqlite3";

/// `<data dir>/suppliers/journal.sqlite3` (`~/.local/share/suppliers/...` on Linux),
/// `None` where the platform has no data directory.
pub fn default_path() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join("suppliers").join(DEFAULT_FILE_NAME))
}

/// A journal's location, parsed: which shipped store keeps it, and where.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file (created with its directory if missing): the `sqlite` feature.
    File(PathBuf),
    /// This process's memory: SQLite's in-memory database with the `sqlite` feature,
    /// else a [`crate::MemoryStore`]. Either protects this process only.
    Memory,
    /// A PostgreSQL server (`postgres://user:password@host/db`): the `postgres` feature.
    Postgres(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Location {
    /// `postgres://...` or `postgresql://...`, `:memory:`, `sqlite:PATH`, or a path.
    pub fn parse(text: &str) -> Result<Self, JournalError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(JournalError::Location(
                "the journal location is empty".into(),
            ));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            // Without the driver a URL is not checked here: opening it says what is
            // missing.
            #[cfg(feature = "postgres")]
            <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(text).map_err(
                |e| {
                    JournalError::Location(format!(
                        "not a PostgreSQL URL ({})",
                        redact(&e.to_string())
                    ))
                },
            )?;
            return Ok(Self::Postgres(text.to_owned()));
        }
        if matches!(text, ":memory:" | "sqlite::memory:") {
            return Ok(Self::Memory);
        }
        let path = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
            .unwrap_or(text);
        Ok(Self::File(PathBuf::from(path)))
    }

    /// `SUPPLIERS_JOURNAL` if set, else [`default_path`].
    pub fn from_env() -> Result<Self, JournalError> {
        match std::env::var("SUPPLIERS_JOURNAL") {
            Ok(value) => Self::parse(&value),
            Err(_) => default_path().map(Self::File).ok_or_else(|| {
                JournalError::Location(
                    "this platform has no data directory: set SUPPLIERS_JOURNAL".into(),
                )
            }),
        }
    }

    /// The location as printed: a PostgreSQL URL loses its password.
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Memory => ":memory:".into(),
            Self::Postgres(url) => redact(url),
        }
    }

    /// Opens the journal there and applies missing migrations: [`Self::open_store`] in a
    /// [`Journal`].
    pub async fn open(&self) -> Result<Journal, JournalError> {
        Ok(Journal::from_store(self.open_store().await?))
    }

    /// Opens the shipped store there and applies missing migrations.
    /// [`JournalError::FeatureDisabled`] when this build leaves that store out: a file
    /// without the `sqlite` feature, a PostgreSQL URL without `postgres` (never a
    /// fallback to memory).
    pub async fn open_store(&self) -> Result<Arc<dyn JournalStore>, JournalError> {
        let location = self.describe();
        match self {
            Self::Postgres(url) => postgres(url, location).await,
            Self::Memory => memory(location).await,
            Self::File(path) => file(path, location).await,
        }
    }
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str, location: String) -> Result<Arc<dyn JournalStore>, JournalError> {
    let store = crate::sql_store::SqlStore::postgres(url, location).await?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_url: &str, location: String) -> Result<Arc<dyn JournalStore>, JournalError> {
    Err(JournalError::FeatureDisabled {
        location,
        store: "PostgreSQL",
        feature: "postgres",
    })
}

#[cfg(feature = "sqlite")]
async fn memory(location: String) -> Result<Arc<dyn JournalStore>, JournalError> {
    let store = crate::sql_store::SqlStore::sqlite(None, location).await?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "sqlite"))]
async fn memory(_location: String) -> Result<Arc<dyn JournalStore>, JournalError> {
    Ok(Arc::new(crate::MemoryStore::new()))
}

#[cfg(feature = "sqlite")]
async fn file(
    path: &std::path::Path,
    location: String,
) -> Result<Arc<dyn JournalStore>, JournalError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| JournalError::Location(format!("cannot create {}: {e}", dir.display())))?;
    }
    let store = crate::sql_store::SqlStore::sqlite(Some(path.to_owned()), location).await?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "sqlite"))]
async fn file(
    _path: &std::path::Path,
    location: String,
) -> Result<Arc<dyn JournalStore>, JournalError> {
    Err(JournalError::FeatureDisabled {
        location,
        store: "SQLite",
        feature: "sqlite",
    })
}

/// `scheme://user:password@host` -> `scheme://user:***@host`, wherever it appears (a
/// driver's error may quote a URL amid other text).
pub(crate) fn redact(text: &str) -> String {
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let (before, after) = rest.split_at(scheme_end + 3);
        redacted.push_str(before);
        let authority_end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        let (authority, tail) = after.split_at(authority_end);
        let password = authority
            .rfind('@')
            .and_then(|at| Some((authority[..at].find(':')?, at)));
        match password {
            Some((colon, at)) => {
                redacted.push_str(&authority[..colon]);
                redacted.push_str(":***");
                redacted.push_str(&authority[at..]);
            }
            None => redacted.push_str(authority),
        }
        rest = tail;
    }
    redacted.push_str(rest);
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_postgres_passwords_never_print() {
        assert_eq!(Location::parse(":memory:").unwrap(), Location::Memory);
        assert_eq!(
            Location::parse("sqlite:/tmp/j.db").unwrap(),
            Location::File("/tmp/j.db".into())
        );
        assert_eq!(
            Location::parse("journal.sqlite3").unwrap(),
            Location::File("journal.sqlite3".into())
        );
        let pg = Location::parse("postgres://worker:s3cret@db.internal:5432/shop").unwrap();
        assert_eq!(pg.describe(), "postgres://worker:***@db.internal:5432/shop");
        assert!(!format!("{pg:?}").contains("s3cret"));
        assert!(Location::parse("  ").is_err());
        assert_eq!(redact("postgres://db/shop"), "postgres://db/shop");
        assert_eq!(
            redact("from http://proxy:80/ to postgres://w:pw@db ok, then mysql://a:b@c/d"),
            "from http://proxy:80/ to postgres://w:***@db ok, then mysql://a:***@c/d"
        );
    }

    /// Runs under `--no-default-features` (the crate's own tests always have
    /// `postgres`): a store this build leaves out is an error, never memory.
    #[tokio::test]
    async fn a_location_whose_store_is_left_out_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nested").join("journal.sqlite3");
        let opened = Location::File(file.clone()).open_store().await;
        match (cfg!(feature = "sqlite"), opened) {
            (true, opened) => assert!(opened.is_ok()),
            (false, Err(JournalError::FeatureDisabled { feature, .. })) => {
                assert_eq!(feature, "sqlite");
                assert!(!file.parent().unwrap().exists(), "nothing created");
            }
            (false, other) => panic!("a file without the sqlite feature: {:?}", other.map(drop)),
        }
        let url = Location::parse("postgres://worker:s3cret@127.0.0.1:1/shop").unwrap();
        if !cfg!(feature = "postgres") {
            let err = url.open_store().await.err().expect("refused");
            let text = err.to_string();
            assert!(matches!(
                err,
                JournalError::FeatureDisabled {
                    feature: "postgres",
                    ..
                }
            ));
            assert!(
                text.contains("`postgres` feature") && !text.contains("s3cret"),
                "{text}"
            );
        }
        let memory = Location::Memory.open_store().await.unwrap();
        assert_eq!(memory.location(), ":memory:");
    }
}
