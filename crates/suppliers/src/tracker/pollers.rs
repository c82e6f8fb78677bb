//! How the tracker asks each supplier about the orders it follows: one task per
//! supplier, reading the shared [`Watched`] set and sending each order it sees settle.
//! None of them writes the journal; the tracker does.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use super::{Found, Key, TrackerConfig, Watched, WatchedOrder};
use crate::adapters::cryptorefills::{Cryptorefills, PAYMENT_WINDOW};
use crate::adapters::foxreload::{FoxReload, normalise as normalise_foxreload};
use crate::adapters::mousacard::MousaCard;
use crate::error::Error;
use crate::model::{Order, SupplierId};

/// Reads in flight at once per supplier (the pacer sets the rate).
const CONCURRENT_READS: usize = 8;

/// FoxReload: every round, the `paid` and `processing` order lists (100 a page, back to
/// the oldest order followed); an order in neither is looked for in the `completed`,
/// `failed` and `cancelled` lists (their items carry the codes), and read once if it
/// is in none of them.
pub(crate) async fn foxreload(
    fox: FoxReload,
    watched: Arc<Watched>,
    found: UnboundedSender<Found>,
    config: TrackerConfig,
) {
    loop {
        let orders = watched.of(SupplierId::FoxReload);
        if !orders.is_empty()
            && let Err(err) = foxreload_round(&fox, orders, &found).await
        {
            tracing::warn!(supplier = "foxreload", error = %err, "tracking round failed; trying again next round");
        }
        tokio::time::sleep(config.round).await;
    }
}

/// How much older than the oldest followed order a list is read back to: FoxReload
/// stamps `createdAt` on its own clock.
const CLOCK_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

async fn foxreload_round(
    fox: &FoxReload,
    orders: Vec<(Key, WatchedOrder)>,
    found: &UnboundedSender<Found>,
) -> Result<(), Error> {
    use foxreload::types::OrderStatus;
    let Some(oldest) = orders.iter().map(|(_, order)| order.bought_at).min() else {
        return Ok(());
    };
    let since = oldest - CLOCK_MARGIN;
    let mut left: HashMap<String, Key> = orders
        .into_iter()
        .map(|(key, order)| (order.order_id, key))
        .collect();
    for status in [OrderStatus::Paid, OrderStatus::Processing] {
        for order in fox.orders_since(since, Some(status)).await? {
            left.remove(&order.id);
        }
    }
    for status in [
        OrderStatus::Completed,
        OrderStatus::Failed,
        OrderStatus::Cancelled,
    ] {
        if left.is_empty() {
            return Ok(());
        }
        for order in fox.orders_since(since, Some(status)).await? {
            if let Some(key) = left.remove(&order.id) {
                send_if_settled(found, key, Ok(normalise_foxreload(order)));
            }
        }
    }
    futures::stream::iter(left)
        .map(|(order_id, key)| async move { (key, fox.order(&order_id).await) })
        .buffer_unordered(CONCURRENT_READS)
        .for_each(|(key, read)| {
            send_if_settled(found, key, read);
            std::future::ready(())
        })
        .await;
    Ok(())
}

