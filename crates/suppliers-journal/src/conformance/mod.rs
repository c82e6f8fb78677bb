//! A test suite for [`JournalStore`] implementations: every promise the journal relies
//! on, checked through the trait (and through [`crate::Journal::from_store`] where the
//! journal's own decisions meet the store's).
//!
//! An implementer calls [`check`] from a test of their own, with a factory that gives a
//! fresh, empty store per case (a new database, a new schema, a truncated table...).
//! A broken promise panics with the case, the store's location, and the promise:
//!
//! ```no_run
//! use std::sync::Arc;
//! use suppliers_journal::{JournalStore, MemoryStore, conformance};
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn my_store_keeps_the_journals_promises() {
//!     conformance::check(|| async {
//!         // Here: an empty store over the application's database.
//!         Arc::new(MemoryStore::new()) as Arc<dyn JournalStore>
//!     })
//!     .await;
//! }
//! # fn main() {}
//! ```
//!
//! Concurrent cases spawn tasks on the caller's Tokio runtime: a multi-threaded one runs
//! them in parallel. The cases pass their own times (`now`, leases) and need no clock,
//! except the journal-level ones, which wait a few tens of milliseconds for a lease to
//! lapse.

mod case;
mod claims;
mod holds;
mod journal;
mod tracking;

use std::future::Future;
use std::sync::Arc;

use crate::JournalStore;
use case::Case;

/// Runs every case, each on a store from `new_store`, and panics at the first broken
/// promise (naming it).
pub async fn check<F, Fut>(mut new_store: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn JournalStore>>,
{
    macro_rules! cases {
        ($($module:ident :: $case:ident),* $(,)?) => {
            $( $module::$case(&Case::new(stringify!($case), new_store().await)).await; )*
        };
    }
    cases!(
        claims::insert_claims_each_key_once,
        claims::concurrent_inserts_have_one_winner,
        claims::reclaim_follows_only_an_attempt_that_bought_nothing,
        claims::concurrent_reclaims_have_one_winner,
        holds::record_is_the_holders_alone,
        holds::record_without_waiting_is_written_by_flush,
        holds::take_is_compare_and_set,
        holds::concurrent_takes_have_one_winner,
        holds::renew_and_release_are_the_holders_alone,
        claims::lists_select_by_state_and_supplier,
        tracking::awaiting_report_lists_bought_unreported_entries,
        tracking::tracking_claims_take_the_oldest_free_entries,
        tracking::tracking_claims_take_over_lapsed_leases_only,
        tracking::concurrent_tracking_claims_never_share_an_entry,
        tracking::tracking_leases_renew_and_release_only_tracked_entries,
        tracking::settle_is_the_trackers_and_once,
        tracking::mark_reported_is_the_trackers_and_once,
        tracking::record_reported_needs_no_hold_and_happens_once,
        tracking::report_failures_are_counted_for_the_tracker,
        journal::journals_on_one_store_claim_a_reference_once,
        journal::journals_respect_live_holds_and_take_over_lapsed_ones,
    );
}
