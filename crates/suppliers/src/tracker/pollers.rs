//! How the tracker asks each supplier about the orders it follows: one task per
//! supplier, reading the shared [`Watched`] set and sending each order it sees settle.
//! None of them writes the journal; the tracker does.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use super::{Found, Key, TrackerConfig, Watched, WatchedOrder};
use crate::adapters::cryptorefills::{Cryptorefills, PAYMENT_WINDOW};
use crate::adapters::foxreload::{FoxReload, normalise as normalise_foxreload};
use crate::adapters::mousacard::MousaCard;
use crate::error::Error;
use crate::model::{Order, SupplierId};

/// FoxReload's reads of orders missing from every list, in flight at once.
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
///
/// Polls leave as the pacer allows, the least recently asked first, with
/// [`TrackerConfig::reads_in_flight`] at once: no pass waits for its slowest read, so
/// the whole budget goes to polls whatever the supplier's distance.
pub(crate) async fn cryptorefills(
    cr: Cryptorefills,
    watched: Arc<Watched>,
    found: UnboundedSender<Found>,
    config: TrackerConfig,
) {
    let mut streams: JoinSet<(Key, Result<Order, Error>)> = JoinSet::new();
    let mut streaming: HashMap<Key, AbortHandle> = HashMap::new();
    let mut polled_only: HashSet<Key> = HashSet::new();
    // When each polled order was last asked, and when it is next due.
    let mut polls: HashMap<Key, (Instant, Instant)> = HashMap::new();
    // Due orders not yet asked, least recently asked first; refilled at every look.
    let mut due: VecDeque<(Key, WatchedOrder)> = VecDeque::new();
    let mut reads = FuturesUnordered::new();
    let mut reading: HashSet<Key> = HashSet::new();
    let tick = config.min_poll_delay.min(Duration::from_millis(250));
    let in_flight = config.reads_in_flight();
    let mut next_look = Instant::now();
    loop {
        if Instant::now() >= next_look {
            next_look = Instant::now() + tick;
            let mut orders = watched.of(SupplierId::Cryptorefills);
            let current: HashSet<&Key> = orders.iter().map(|(key, _)| key).collect();
            streaming.retain(|key, stream| {
                let keep = current.contains(key);
                if !keep {
                    stream.abort();
                }
                keep
            });
            polls.retain(|key, _| current.contains(key));
            polled_only.retain(|key| current.contains(key));

            // Newest first: they get the streams.
            orders.sort_by_key(|(_, order)| std::cmp::Reverse(order.bought_at));
            for (key, order) in &orders {
                if streaming.len() >= config.max_streams {
                    break;
                }
                if streaming.contains_key(key) || polled_only.contains(key) || reading.contains(key)
                {
                    continue;
                }
                let (cr, key2, id) = (cr.clone(), key.clone(), order.order_id.clone());
                let handle =
                    streams.spawn(async move { (key2, cr.wait_for_order(&id, STREAM_WAIT).await) });
                streaming.insert(key.clone(), handle);
            }

            let now = Instant::now();
            let mut ready: Vec<(Key, WatchedOrder)> = orders
                .into_iter()
                .filter(|(key, _)| !streaming.contains_key(key) && !reading.contains(key))
                .filter(|(key, _)| polls.get(key).is_none_or(|(_, next)| *next <= now))
                .collect();
            ready.sort_by_key(|(key, _)| polls.get(key).map(|(last, _)| *last));
            due = ready.into();
        }

        while reads.len() < in_flight
            && let Some((key, watched)) = due.pop_front()
        {
            reading.insert(key.clone());
            let cr = cr.clone();
            reads.push(async move {
                let read = cr.order(&watched.order_id).await;
                (key, watched, read)
            });
        }

        tokio::select! {
            Some((key, watched, read)) = reads.next() => {
                reading.remove(&key);
                let age = (chrono::Utc::now() - watched.bought_at)
                    .to_std()
                    .unwrap_or_default();
                let now = Instant::now();
                polls.insert(key.clone(), (now, now + poll_delay(age, &config)));
                send_if_settled(&found, key, read);
            }
            Some(ended) = streams.join_next() => {
                let Ok((key, outcome)) = ended else { continue };
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
            () = tokio::time::sleep_until(next_look) => {}
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

    #[test]
    fn polls_in_flight_cover_half_a_second_of_the_budget() {
        let at = |requests_per_second| {
            TrackerConfig {
                requests_per_second,
                ..TrackerConfig::default()
            }
            .reads_in_flight()
        };
        assert_eq!(at(10.0), 8);
        assert_eq!(at(200.0), 100);
        assert_eq!(at(1e9), 1024);
        assert_eq!(at(f64::INFINITY), 8);
    }
}