/// MousaCard: every round, the batch status endpoint, 50 ids a request.
pub(crate) async fn mousacard(
    mousa: MousaCard,
    watched: Arc<Watched>,
    found: UnboundedSender<Found>,
    config: TrackerConfig,
) {
    loop {
        let orders = watched.of(SupplierId::MousaCard);
        let mut keys: HashMap<String, Key> = HashMap::new();
        let ids: Vec<u64> = orders
            .into_iter()
            .filter_map(|(key, order)| {
                let id = order.order_id.parse().ok()?;
                keys.insert(order.order_id, key);
                Some(id)
            })
            .collect();
        if !ids.is_empty() {
            match mousa.orders_now(&ids).await {
                Ok(now) => {
                    for order in now {
                        if let Some(key) = keys.remove(&order.id) {
                            send_if_settled(&found, key, Ok(order));
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(supplier = "mousacard", error = %err, "tracking round failed; trying again next round");
                }
            }
        }
        tokio::time::sleep(config.round).await;
    }
}

/// How long one Cryptorefills stream follows its order: past the payment window, so
/// an unpaid order is seen to expire.
const STREAM_WAIT: Duration = Duration::from_secs(2 * PAYMENT_WINDOW.as_secs());

/// Cryptorefills: the most recent orders over Server-Sent Events (up to
/// [`TrackerConfig::max_streams`]), the rest polled with a delay that grows with the
/// order's age. An order whose stream ended without settling is polled from then on.
pub(crate) async fn cryptorefills(
    cr: Cryptorefills,
    watched: Arc<Watched>,
    found: UnboundedSender<Found>,
    config: TrackerConfig,
) {
    let mut streams: JoinSet<(Key, Result<Order, Error>)> = JoinSet::new();
    let mut streaming: HashMap<Key, AbortHandle> = HashMap::new();
    let mut polled_only: HashSet<Key> = HashSet::new();
    let mut next_poll: HashMap<Key, Instant> = HashMap::new();
    let tick = config.min_poll_delay.min(Duration::from_millis(250));
    let polls_per_tick =
        ((config.requests_per_second * tick.as_secs_f64()).ceil() as usize).max(CONCURRENT_READS);
    loop {
        let mut orders = watched.of(SupplierId::Cryptorefills);
        let current: HashSet<&Key> = orders.iter().map(|(key, _)| key).collect();
        streaming.retain(|key, stream| {
            let keep = current.contains(key);
            if !keep {
                stream.abort();
            }
            keep
        });
        next_poll.retain(|key, _| current.contains(key));
        polled_only.retain(|key| current.contains(key));

        // Newest first: they get the streams.
        orders.sort_by_key(|(_, order)| std::cmp::Reverse(order.bought_at));
        for (key, order) in &orders {
            if streaming.len() >= config.max_streams {
                break;
            }
            if streaming.contains_key(key) || polled_only.contains(key) {
                continue;
            }
            let (cr, key2, id) = (cr.clone(), key.clone(), order.order_id.clone());
            let handle =
                streams.spawn(async move { (key2, cr.wait_for_order(&id, STREAM_WAIT).await) });
            streaming.insert(key.clone(), handle);
        }

        // The longest-waiting polls first, no more than the pace allows in one tick:
        // a long polling pass would hold back the streams' outcomes.
        let now = Instant::now();
        let mut due: Vec<(Key, WatchedOrder)> = orders
            .into_iter()
            .filter(|(key, _)| !streaming.contains_key(key))
            .filter(|(key, _)| next_poll.get(key).is_none_or(|at| *at <= now))
            .collect();
        due.sort_by_key(|(key, _)| next_poll.get(key).copied());
        // More are due than one tick takes: go on without pausing.
        let pause = match due.len() > polls_per_tick {
            true => Duration::ZERO,
            false => tick,
        };
        due.truncate(polls_per_tick);
        let polled: Vec<(Key, WatchedOrder, Result<Order, Error>)> = futures::stream::iter(due)
            .map(|(key, watched)| {
                let cr = &cr;
                async move {
                    let read = cr.order(&watched.order_id).await;
                    (key, watched, read)
                }
            })
            .buffer_unordered(CONCURRENT_READS)
            .collect()
            .await;
        for (key, watched, read) in polled {
            let age = (chrono::Utc::now() - watched.bought_at)
                .to_std()
                .unwrap_or_default();
            next_poll.insert(key.clone(), Instant::now() + poll_delay(age, &config));
            send_if_settled(&found, key, read);
        }

        // Every stream that ended by now, then the next tick.
        let mut ended = Vec::new();
        tokio::select! {
            Some(first) = streams.join_next() => ended.push(first),
            () = tokio::time::sleep(pause) => {}
        }
        while let Some(more) = streams.try_join_next() {
            ended.push(more);
        }
        for (key, outcome) in ended.into_iter().filter_map(Result::ok) {
            streaming.remove(&key);
            match outcome {
                Ok(order) if order.status.is_terminal() => send_if_settled(&found, key, Ok(order)),
                outcome => {
                    if let Err(err) = outcome {
                        tracing::warn!(supplier = "cryptorefills", error = %err, "order stream ended; polling the order instead");
                    }
                    polled_only.insert(key);
                }
            }
        }
    }
}

/// A polled order's next delay: a tenth of its age, within the configured bounds.
fn poll_delay(age: Duration, config: &TrackerConfig) -> Duration {
    (age / 10).clamp(
        config.min_poll_delay,
        config.max_poll_delay.max(config.min_poll_delay),
    )
}

fn send_if_settled(found: &UnboundedSender<Found>, key: Key, read: Result<Order, Error>) {
    match read {
        Ok(order) if order.status.is_terminal() => {
            let _ = found.send(Found { key, order });
        }
        Ok(_) => {}
        Err(err) => {
            tracing::warn!(supplier = %key.0, reference = %key.1, error = %err, "could not read a tracked order");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_polled_order_is_asked_less_often_as_it_ages() {
        let config = TrackerConfig::default();
        let at = |secs| poll_delay(Duration::from_secs(secs), &config);
        assert_eq!(at(0), config.min_poll_delay);
        assert_eq!(at(300), Duration::from_secs(30));
        assert_eq!(at(100_000), config.max_poll_delay);
    }
}
