//! The journal's side of fulfilment tracking: which bought purchases still await a
//! report, who follows each (a tracker's lease, on the same `owner` and `lease_until`
//! columns a purchase's holder uses: a bought entry has none), and what was reported.
//!
//! Several trackers share the open entries: [`Journal::claim_for_tracking`] takes only
//! entries nobody holds or whose holder's lease lapsed, in one store operation
//! ([`crate::JournalStore::claim_for_tracking`]: PostgreSQL skips rows another claim has
//! locked, `FOR UPDATE SKIP LOCKED`; SQLite runs one writer at a time), so each entry is
//! followed by one tracker at a time.

use crate::{Entry, Fulfilment, Journal, JournalError, Settlement, now, oldest_first};

impl Journal {
    /// Every bought entry whose outcome has not been reported yet (awaiting its goods,
    /// or settled and not yet taken by the caller), oldest first, whoever holds it.
    pub async fn awaiting_report(&self) -> Result<Vec<Entry>, JournalError> {
        Ok(oldest_first(self.store.awaiting_report().await?))
    }

    /// Takes up to `limit` entries awaiting a report that no tracker holds (or whose
    /// tracker's lease lapsed), for this process. They stay held while
    /// [`Self::renew_tracking`] runs every third of the lease, until each is
    /// [`Self::mark_reported`] or [`Self::release_tracking`] lets them go.
    pub async fn claim_for_tracking(&self, limit: usize) -> Result<Vec<Entry>, JournalError> {
        let now = now();
        let until = now + self.lease_delta();
        let claimed = self
            .store
            .claim_for_tracking(self.owner.id(), until, now, limit);
        claimed.await
    }

    /// Extends the lease of every entry this process tracks; returns how many it holds.
    pub async fn renew_tracking(&self) -> Result<u64, JournalError> {
        let until = now() + self.lease_delta();
        self.store.renew_tracking(self.owner.id(), until).await
    }

    /// Lets go of every entry this process tracks (another tracker may take them at
    /// once); returns how many.
    pub async fn release_tracking(&self) -> Result<u64, JournalError> {
        self.store.release_tracking(self.owner.id()).await
    }

    /// Records that the supplier settled a tracked entry's order: `delivered`, or
    /// `undelivered` with `detail` saying why. [`JournalError::NotHeld`] when this
    /// process no longer holds it or it was settled already.
    pub async fn settle(
        &self,
        entry: &Entry,
        fulfilment: Fulfilment,
        detail: Option<&str>,
    ) -> Result<Entry, JournalError> {
        let now = now();
        let settlement = Settlement { fulfilment, detail };
        let settled = self.store.settle(
            &entry.supplier,
            &entry.reference,
            self.owner.id(),
            settlement,
            now,
        );
        match settled.await? {
            true => Ok(Entry {
                fulfilment: Some(fulfilment),
                fulfilment_detail: detail.map(str::to_owned),
                settled_at: Some(now),
                updated_at: now,
                ..entry.clone()
            }),
            false => Err(self.not_held(entry)),
        }
    }

    /// Records that the caller took the report of a settled entry this process tracks,
    /// and lets go of it. `false`: it was not held by this process any more (another
    /// tracker took it over, or it was reported already).
    pub async fn mark_reported(&self, entry: &Entry) -> Result<bool, JournalError> {
        let marked =
            self.store
                .mark_reported(&entry.supplier, &entry.reference, self.owner.id(), now());
        marked.await
    }

    /// Records that the buyer itself showed the caller a settled order (e.g. `buy
    /// --wait` printed its codes): settled and reported at once, without a tracker's
    /// hold. `false` when the entry is not bought or was reported already.
    pub async fn record_reported(
        &self,
        supplier: &str,
        reference: &str,
        fulfilment: Fulfilment,
        detail: Option<&str>,
    ) -> Result<bool, JournalError> {
        let settlement = Settlement { fulfilment, detail };
        self.store
            .record_reported(supplier, reference, settlement, now())
            .await
    }

    /// Records that a settled entry's report was handed over and not accepted, and
    /// why (`error`, e.g. the webhook receiver's answer; never a secret). `false`: this
    /// process does not hold it any more, or it was reported already.
    pub async fn record_report_failure(
        &self,
        entry: &Entry,
        error: &str,
    ) -> Result<bool, JournalError> {
        let failed = self.store.record_report_failure(
            &entry.supplier,
            &entry.reference,
            self.owner.id(),
            error,
        );
        failed.await
    }

    fn not_held(&self, entry: &Entry) -> JournalError {
        JournalError::NotHeld {
            supplier: entry.supplier.clone(),
            reference: entry.reference.clone(),
        }
    }
}
