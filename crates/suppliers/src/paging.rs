//! Walking paginated endpoints lazily: the next page is fetched only when the consumer
//! has taken every item of the current one.

use std::future::Future;

use futures::{Stream, StreamExt, stream};

use crate::error::Error;

/// Streams every item of every page. `fetch(cursor)` returns a page's items and the
/// cursor of the next page, if any. An error ends the stream after being yielded.
pub(crate) fn walk<C, T, F, Fut>(first: C, mut fetch: F) -> impl Stream<Item = Result<T, Error>>
where
    F: FnMut(C) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<C>), Error>>,
{
    stream::unfold(Some(first), move |cursor| {
        let page = cursor.map(&mut fetch);
        async move {
            match page?.await {
                Ok((items, next)) => Some((Ok(items), next)),
                Err(err) => Some((Err(err), None)),
            }
        }
    })
    .flat_map(|page| match page {
        Ok(items) => stream::iter(items.into_iter().map(Ok)).left_stream(),
        Err(err) => stream::once(async { Err(err) }).right_stream(),
    })
}

/// The next offset of an offset-paginated list, or `None` at the end.
pub(crate) fn next_offset(offset: u64, got: usize, total: Option<u64>) -> Option<u64> {
    let next = offset + got as u64;
    match total {
        _ if got == 0 => None,
        Some(total) if next >= total => None,
        _ => Some(next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn pages_are_fetched_only_when_needed() {
        let fetched = Arc::new(Mutex::new(Vec::new()));
        let log = fetched.clone();
        let items = walk(0u64, move |offset| {
            log.lock().unwrap().push(offset);
            async move {
                let page: Vec<u64> = (offset..(offset + 3).min(7)).collect();
                let next = next_offset(offset, page.len(), Some(7));
                Ok((page, next))
            }
        });
        futures::pin_mut!(items);
        let first: Vec<u64> = items.as_mut().take(2).map(Result::unwrap).collect().await;
        assert_eq!(first, [0, 1]);
        assert_eq!(*fetched.lock().unwrap(), [0]);
        let rest: Vec<u64> = items.map(Result::unwrap).collect().await;
        assert_eq!(rest, [2, 3, 4, 5, 6]);
        assert_eq!(*fetched.lock().unwrap(), [0, 3, 6]);
    }

    #[test]
    fn offsets_stop_at_total_or_an_empty_page() {
        assert_eq!(next_offset(0, 50, Some(120)), Some(50));
        assert_eq!(next_offset(100, 20, Some(120)), None);
        assert_eq!(next_offset(0, 0, None), None);
        assert_eq!(next_offset(0, 10, None), Some(10));
    }
}
