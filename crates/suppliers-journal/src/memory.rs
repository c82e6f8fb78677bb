//! A journal store in this process's memory: a map behind a mutex.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::{
    Entry, Fulfilment, JournalError, JournalStore, NewClaim, ProgressRecord, Settlement, Takeover,
};

/// Supplier and reference.
type Key = (String, String);

/// A [`JournalStore`] in this process's memory: entries in a map behind one mutex, so
/// each operation is atomic among this process's tasks.
///
/// **It protects one process only.** Two processes each have their own store and know
/// nothing of each other's claims: the same reference may be bought once in each. And
/// everything is gone when the process ends, so a purchase cut off mid-request cannot be
/// reconciled afterwards. For tests, sandbox runs and single-process tools; a journal
/// shared by processes or machines needs a database (an SQLite file, PostgreSQL, or an
/// application's own [`JournalStore`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use suppliers_journal::{Journal, MemoryStore};
///
/// let journal = Journal::from_store(Arc::new(MemoryStore::new()));
/// assert_eq!(journal.location(), ":memory:");
/// # }
/// ```
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<Key, Entry>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.lock().len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Key, Entry>> {
        // A panic elsewhere never leaves an entry half-written: each change is one
        // assignment.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `change` to the entry of `supplier` and `reference` when `holds` says so;
    /// whether it did.
    fn change_if(
        &self,
        supplier: &str,
        reference: &str,
        holds: impl FnOnce(&Entry) -> bool,
        change: impl FnOnce(&mut Entry),
    ) -> bool {
        let mut entries = self.lock();
        match entries.get_mut(&key(supplier, reference)) {
            Some(entry) if holds(entry) => {
                change(entry);
                true
            }
            _ => false,
        }
    }

    /// Applies `change` to every entry `select` picks; how many.
    fn change_all(&self, select: impl Fn(&Entry) -> bool, change: impl Fn(&mut Entry)) -> u64 {
        let mut changed = 0;
        for entry in self.lock().values_mut().filter(|e| select(e)) {
            change(entry);
            changed += 1;
        }
        changed
    }

    fn select(&self, select: impl Fn(&Entry) -> bool) -> Vec<Entry> {
        self.lock()
            .values()
            .filter(|e| select(e))
            .cloned()
            .collect()
    }
}

fn key(supplier: &str, reference: &str) -> Key {
    (supplier.to_owned(), reference.to_owned())
}

fn held_by(entry: &Entry, owner: &str) -> bool {
    entry.owner.as_deref() == Some(owner)
}

#[async_trait::async_trait]
impl JournalStore for MemoryStore {
    fn location(&self) -> String {
        ":memory:".into()
    }

    async fn insert(&self, claim: &NewClaim<'_>) -> Result<bool, JournalError> {
        let purchase = claim.purchase;
        let mut entries = self.lock();
        let key = key(&purchase.supplier, &purchase.reference);
        if entries.contains_key(&key) {
            return Ok(false);
        }
        entries.insert(key, claim.entry());
        Ok(true)
    }

    async fn reclaim(&self, claim: &NewClaim<'_>) -> Result<Option<Entry>, JournalError> {
        let purchase = claim.purchase;
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(&key(&purchase.supplier, &purchase.reference)) else {
            return Ok(None);
        };
        let same = entry.product_id == purchase.product_id && entry.quantity == purchase.quantity;
        if !(same && entry.state.may_buy_again()) {
            return Ok(None);
        }
        *entry = Entry {
            attempt: entry.attempt + 1,
            ..claim.entry()
        };
        Ok(Some(entry.clone()))
    }

    async fn get(&self, supplier: &str, reference: &str) -> Result<Option<Entry>, JournalError> {
        Ok(self.lock().get(&key(supplier, reference)).cloned())
    }

    async fn unresolved(&self) -> Result<Vec<Entry>, JournalError> {
        Ok(self.select(|e| !e.state.is_resolved()))
    }

    async fn all_entries(&self) -> Result<Vec<Entry>, JournalError> {
        Ok(self.select(|_| true))
    }

    async fn known_orders(
        &self,
        supplier: &str,
    ) -> Result<Vec<(String, DateTime<Utc>)>, JournalError> {
        let entries = self.lock();
        let known = entries.values().filter(|e| e.supplier == supplier);
        Ok(known
            .filter_map(|e| Some((e.order_id.clone()?, e.started_at)))
            .collect())
    }

