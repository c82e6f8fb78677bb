//! Fulfilment tracking in the journal, against an SQLite file and (under
//! `pg_virtualenv`) a fresh PostgreSQL database per test.

#[path = "support/postgres.rs"]
mod postgres;

use std::collections::HashSet;
use std::time::Duration;

use suppliers_journal::{Claim, Entry, Fulfilment, Journal, NewPurchase, Progress, State};

/// A fresh journal location per backend this machine offers.
fn locations() -> Vec<(String, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("journal.sqlite3").display().to_string();
    let mut all = vec![(file, Some(dir))];
    if postgres::available() {
        all.push((postgres::fresh_database(), None));
    }
    all
}

fn purchase(reference: &str) -> NewPurchase {
    NewPurchase {
        supplier: "mousacard".into(),
        reference: reference.into(),
        product_id: "12310".into(),
        quantity: 1,
        facts: serde_json::json!({}),
        idempotency_key: None,
        balance_before: None,
    }
}

/// Buys `n` references in `journal`: each ends `bought` with an order id.
async fn bought(journal: &Journal, n: usize) -> Vec<Entry> {
    let mut entries = Vec::new();
    for i in 0..n {
        let Claim::Claimed(entry, _hold) =
            journal.claim(&purchase(&format!("ref-{i}"))).await.unwrap()
        else {
            panic!("ref-{i} claimed twice");
        };
        let entry = journal
            .record(
                &entry,
                Progress::to(State::Bought).order_id(format!("{}", 1000 + i)),
            )
            .await
            .unwrap();
        entries.push(entry);
    }
    entries
}

fn references(entries: &[Entry]) -> HashSet<String> {
    entries.iter().map(|e| e.reference.clone()).collect()
}

