//! PostgreSQL for the journal's tests, and for the tests of the crates that journal
//! (they include this file with `#[path]`): libpq's `PG*` variables name the server
//! (`pg_virtualenv cargo test ...`, as `.ci/run` does).

/// Whether a server is there. Without one the PostgreSQL half is skipped loudly; under
/// CI's `SUPPLIERS_REQUIRE_POSTGRES` a skip is a failure.
pub fn available() -> bool {
    if std::env::var_os("PGHOST").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("SUPPLIERS_REQUIRE_POSTGRES").is_none(),
        "SUPPLIERS_REQUIRE_POSTGRES is set but PGHOST is not"
    );
    eprintln!("PostgreSQL half skipped: no PGHOST (run under pg_virtualenv)");
    false
}

/// A new, empty database on that server, as a journal location: a test whose sandbox
/// numbers its orders from the start must not share a journal.
#[allow(dead_code)] // Not every including test needs one.
pub fn fresh_database() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_nanos();
    let name = format!("journal_{}_{nanos}", std::process::id());
    let status = std::process::Command::new("psql")
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql runs where PGHOST is set");
    assert!(status.success(), "CREATE DATABASE {name}");
    format!("postgres:///{name}")
}