    async fn record(&self, record: &ProgressRecord<'_>) -> Result<bool, JournalError> {
        Ok(self.change_if(
            record.supplier,
            record.reference,
            |e| held_by(e, record.owner),
            |e| *e = e.with_progress(record.progress, record.now),
        ))
    }

    async fn take(&self, takeover: &Takeover<'_>) -> Result<Option<Entry>, JournalError> {
        let seen = takeover.seen;
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(&key(&seen.supplier, &seen.reference)) else {
            return Ok(None);
        };
        if (entry.state, &entry.owner, entry.attempt) != (seen.state, &seen.owner, seen.attempt) {
            return Ok(None);
        }
        entry.owner = Some(takeover.owner.to_owned());
        entry.lease_until = Some(takeover.lease_until);
        entry.updated_at = takeover.now;
        Ok(Some(entry.clone()))
    }

    async fn renew(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        Ok(self.change_if(
            supplier,
            reference,
            |e| held_by(e, owner),
            |e| e.lease_until = Some(lease_until),
        ))
    }

    async fn release(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
    ) -> Result<bool, JournalError> {
        Ok(self.change_if(
            supplier,
            reference,
            |e| held_by(e, owner),
            |e| (e.owner, e.lease_until) = (None, None),
        ))
    }

    async fn awaiting_report(&self) -> Result<Vec<Entry>, JournalError> {
        Ok(self.select(Entry::awaits_report))
    }

    async fn claim_for_tracking(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Entry>, JournalError> {
        let mut entries = self.lock();
        let free = |e: &Entry| e.owner.is_none() || e.lease_until.is_none_or(|t| t <= now);
        let mut open: Vec<&mut Entry> = entries
            .values_mut()
            .filter(|e| e.awaits_report() && free(e))
            .collect();
        open.sort_by_key(|e| e.started_at);
        Ok(open
            .into_iter()
            .take(limit)
            .map(|entry| {
                entry.taken_over_from = entry.owner.replace(owner.to_owned());
                entry.lease_until = Some(lease_until);
                entry.clone()
            })
            .collect())
    }

    async fn renew_tracking(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<u64, JournalError> {
        Ok(self.change_all(
            |e| held_by(e, owner) && e.awaits_report(),
            |e| e.lease_until = Some(lease_until),
        ))
    }

    async fn release_tracking(&self, owner: &str) -> Result<u64, JournalError> {
        Ok(self.change_all(
            |e| held_by(e, owner) && e.awaits_report(),
            |e| (e.owner, e.lease_until) = (None, None),
        ))
    }

    async fn settle(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        settlement: Settlement<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        Ok(self.change_if(
            supplier,
            reference,
            |e| held_by(e, owner) && e.fulfilment == Some(Fulfilment::Awaiting),
            |e| {
                e.fulfilment = Some(settlement.fulfilment);
                e.fulfilment_detail = settlement.detail.map(str::to_owned);
                e.settled_at = Some(now);
                e.updated_at = now;
            },
        ))
    }

    async fn mark_reported(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        Ok(self.change_if(
            supplier,
            reference,
            |e| held_by(e, owner) && e.reported_at.is_none(),
            |e| {
                e.reported_at = Some(now);
                e.updated_at = now;
                (e.owner, e.lease_until) = (None, None);
            },
        ))
    }

    async fn record_reported(
        &self,
        supplier: &str,
        reference: &str,
        settlement: Settlement<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        Ok(
            self.change_if(supplier, reference, Entry::awaits_report, |e| {
                e.fulfilment = Some(settlement.fulfilment);
                if let Some(detail) = settlement.detail {
                    e.fulfilment_detail = Some(detail.to_owned());
                }
                e.settled_at = e.settled_at.or(Some(now));
                e.reported_at = Some(now);
                e.updated_at = now;
            }),
        )
    }

    async fn record_report_failure(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        error: &str,
    ) -> Result<bool, JournalError> {
        Ok(self.change_if(
            supplier,
            reference,
            |e| held_by(e, owner) && e.reported_at.is_none(),
            |e| {
                e.report_attempts += 1;
                e.report_error = Some(error.to_owned());
            },
        ))
    }
}