#[tokio::test]
async fn a_bought_purchase_awaits_its_goods_until_settled_and_reported() {
    for (location, _dir) in locations() {
        let journal = Journal::open(&location).await.unwrap();
        let [entry] = <[Entry; 1]>::try_from(bought(&journal, 1).await).unwrap();
        assert_eq!(entry.fulfilment, Some(Fulfilment::Awaiting), "{location}");
        let read = journal.get("mousacard", "ref-0").await.unwrap().unwrap();
        assert_eq!(read, entry, "what record returns is what was written");
        assert!(read.awaits_report());
        assert_eq!(journal.awaiting_report().await.unwrap(), vec![read.clone()]);

        // Not held by a tracker yet: settling needs the tracker's hold.
        assert!(
            journal
                .settle(&read, Fulfilment::Delivered, None)
                .await
                .is_err()
        );
        let claimed = journal.claim_for_tracking(100).await.unwrap();
        assert_eq!(references(&claimed), references(&[read]));
        let settled = journal
            .settle(
                &claimed[0],
                Fulfilment::Undelivered,
                Some("rejected: out of stock"),
            )
            .await
            .unwrap();
        // Settling twice is refused: the first outcome stands.
        assert!(
            journal
                .settle(&settled, Fulfilment::Delivered, None)
                .await
                .is_err()
        );
        let stored = journal.get("mousacard", "ref-0").await.unwrap().unwrap();
        assert_eq!(stored.fulfilment, Some(Fulfilment::Undelivered));
        assert_eq!(
            stored.fulfilment_detail.as_deref(),
            Some("rejected: out of stock")
        );
        assert!(stored.settled_at.is_some() && stored.reported_at.is_none());
        assert!(stored.awaits_report(), "settled but not reported");

        assert!(journal.mark_reported(&settled).await.unwrap());
        assert!(!journal.mark_reported(&settled).await.unwrap(), "once");
        let done = journal.get("mousacard", "ref-0").await.unwrap().unwrap();
        assert!(done.reported_at.is_some() && done.owner.is_none());
        assert!(journal.awaiting_report().await.unwrap().is_empty());
        assert!(journal.claim_for_tracking(100).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn trackers_share_the_open_entries_and_take_over_a_lapsed_lease() {
    for (location, _dir) in locations() {
        let lease = Duration::from_millis(400);
        let first = Journal::open(&location).await.unwrap().with_lease(lease);
        let second = Journal::open(&location).await.unwrap().with_lease(lease);
        bought(&first, 10).await;

        let a = first.claim_for_tracking(4).await.unwrap();
        let b = second.claim_for_tracking(100).await.unwrap();
        assert!(
            a.iter().chain(&b).all(|e| e.taken_over_from.is_none()),
            "free"
        );
        assert_eq!((a.len(), b.len()), (4, 6), "{location}");
        assert!(references(&a).is_disjoint(&references(&b)));
        assert!(second.claim_for_tracking(100).await.unwrap().is_empty());
        assert!(first.claim_for_tracking(100).await.unwrap().is_empty());

        // The second keeps renewing; the first stops (it died): its four lapse.
        for _ in 0..4 {
            tokio::time::sleep(lease / 3).await;
            assert_eq!(second.renew_tracking().await.unwrap(), 6);
        }
        let taken = second.claim_for_tracking(100).await.unwrap();
        assert_eq!(references(&taken), references(&a), "{location}");
        for entry in &taken {
            assert_eq!(
                entry.taken_over_from.as_deref(),
                Some(first.owner()),
                "{location}"
            );
        }
        // The dead tracker's late report is refused: the order is someone else's now.
        assert!(!first.mark_reported(&a[0]).await.unwrap());

        // A clean stop lets every entry go at once.
        assert_eq!(second.release_tracking().await.unwrap(), 10);
        let released = first.claim_for_tracking(100).await.unwrap();
        assert_eq!(released.len(), 10);
        assert!(
            released.iter().all(|e| e.taken_over_from.is_none()),
            "released, not lapsed"
        );
    }
}

#[tokio::test]
async fn the_buyer_may_report_what_it_showed_without_a_tracker() {
    for (location, _dir) in locations() {
        let journal = Journal::open(&location).await.unwrap();
        bought(&journal, 2).await;
        assert!(
            journal
                .record_reported("mousacard", "ref-0", Fulfilment::Delivered, None)
                .await
                .unwrap()
        );
        assert!(
            !journal
                .record_reported("mousacard", "ref-0", Fulfilment::Delivered, None)
                .await
                .unwrap(),
            "reported once"
        );
        assert!(
            !journal
                .record_reported("mousacard", "no-such-ref", Fulfilment::Delivered, None)
                .await
                .unwrap()
        );
        let open = journal.awaiting_report().await.unwrap();
        assert_eq!(references(&open), HashSet::from(["ref-1".to_owned()]));
    }
}

#[tokio::test]
async fn a_purchase_not_bought_awaits_nothing() {
    for (location, _dir) in locations() {
        let journal = Journal::open(&location).await.unwrap();
        let Claim::Claimed(entry, _hold) = journal.claim(&purchase("refused")).await.unwrap()
        else {
            panic!("new reference");
        };
        let failed = journal
            .record(&entry, Progress::to(State::Failed).detail("out of stock"))
            .await
            .unwrap();
        assert_eq!(failed.fulfilment, None);
        assert!(
            journal.awaiting_report().await.unwrap().is_empty(),
            "{location}"
        );
    }
}

/// A journal as the release before fulfilment tracking wrote it (schema version 1),
/// with one bought and one failed purchase: opening it migrates it, and the bought
/// one awaits its goods.
#[tokio::test]
async fn a_version_1_journal_migrates_and_its_bought_purchases_are_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v1.sqlite3");
    {
        let conn = rusqlite::Connection::open(&file).unwrap();
        conn.execute_batch(include_str!("../migrations/sqlite/0001_purchases.sql"))
            .unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE journal_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL);
             INSERT INTO journal_migrations VALUES (1, 'purchases', '2026-11-30T10:00:00Z');
             {V1_ROWS}"
        ))
        .unwrap();
    }
    check_migrated(&file.display().to_string()).await;

    if postgres::available() {
        let location = postgres::fresh_database();
        let pool = sqlx::PgPool::connect(&location).await.unwrap();
        sqlx::raw_sql(include_str!("../migrations/postgres/0001_purchases.sql"))
            .execute(&pool)
            .await
            .unwrap();
        sqlx::raw_sql(&format!(
            "CREATE TABLE journal_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL);
             INSERT INTO journal_migrations VALUES (1, 'purchases', '2026-11-30T10:00:00Z');
             {}",
            V1_ROWS.replace("'{}'", "'{}'::jsonb")
        ))
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        check_migrated(&location).await;
    }
}

const V1_ROWS: &str = "
    INSERT INTO purchases (supplier, reference, product_id, quantity, facts, state, order_id, attempt, started_at, updated_at)
    VALUES ('foxreload', 'old-bought', 'product_01krgfgww8eth9xvvysd6y7r4j', 1, '{}', 'bought', 'f0c3f7e', 1,
            '2026-11-30T10:00:00.000000Z', '2026-11-30T10:00:01.000000Z');
    INSERT INTO purchases (supplier, reference, product_id, quantity, facts, state, attempt, detail, started_at, updated_at)
    VALUES ('foxreload', 'old-failed', 'product_01krgfgww8eth9xvvysd6y7r4j', 1, '{}', 'failed', 1, 'refused',
            '2026-11-30T10:00:00.000000Z', '2026-11-30T10:00:01.000000Z');";

async fn check_migrated(location: &str) {
    let journal = Journal::open(location).await.unwrap();
    let open = journal.awaiting_report().await.unwrap();
    assert_eq!(
        references(&open),
        HashSet::from(["old-bought".to_owned()]),
        "{location}"
    );
    assert_eq!(open[0].fulfilment, Some(Fulfilment::Awaiting));
    assert_eq!(open[0].order_id.as_deref(), Some("f0c3f7e"));
    let failed = journal
        .get("foxreload", "old-failed")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.fulfilment, None);
    let claimed = journal.claim_for_tracking(10).await.unwrap();
    assert_eq!(references(&claimed), references(&open));
}
