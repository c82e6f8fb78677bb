//! The journal against real databases: an SQLite file, and PostgreSQL where libpq's
//! `PG*` variables point (`pg_virtualenv cargo test ...`, as `.ci/run` does); without
//! them the PostgreSQL half prints that it was skipped.

#[path = "support/postgres.rs"]
mod postgres;

use std::time::Duration;

use suppliers_journal::{Claim, Journal, JournalError, NewPurchase, Progress, State};

/// Every backend this machine offers, each with a way to open a second, independent
/// connection to the same journal (another process, as far as the journal knows).
struct Backend {
    name: &'static str,
    location: String,
    _dir: Option<tempfile::TempDir>,
}

fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("nested").join("journal.sqlite3");
    let mut all = vec![Backend {
        name: "sqlite",
        location: file.display().to_string(),
        _dir: Some(dir),
    }];
    if postgres::available() {
        // `postgres://` alone takes host, user, password and database from PG*.
        all.push(Backend {
            name: "postgres",
            location: "postgres://".into(),
            _dir: None,
        });
    }
    all
}

fn purchase(reference: &str) -> NewPurchase {
    NewPurchase {
        supplier: "foxreload".into(),
        reference: reference.into(),
        product_id: "product_01kq2w3e4r5t6y7u8i9o0p1a2s".into(),
        quantity: 5,
        facts: serde_json::json!({"fields": {"login": "steam_user"}}),
        idempotency_key: Some(uuid::Uuid::new_v4().to_string()),
        balance_before: Some(("150.50".parse().unwrap(), "USD".into())),
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn claimed(claim: Claim) -> suppliers_journal::Entry {
    match claim {
        Claim::Claimed(entry, _hold) => entry,
        Claim::Existing(entry) => panic!("expected a claim, found {entry:?}"),
    }
}

#[tokio::test]
async fn a_reference_is_claimed_once_and_its_progress_recorded() {
    for backend in backends() {
        let journal = Journal::open(&backend.location).await.unwrap();
        let new = purchase(&unique("order"));
        let entry = claimed(journal.claim(&new).await.unwrap());
        assert_eq!(entry.state, State::Sending, "{}", backend.name);
        assert_eq!(entry.owner.as_deref(), Some(journal.owner()));
        assert_eq!(entry.balance_before, Some("150.50".parse().unwrap()));
        assert_eq!(entry.idempotency_key, new.idempotency_key);
        assert_eq!(entry.facts, new.facts);

        let Claim::Existing(again) = journal.claim(&new).await.unwrap() else {
            panic!(
                "{}: a second claim of one reference succeeded",
                backend.name
            );
        };
        assert_eq!(again.reference, new.reference);

        let created = journal
            .record(&entry, Progress::to(State::Created).order_id("ord_1"))
            .await
            .unwrap();
        assert_eq!(created.order_id.as_deref(), Some("ord_1"));
        assert!(created.owner.is_some(), "unresolved: still held");
        let unresolved = journal.unresolved().await.unwrap();
        assert!(unresolved.iter().any(|e| e.reference == new.reference));

        let bought = journal
            .record(&created, Progress::to(State::Bought).detail("paid"))
            .await
            .unwrap();
        assert_eq!(bought.state, State::Bought);
        assert_eq!(bought.order_id.as_deref(), Some("ord_1"), "kept");
        assert_eq!(bought.owner, None, "resolved: released");
        assert!(bought.updated_at >= bought.started_at);
        let unresolved = journal.unresolved().await.unwrap();
        assert!(!unresolved.iter().any(|e| e.reference == new.reference));
        let all = journal.all_entries().await.unwrap();
        assert_eq!(
            all.iter().filter(|e| e.reference == new.reference).count(),
            1,
            "every entry is listed, resolved ones too"
        );
        assert!(
            journal
                .known_orders("foxreload")
                .await
                .unwrap()
                .iter()
                .any(|(id, started)| id == "ord_1" && *started == bought.started_at)
        );
    }
}

#[tokio::test]
async fn a_failed_purchase_may_be_bought_again_under_its_reference_but_only_as_itself() {
    for backend in backends() {
        let journal = Journal::open(&backend.location).await.unwrap();
        let new = purchase(&unique("retry"));
        let entry = claimed(journal.claim(&new).await.unwrap());
        journal
            .record(
                &entry,
                Progress::to(State::Failed).detail("BALANCE_NOT_ENOUGH"),
            )
            .await
            .unwrap();

        let other_product = NewPurchase {
            product_id: "product_other".into(),
            ..new.clone()
        };
        let Claim::Existing(refused) = journal.claim(&other_product).await.unwrap() else {
            panic!("{}: another product took a failed reference", backend.name);
        };
        assert_eq!(refused.state, State::Failed);

        let second = claimed(journal.claim(&new).await.unwrap());
        assert_eq!(second.attempt, 2, "{}", backend.name);
        assert_eq!(second.state, State::Sending);
        assert_eq!(second.detail, None);
    }
}

#[tokio::test]
async fn concurrent_claims_from_separate_connections_yield_exactly_one_purchase() {
    for backend in backends() {
        // Opened one after another: the first creates the schema.
        let mut journals = Vec::new();
        for _ in 0..12 {
            journals.push(Journal::open(&backend.location).await.unwrap());
        }
        let new = purchase(&unique("race"));
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(journals.len()));
        let tasks: Vec<_> = journals
            .into_iter()
            .map(|journal| {
                let (new, barrier) = (new.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    journal.claim(&new).await.unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if let Claim::Claimed(..) = task.await.unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "{}", backend.name);
    }
}

#[tokio::test]
async fn twelve_opens_of_a_new_journal_at_once_migrate_it_once() {
    for backend in backends() {
        let location = match backend.name {
            "sqlite" => backend.location.replace("journal.sqlite3", "fresh.sqlite3"),
            _ => backend.location.clone(),
        };
        let opens: Vec<_> = (0..12)
            .map(|_| {
                let location = location.clone();
                tokio::spawn(async move { Journal::open(&location).await })
            })
            .collect();
        for open in opens {
            open.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: {e}", backend.name));
        }
    }
}

#[tokio::test]
async fn a_live_holder_is_respected_and_a_lapsed_one_taken_over() {
    for backend in backends() {
        let worker = Journal::open(&backend.location)
            .await
            .unwrap()
            .with_lease(Duration::from_millis(300));
        let reconciler = Journal::open(&backend.location).await.unwrap();
        let Claim::Claimed(entry, hold) = worker.claim(&purchase(&unique("held"))).await.unwrap()
        else {
            panic!("a new reference");
        };
        let seen = reconciler
            .get(&entry.supplier, &entry.reference)
            .await
            .unwrap()
            .unwrap();
        assert!(reconciler.held_elsewhere(&seen), "{}", backend.name);
        assert!(reconciler.take(&seen).await.unwrap().is_none());

        // The holder renews while it works...
        tokio::time::sleep(Duration::from_millis(700)).await;
        let seen = reconciler
            .get(&entry.supplier, &entry.reference)
            .await
            .unwrap()
            .unwrap();
        assert!(
            reconciler.held_elsewhere(&seen),
            "renewed: {}",
            backend.name
        );
        // ...and once it stops, its lease lapses and another process may take over.
        drop(hold);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = reconciler
            .get(&entry.supplier, &entry.reference)
            .await
            .unwrap()
            .unwrap();
        assert!(!reconciler.held_elsewhere(&seen), "{}", backend.name);
        let (taken, _hold) = reconciler.take(&seen).await.unwrap().expect("taken over");
        assert_eq!(taken.owner.as_deref(), Some(reconciler.owner()));
        // A second taker of the same snapshot loses: the owner changed.
        let third = Journal::open(&backend.location).await.unwrap();
        assert!(
            third.take(&seen).await.unwrap().is_none(),
            "{}",
            backend.name
        );
        // Nor does another task of the taker's own process while it holds the entry.
        let own = reconciler
            .get(&entry.supplier, &entry.reference)
            .await
            .unwrap()
            .unwrap();
        assert!(reconciler.held_elsewhere(&own), "{}", backend.name);
        assert!(reconciler.take(&own).await.unwrap().is_none());
        // The first holder can no longer write.
        let err = worker
            .record(&entry, Progress::to(State::Bought))
            .await
            .unwrap_err();
        assert!(matches!(err, JournalError::NotHeld { .. }), "{err}");
        reconciler
            .record(&taken, Progress::to(State::NotBought))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn records_queued_without_waiting_land_in_order_by_flush_or_by_drop() {
    for backend in backends() {
        let journal = Journal::open(&backend.location).await.unwrap();
        let r = unique("queued");
        let entry = claimed(journal.claim(&purchase(&r)).await.unwrap());
        // What the claim returns is what a reader sees.
        assert_eq!(
            journal.get("foxreload", &r).await.unwrap().as_ref(),
            Some(&entry),
            "{}",
            backend.name
        );
        let created = journal
            .record_without_waiting(&entry, Progress::to(State::Created).order_id("o-1"))
            .await;
        let bought = journal
            .record_without_waiting(&created, Progress::to(State::Bought))
            .await;
        assert_eq!(bought.state, State::Bought);
        assert_eq!(bought.order_id.as_deref(), Some("o-1"));
        assert_eq!(bought.owner, None, "a resolved entry has no holder");
        journal.flush().await.unwrap();
        let read = journal.get("foxreload", &r).await.unwrap().unwrap();
        assert_eq!(read, bought, "{}", backend.name);

        // Dropping the last handle commits what is still queued.
        let r = unique("dropped");
        let entry = claimed(journal.claim(&purchase(&r)).await.unwrap());
        journal
            .record_without_waiting(&entry, Progress::to(State::Bought).order_id("o-2"))
            .await;
        drop(journal);
        let reopened = Journal::open(&backend.location).await.unwrap();
        let read = reopened.get("foxreload", &r).await.unwrap().unwrap();
        assert_eq!(read.state, State::Bought, "{}", backend.name);
        assert_eq!(read.order_id.as_deref(), Some("o-2"));
    }
}

#[tokio::test]
async fn entries_survive_reopening_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3");
    let location = path.display().to_string();
    let journal = Journal::open(&location).await.unwrap();
    let entry = claimed(journal.claim(&purchase("kept")).await.unwrap());
    journal
        .record(
            &entry,
            Progress::to(State::Unknown).detail("connection reset"),
        )
        .await
        .unwrap();
    drop(journal);

    let reopened = Journal::open(&format!("sqlite:{location}")).await.unwrap();
    let kept = reopened.get("foxreload", "kept").await.unwrap().unwrap();
    assert_eq!(kept.state, State::Unknown);
    assert_eq!(kept.detail.as_deref(), Some("connection reset"));
    drop(reopened);

    // A later SDK's migration, as far as this one can tell.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO journal_migrations VALUES (99, 'future', 'now')",
        [],
    )
    .unwrap();
    drop(conn);
    let err = Journal::open(&location).await.unwrap_err();
    assert!(
        matches!(err, JournalError::NewerSchema { found: 99, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn an_in_memory_journal_works_like_a_file() {
    let journal = Journal::in_memory().await.unwrap();
    let entry = claimed(journal.claim(&purchase("mem")).await.unwrap());
    assert!(matches!(
        journal.claim(&purchase("mem")).await.unwrap(),
        Claim::Existing(_)
    ));
    journal
        .record(&entry, Progress::to(State::Bought))
        .await
        .unwrap();
    assert!(journal.unresolved().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_postgres_fails_with_the_location_and_no_password() {
    let err = Journal::open("postgres://worker:s3cret@127.0.0.1:1/shop")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("127.0.0.1:1"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}
