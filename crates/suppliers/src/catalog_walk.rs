//! Catalog walks at network speed: a supplier's catalog pages are fetched several at a
//! time, and still come out in the order a one-at-a-time walk gives, lazily.
//!
//! Each adapter holds one `CatalogLimit`, shared by its clones: at most that many
//! catalog requests of the supplier are in flight at once, whatever number of walks
//! run. A walk looks ahead by as many pages as the limit allows (`buffered`), so what it
//! holds is a few pages, never the catalog. Every request still waits on the supplier's
//! [`crate::pacer::Pacer`], so a 429 with `Retry-After` pauses the whole walk.
//!
//! Fetches run as tasks of their own: a fetch that holds a permit always makes progress
//! (a walk nested in another one could otherwise hold permits in futures nobody polls),
//! and is cancelled when its walk is dropped.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt, stream};
use tokio::sync::Semaphore;

use crate::error::Error;
use crate::model::SupplierId;

/// Catalog requests in flight per supplier unless set otherwise
/// ([`crate::SuppliersBuilder::catalog_concurrency`]).
pub const DEFAULT_CATALOG_CONCURRENCY: usize = 8;

/// One page of a walk, fetched or being fetched.
pub(crate) type PageFuture<T> = BoxFuture<'static, Result<Vec<T>, Error>>;

/// How many catalog requests of one supplier may be in flight; clones share the count.
#[derive(Debug, Clone)]
pub(crate) struct CatalogLimit {
    limit: usize,
    permits: Arc<Semaphore>,
}

impl Default for CatalogLimit {
    fn default() -> Self {
        Self::new(DEFAULT_CATALOG_CONCURRENCY)
    }
}

impl CatalogLimit {
    /// At most `limit` requests at once (0 counts as 1).
    pub(crate) fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            limit,
            permits: Arc::new(Semaphore::new(limit)),
        }
    }

    /// The limit, which is also how many pages a walk fetches ahead.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Runs `fetch` once a permit is free, as a task that holds the permit until it
    /// ends. Dropping the returned future cancels the task.
    pub(crate) fn fetch<T, F>(
        &self,
        supplier: SupplierId,
        fetch: F,
    ) -> BoxFuture<'static, Result<T, Error>>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let permits = self.permits.clone();
        let task = AbortOnDrop(tokio::spawn(async move {
            // Never closed: every semaphore here lives as long as its holders.
            let _permit = permits.acquire_owned().await.ok();
            fetch.await
        }));
        async move {
            let mut task = task;
            match (&mut task.0).await {
                Ok(result) => result,
                Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                Err(_) => Err(Error::Transport {
                    supplier,
                    message: "the catalog request was cancelled (the runtime is shutting down)"
                        .into(),
                }),
            }
        }
        .boxed()
    }
}

/// A spawned task, aborted when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The items of `pages`, in order, with up to `ahead` pages being fetched at once. An
/// error ends the stream after the items of the pages before it.
pub(crate) fn ordered_items<T, S>(pages: S, ahead: usize) -> impl Stream<Item = Result<T, Error>>
where
    S: Stream<Item = PageFuture<T>>,
{
    until_error(pages.buffered(ahead.max(1))).flat_map(|page| match page {
        Ok(items) => stream::iter(items.into_iter().map(Ok)).left_stream(),
        Err(err) => stream::once(async { Err(err) }).right_stream(),
    })
}

/// `results` up to and including its first error.
pub(crate) fn until_error<T, S>(results: S) -> impl Stream<Item = Result<T, Error>>
where
    S: Stream<Item = Result<T, Error>>,
{
    results.scan(false, |failed, result| {
        let next = (!*failed).then(|| {
            *failed = result.is_err();
            result
        });
        futures::future::ready(next)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures::TryStreamExt;

    const SUPPLIER: SupplierId = SupplierId::FoxReload;

    /// Page `n` holds `[n * 10, n * 10 + 1]` and takes longer the earlier it is, so
    /// pages finish in reverse order.
    fn pages(
        limit: &CatalogLimit,
        count: u64,
        in_flight: Arc<AtomicUsize>,
        peak: Arc<AtomicUsize>,
    ) -> impl Stream<Item = PageFuture<u64>> + use<> {
        let limit = limit.clone();
        stream::iter(0..count).map(move |n| {
            let (in_flight, peak) = (in_flight.clone(), peak.clone());
            limit.fetch(SUPPLIER, async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5 * (count - n))).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                if n == 7 {
                    return Err(Error::Transport {
                        supplier: SUPPLIER,
                        message: "page 7".into(),
                    });
                }
                Ok(vec![n * 10, n * 10 + 1])
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn pages_come_out_in_order_with_at_most_the_limit_in_flight() {
        for limit in [1, 3, 8] {
            let catalog = CatalogLimit::new(limit);
            let (in_flight, peak) = (Arc::default(), Arc::new(AtomicUsize::new(0)));
            let items: Vec<u64> =
                ordered_items(pages(&catalog, 7, in_flight, peak.clone()), catalog.limit())
                    .try_collect()
                    .await
                    .unwrap();
            let expected: Vec<u64> = (0..7).flat_map(|n| [n * 10, n * 10 + 1]).collect();
            assert_eq!(items, expected, "limit {limit}");
            assert_eq!(peak.load(Ordering::SeqCst), limit.min(7), "limit {limit}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_ends_the_stream_after_the_pages_before_it() {
        let catalog = CatalogLimit::new(4);
        let (in_flight, peak) = (Arc::default(), Arc::default());
        let results: Vec<Result<u64, Error>> =
            ordered_items(pages(&catalog, 12, in_flight, peak), catalog.limit())
                .collect()
                .await;
        let (items, errors): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        let items: Vec<u64> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            items,
            (0..7)
                .flat_map(|n| [n * 10, n * 10 + 1])
                .collect::<Vec<_>>()
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("page 7")
        );
    }

    #[tokio::test]
    async fn a_dropped_walk_cancels_its_fetches_and_frees_their_permits() {
        let catalog = CatalogLimit::new(1);
        let started = Arc::new(AtomicUsize::new(0));
        let seen = started.clone();
        let stuck = catalog.fetch(SUPPLIER, async move {
            seen.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<(), Error>>().await
        });
        while started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        drop(stuck);
        let next = catalog.fetch(SUPPLIER, async { Ok(5) });
        let five = tokio::time::timeout(Duration::from_secs(5), next).await;
        assert_eq!(five.expect("the permit was freed").unwrap(), 5);
        assert_eq!(CatalogLimit::new(0).limit(), 1, "0 counts as 1");
    }
}
