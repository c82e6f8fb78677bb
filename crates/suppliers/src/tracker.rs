//! [`Tracker`]: every bought purchase followed until its goods arrive (or the supplier
//! gives up on the order), and each outcome handed to the caller at least once.
//!
//! The journal says what to follow: every entry that reached `bought` awaits its
//! fulfilment until the caller has taken its report. A tracker claims those entries
//! under a lease (so several trackers on one PostgreSQL journal share them, and a dead
//! tracker's orders are taken over when its lease lapses), asks each supplier the way
//! its API allows, records the outcome (`delivered`, or `undelivered` with the
//! supplier's status), hands a [`Report`] to the caller's handler, and marks it
//! reported only once the handler returned `Ok`. A crash in between reports it again,
//! with the same [`Report::event_id`].
//!
//! How each supplier is asked:
//! - FoxReload: the order list filtered by status, 100 a page, back to the oldest order
//!   followed: `paid` and `processing` for the open ones; one that left both is looked
//!   for in the `completed`, `failed` and `cancelled` lists (their items carry the
//!   codes), and read once if it is in none of them.
//! - MousaCard: the 50-id batch status endpoint.
//! - Cryptorefills: Server-Sent Events for the most recent orders, up to
//!   [`TrackerConfig::max_streams`]; the rest polled with a delay that grows with the
//!   order's age, least recently asked first, [`TrackerConfig::reads_in_flight`] at
//!   once. An order its customer never pays ends `Expired`: undelivered.
//!
//! Every request goes through one [`Pacer`] per supplier
//! ([`TrackerConfig::requests_per_second`]), which a `Retry-After` answer pauses for
//! all of the tracker's requests to that supplier.
//!
//! ```no_run
//! # async fn run() -> Result<(), suppliers::Error> {
//! use suppliers::tracker::{Tracker, TrackerConfig};
//!
//! let suppliers = suppliers::Suppliers::from_env().await?; // and SUPPLIERS_JOURNAL
//! let tracker = Tracker::new(&suppliers, TrackerConfig::default())?;
//! let summary = tracker
//!     .run(
//!         |report| async move {
//!             // Store the codes, email the customer... `Err` hands it over again later.
//!             println!("{} {} {}", report.event_id, report.reference, report.order.status);
//!             Ok::<(), std::io::Error>(())
//!         },
//!         async { tokio::signal::ctrl_c().await.ok(); },
//!     )
//!     .await?;
//! println!("{} reported, {} still open", summary.reported, summary.still_open);
//! # Ok(()) }
//! ```

mod health;
mod pollers;
mod report_failure;

pub use health::TrackerHealth;
pub use report_failure::{Handling, ReportFailure};

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use suppliers_journal::{Entry, Fulfilment, Journal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::error::Error;
use crate::facade::Suppliers;
use crate::model::{Order, OrderStatus, SupplierId};
use crate::pacer::Pacer;
use health::SupplierGauges;
use report_failure::Next;

/// How a [`Tracker`] runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Keep running and take up new purchases as they are journaled (`false`: stop
    /// once nothing in the journal awaits a report).
    pub follow: bool,
    /// Give up after this long, leaving what is still open in the journal for the next
    /// run (`None`: no limit).
    pub timeout: Option<Duration>,
    /// Requests a second to each supplier, shared by all of the tracker's work.
    pub requests_per_second: f64,
    /// Cryptorefills orders followed over Server-Sent Events at once (the most recent);
    /// the rest are polled.
    pub max_streams: usize,
    /// How often FoxReload and MousaCard are asked, and the journal looked at for new
    /// purchases.
    pub round: Duration,
    /// Shortest delay between two polls of one Cryptorefills order; it grows with the
    /// order's age up to [`Self::max_poll_delay`].
    pub min_poll_delay: Duration,
    /// Longest delay between two polls of one Cryptorefills order.
    pub max_poll_delay: Duration,
    /// Most journal entries taken at one look.
    pub claim_batch: usize,
}

/// How far away a supplier may be (round trip) with polls still using the whole
/// request budget: [`TrackerConfig::reads_in_flight`] covers this much time.
const FARTHEST_ROUND_TRIP: Duration = Duration::from_millis(500);

impl TrackerConfig {
    /// Cryptorefills polls in flight at once: what the budget sends within a round trip
    /// of 500 ms, and at least 8. Reads waiting for the pacer count, but hold no
    /// connection.
    pub fn reads_in_flight(&self) -> usize {
        let budget = self.requests_per_second * FARTHEST_ROUND_TRIP.as_secs_f64();
        match budget.is_finite() {
            true => (budget.ceil() as usize).clamp(8, 1024),
            false => 8,
        }
    }
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            follow: false,
            timeout: Some(Duration::from_secs(3600)),
            requests_per_second: 10.0,
            max_streams: 64,
            round: Duration::from_secs(5),
            min_poll_delay: Duration::from_secs(5),
            max_poll_delay: Duration::from_secs(120),
            claim_batch: 1000,
        }
    }
}

/// One settled order, as the caller's handler receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The same every time this outcome of this purchase is reported: deduplicate on it.
    pub event_id: String,
    /// `Delivered` or `Undelivered`.
    pub outcome: Fulfilment,
    /// Why the goods were not delivered (the supplier's status), for `Undelivered`.
    pub reason: Option<String>,
    /// The caller's reference of the purchase.
    pub reference: String,
    /// Which supplier.
    pub supplier: SupplierId,
    /// The order as the supplier has it now, codes included.
    pub order: Order,
    /// When the tracker saw the supplier settle it.
    pub settled_at: DateTime<Utc>,
}

impl Report {
    /// `order.delivered` or `order.undelivered`.
    pub fn event_type(&self) -> &'static str {
        match self.outcome {
            Fulfilment::Delivered => "order.delivered",
            _ => "order.undelivered",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackSummary {
    /// Reports the handler took in this run.
    pub reported: usize,
    /// Entries still awaiting a report in the journal when the run ended (by this
    /// tracker or another): the sum of the three below.
    pub still_open: usize,
    /// Of those, orders still awaiting their goods at the supplier.
    pub awaiting_goods: usize,
    /// Of those, orders delivered whose report was not accepted yet.
    pub delivered_unreported: usize,
    /// Of those, orders undelivered whose report was not accepted yet.
    pub undelivered_unreported: usize,
    /// Why the most tried of the unaccepted reports was last refused.
    pub last_report_error: Option<String>,
    /// How many times that report was handed over.
    pub report_attempts: u64,
    /// The shutdown future ended the run.
    pub stopped: bool,
}

impl TrackSummary {
    /// Fills in what the journal still holds: `entries` awaiting a report.
    fn with_open(mut self, entries: &[Entry]) -> Self {
        self.still_open = entries.len();
        for entry in entries {
            match entry.fulfilment {
                Some(Fulfilment::Delivered) => self.delivered_unreported += 1,
                Some(Fulfilment::Undelivered) => self.undelivered_unreported += 1,
                _ => self.awaiting_goods += 1,
            }
        }
        let most_tried = entries
            .iter()
            .filter(|e| e.report_error.is_some())
            .max_by_key(|e| e.report_attempts);
        if let Some(entry) = most_tried {
            self.last_report_error = entry.report_error.clone();
            self.report_attempts = entry.report_attempts;
        }
        self
    }
}

/// The outcome of a terminal order: `None` while it is not settled.
pub fn outcome_of(order: &Order) -> Option<(Fulfilment, Option<String>)> {
    match order.status {
        OrderStatus::Completed => Some((Fulfilment::Delivered, None)),
        status if status.is_terminal() => Some((
            Fulfilment::Undelivered,
            Some(format!(
                "{status} at the supplier ({})",
                order.supplier_status
            )),
        )),
        _ => None,
    }
}

/// The event id of `entry`'s `outcome`: the same on every report of it, by any
/// process (derived, never stored).
pub fn event_id(entry: &Entry, outcome: Fulfilment) -> String {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5f0c_3f7e_8d0a_4a52_9a57_5b2f_0f4b_9e21);
    let name = format!(
        "{}\n{}\n{}\n{}\n{}",
        entry.supplier,
        entry.reference,
        entry.attempt,
        entry.order_id.as_deref().unwrap_or_default(),
        outcome.as_str()
    );
    format!(
        "evt_{}",
        uuid::Uuid::new_v5(&NAMESPACE, name.as_bytes()).simple()
    )
}

/// Most settled orders recorded in one batch.
const RECORD_BATCH: usize = 512;

/// Least time between two updates of the tracker's gauges.
const GAUGE_PERIOD: Duration = Duration::from_secs(1);

/// An order a poller saw settle.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) key: Key,
    pub(crate) order: Order,
}

/// An entry's key: supplier and reference.
pub(crate) type Key = (SupplierId, String);

/// What the pollers follow, shared with them: each open entry's order id and when it
/// was bought.
#[derive(Debug, Default)]
pub(crate) struct Watched {
    pub(crate) orders: Mutex<HashMap<Key, WatchedOrder>>,
}

/// One order the pollers follow.
#[derive(Debug, Clone)]
pub(crate) struct WatchedOrder {
    pub(crate) order_id: String,
    pub(crate) bought_at: DateTime<Utc>,
}

impl Watched {
    pub(crate) fn of(&self, supplier: SupplierId) -> Vec<(Key, WatchedOrder)> {
        let orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        orders
            .iter()
            .filter(|(key, _)| key.0 == supplier)
            .map(|(key, order)| (key.clone(), order.clone()))
            .collect()
    }

    /// How many orders of `supplier` are followed, and when the oldest was bought.
    fn count_and_oldest(&self, supplier: SupplierId) -> (usize, Option<DateTime<Utc>>) {
        let orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        orders.iter().filter(|(key, _)| key.0 == supplier).fold(
            (0, None),
            |(count, oldest), (_, order)| {
                let oldest =
                    oldest.map_or(order.bought_at, |at: DateTime<Utc>| at.min(order.bought_at));
                (count + 1, Some(oldest))
            },
        )
    }

    fn insert(&self, key: Key, order: WatchedOrder) {
        let mut orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        orders.insert(key, order);
    }

    fn remove(&self, key: &Key) {
        let mut orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        orders.remove(key);
    }
}

/// What recording a settled order came to.
enum Settled {
    /// Recorded: report it.
    Due(Box<Due>),
    /// Another tracker holds the entry now.
    NotOurs(Key),
    /// Not recorded: follow the order again.
    Later(Key, WatchedOrder),
}

/// A report waiting for the handler to take it.
struct Due {
    entry: Entry,
    outcome: Fulfilment,
    reason: Option<String>,
    /// Fetched again from the supplier when `None` (an entry settled by an earlier run).
    order: Option<Order>,
    attempts: u32,
    next_try: Instant,
}

/// Follows the journal's bought purchases to their outcome. See the [module](self).
#[derive(Debug, Clone)]
pub struct Tracker {
    suppliers: Suppliers,
    journal: Journal,
    config: TrackerConfig,
    health: TrackerHealth,
}

impl Tracker {
    /// A tracker over `suppliers`' journal, with its own request pace per supplier.
    pub fn new(suppliers: &Suppliers, config: TrackerConfig) -> Result<Self, Error> {
        let journal = suppliers.journal()?.clone();
        Ok(Self {
            suppliers: suppliers.paced(config.requests_per_second),
            journal,
            config,
            health: TrackerHealth::new(config.round),
        })
    }

    /// This tracker's health while it runs (for a readiness probe).
    pub fn health(&self) -> TrackerHealth {
        self.health.clone()
    }

    /// Runs until nothing awaits a report (or, with [`TrackerConfig::follow`], until
    /// `shutdown` completes), or until [`TrackerConfig::timeout`]. `handler` gets each
    /// settled order; the order counts as reported once it returns `Ok`. An `Err` is a
    /// [`ReportFailure`] (or converts into one): it is journaled with the attempt count
    /// and the report handed over again later (jittered backoff, 1 s doubling to 60 s,
    /// for as long as the run lasts), every report waits when it says to slow down, and
    /// the run ends with [`Error::ReportsRefused`] when it says stop. A journal that
    /// stops answering does not end the run: the tracker tries again every round (see
    /// [`Self::health`]). On the way out every entry still held is released for the
    /// next tracker.
    pub async fn run<H, Fut, E>(
        &self,
        mut handler: H,
        shutdown: impl Future<Output = ()>,
    ) -> Result<TrackSummary, Error>
    where
        H: FnMut(Report) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<ReportFailure>,
    {
        let watched = Arc::new(Watched::default());
        let (found_tx, mut found_rx) = mpsc::unbounded_channel();
        let mut tasks = tokio::task::JoinSet::new();
        self.spawn_pollers(&mut tasks, &watched, found_tx);
        let (journal, health) = (self.journal.clone(), self.health.clone());
        tasks.spawn(async move {
            loop {
                tokio::time::sleep(journal.lease() / 3).await;
                if let Err(err) = journal.renew_tracking().await {
                    health.journal_failed(&err);
                }
            }
        });

        let outcome = self
            .serve(&mut handler, &watched, &mut found_rx, shutdown)
            .await;
        tasks.shutdown().await;
        if let Err(err) = self.journal.release_tracking().await {
            tracing::warn!(error = %err, "could not release the tracker's entries; their lease lapses instead");
        }
        let summary = outcome?;
        Ok(summary.with_open(&self.journal.awaiting_report().await?))
    }

    fn spawn_pollers(
        &self,
        tasks: &mut tokio::task::JoinSet<()>,
        watched: &Arc<Watched>,
        found: mpsc::UnboundedSender<Found>,
    ) {
        let config = self.config;
        if let Ok(fox) = self.suppliers.foxreload() {
            let (fox, watched, found) = (fox.clone(), watched.clone(), found.clone());
            tasks.spawn(pollers::foxreload(fox, watched, found, config));
        }
        if let Ok(mousa) = self.suppliers.mousacard() {
            let (mousa, watched, found) = (mousa.clone(), watched.clone(), found.clone());
            tasks.spawn(pollers::mousacard(mousa, watched, found, config));
        }
        if let Ok(cr) = self.suppliers.cryptorefills() {
            let (cr, watched) = (cr.clone(), watched.clone());
            tasks.spawn(pollers::cryptorefills(cr, watched, found, config));
        }
    }

    async fn serve<H, Fut, E>(
        &self,
        handler: &mut H,
        watched: &Watched,
        found: &mut mpsc::UnboundedReceiver<Found>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<TrackSummary, Error>
    where
        H: FnMut(Report) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<ReportFailure>,
    {
        let deadline = self.config.timeout.map(|t| Instant::now() + t);
        let mut open: HashMap<Key, Entry> = HashMap::new();
        let mut due: Vec<Due> = Vec::new();
        // Reports the handler took that the journal has not recorded yet.
        let mut unmarked: Vec<Entry> = Vec::new();
        let mut summary = TrackSummary::default();
        let mut next_look = Instant::now();
        // Until when no report is handed over (the receiver asked to slow down).
        let mut paused_until = Instant::now();
        let mut gauges_at = Instant::now();
        tokio::pin!(shutdown);
        loop {
            let now = Instant::now();
            if now >= next_look {
                next_look = now + self.config.round;
                match self.look(&mut open, &mut due, watched).await {
                    Ok(claimed) => {
                        self.health.round_done();
                        // A full batch: more may be waiting, look again at once.
                        if claimed >= self.config.claim_batch {
                            next_look = now;
                        }
                    }
                    Err(err) => self.health.journal_failed(&err),
                }
                if !self.config.follow && open.is_empty() && due.is_empty() {
                    match self.journal.awaiting_report().await {
                        Ok(rest) if rest.is_empty() => return Ok(summary),
                        Ok(_) => {}
                        Err(err) => self.health.journal_failed(&err),
                    }
                }
            }
            if now >= paused_until {
                summary.reported += self
                    .hand_over(
                        handler,
                        &mut due,
                        &mut unmarked,
                        &mut open,
                        &mut paused_until,
                    )
                    .await?;
            }
            if Instant::now() >= gauges_at {
                gauges_at = Instant::now() + GAUGE_PERIOD;
                self.publish_gauges(watched, &due);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(summary);
            }
            let wake = due
                .iter()
                .map(|d| d.next_try.max(paused_until))
                .chain(deadline)
                .chain(Some(gauges_at))
                .fold(next_look, Instant::min);
            tokio::select! {
                () = &mut shutdown => {
                    summary.stopped = true;
                    return Ok(summary);
                }
                Some(first) = found.recv() => {
                    // Everything found by now is recorded together: SQLite commits the
                    // batch with one fsync.
                    let mut batch = vec![first];
                    while batch.len() < RECORD_BATCH
                        && let Ok(more) = found.try_recv()
                    {
                        batch.push(more);
                    }
                    let settles = batch.into_iter().filter_map(|settled| {
                        watched.remove(&settled.key);
                        let entry = open.get(&settled.key)?;
                        Some(self.settle(entry, settled.order))
                    });
                    for settled in futures::future::join_all(settles).await {
                        match settled {
                            Settled::Due(item) => due.push(*item),
                            // Another tracker has it now.
                            Settled::NotOurs(key) => drop(open.remove(&key)),
                            // Asked again next round.
                            Settled::Later(key, order) => watched.insert(key, order),
                        }
                    }
                }
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Takes up entries no tracker holds: awaiting ones go to the pollers, ones an
    /// earlier run settled but did not report go straight to the handler. Returns how
    /// many it took.
    async fn look(
        &self,
        open: &mut HashMap<Key, Entry>,
        due: &mut Vec<Due>,
        watched: &Watched,
    ) -> Result<usize, Error> {
        let claimed = self
            .journal
            .claim_for_tracking(self.config.claim_batch)
            .await?;
        let count = claimed.len();
        for entry in claimed {
            if let Some(previous) = entry
                .taken_over_from
                .as_ref()
                .filter(|previous| *previous != self.journal.owner())
            {
                tracing::warn!(
                    supplier = %entry.supplier,
                    reference = %entry.reference,
                    previous_owner = %previous,
                    "took over an order from a tracker that is gone or let its lease lapse"
                );
            }
            let Ok(supplier) = entry.supplier.parse::<SupplierId>() else {
                tracing::warn!(supplier = %entry.supplier, reference = %entry.reference, "journal entry of an unknown supplier");
                continue;
            };
            if self.suppliers.get(supplier).is_err() {
                // Not configured here: leave it to a tracker that has its credentials.
                self.journal.release(&entry).await?;
                continue;
            }
            let key = (supplier, entry.reference.clone());
            match (entry.fulfilment, &entry.order_id) {
                (Some(Fulfilment::Awaiting), Some(order_id)) => watched.insert(
                    key.clone(),
                    WatchedOrder {
                        order_id: order_id.clone(),
                        bought_at: entry.started_at,
                    },
                ),
                (Some(outcome), Some(_)) => due.push(Due {
                    outcome,
                    reason: entry.fulfilment_detail.clone(),
                    entry: entry.clone(),
                    order: None,
                    attempts: u32::try_from(entry.report_attempts).unwrap_or(u32::MAX),
                    next_try: Instant::now(),
                }),
                _ => {
                    tracing::warn!(reference = %entry.reference, "bought entry without an order id; reconcile it");
                    continue;
                }
            }
            open.insert(key, entry);
        }
        Ok(count)
    }

    /// Records a settled order: the report it makes, unless another tracker or the
    /// buyer got there first.
    async fn settle(&self, entry: &Entry, order: Order) -> Settled {
        let key = (order.supplier, entry.reference.clone());
        let again = || {
            let watched = WatchedOrder {
                order_id: order.id.clone(),
                bought_at: entry.started_at,
            };
            Settled::Later(key.clone(), watched)
        };
        let Some((outcome, reason)) = outcome_of(&order) else {
            return again();
        };
        match self.journal.settle(entry, outcome, reason.as_deref()).await {
            Ok(entry) => {
                let took = (chrono::Utc::now() - entry.started_at).num_milliseconds();
                ::metrics::histogram!(
                    crate::metrics::FULFILMENT_DURATION,
                    "supplier" => order.supplier.as_str(),
                    "outcome" => outcome.as_str(),
                )
                .record(took.max(0) as f64 / 1000.0);
                Settled::Due(Box::new(Due {
                    entry,
                    outcome,
                    reason,
                    order: Some(order),
                    attempts: 0,
                    next_try: Instant::now(),
                }))
            }
            Err(suppliers_journal::JournalError::NotHeld { .. }) => {
                tracing::warn!(reference = %entry.reference, "settled order left to the tracker that holds it now");
                Settled::NotOurs(key)
            }
            Err(err) => {
                tracing::warn!(reference = %entry.reference, error = %err, "could not record a settled order; asking again next round");
                again()
            }
        }
    }

    /// Hands every due report to the handler and records what it took; returns how
    /// many it took, or [`Error::ReportsRefused`] when the handler said stop.
    async fn hand_over<H, Fut, E>(
        &self,
        handler: &mut H,
        due: &mut Vec<Due>,
        unmarked: &mut Vec<Entry>,
        open: &mut HashMap<Key, Entry>,
        paused_until: &mut Instant,
    ) -> Result<usize, Error>
    where
        H: FnMut(Report) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<ReportFailure>,
    {
        let mut taken = 0;
        let mut refused = None;
        let now = Instant::now();
        let (ready, waiting): (Vec<Due>, Vec<Due>) = std::mem::take(due)
            .into_iter()
            .partition(|d| d.next_try <= now);
        *due = waiting;
        let mut ready = ready.into_iter();
        while let Some(mut item) = ready.next() {
            let Ok(supplier) = item.entry.supplier.parse::<SupplierId>() else {
                continue;
            };
            if item.order.is_none() {
                item.order = self.refetch(supplier, &item.entry).await;
            }
            let Some(order) = item.order.clone() else {
                due.push(item.retry_later());
                continue;
            };
            let report = Report {
                event_id: event_id(&item.entry, item.outcome),
                outcome: item.outcome,
                reason: item.reason.clone(),
                reference: item.entry.reference.clone(),
                supplier,
                order,
                settled_at: item.entry.settled_at.unwrap_or(item.entry.updated_at),
            };
            match handler(report).await {
                Ok(()) => {
                    taken += 1;
                    unmarked.push(item.entry);
                }
                Err(err) => {
                    let failure = err.into();
                    let next = self.refused(supplier, &mut item, &failure).await;
                    due.push(item);
                    match next {
                        Next::Retry(_) => continue,
                        Next::Pause(delay) => *paused_until = Instant::now() + delay,
                        Next::Stop => refused = Some(failure.reason().to_owned()),
                    }
                    // No more hand-overs in this pass: the rest keep their turn.
                    due.extend(ready.by_ref());
                }
            }
        }
        // Recorded together, after the handler took each: a crash before the commit
        // reports them again. One the journal could not record is recorded later, not
        // reported again.
        let marks = std::mem::take(unmarked).into_iter().map(|entry| async move {
            let recorded = match self.journal.mark_reported(&entry).await {
                Ok(true) => true,
                Ok(false) => {
                    tracing::warn!(reference = %entry.reference, "reported an order another tracker had taken over");
                    true
                }
                Err(err) => {
                    tracing::error!(reference = %entry.reference, error = %err, "could not record a report; trying again");
                    false
                }
            };
            (entry, recorded)
        });
        for (entry, recorded) in futures::future::join_all(marks).await {
            match (recorded, entry.supplier.parse::<SupplierId>()) {
                (true, Ok(supplier)) => drop(open.remove(&(supplier, entry.reference))),
                (true, Err(_)) => {}
                (false, _) => unmarked.push(entry),
            }
        }
        match refused {
            Some(reason) => Err(Error::ReportsRefused { reason }),
            None => Ok(taken),
        }
    }

    /// A report the handler did not take: journals the attempt and its reason, logs
    /// it once, and sets the report's next turn. Returns what to do next.
    async fn refused(&self, supplier: SupplierId, item: &mut Due, failure: &ReportFailure) -> Next {
        item.attempts = item.attempts.saturating_add(1);
        let next = failure.next(item.attempts);
        let delay = match next {
            Next::Retry(delay) | Next::Pause(delay) => delay,
            Next::Stop => Duration::ZERO,
        };
        item.next_try = Instant::now() + delay;
        match next {
            Next::Stop => tracing::error!(
                supplier = supplier.as_str(),
                reference = %item.entry.reference,
                attempt = item.attempts,
                error = %failure,
                "report refused for good; tracking stops and the reports stay pending"
            ),
            Next::Pause(_) | Next::Retry(_) => {
                let then = match next {
                    Next::Pause(_) => "every report waits before the next try",
                    _ => "handing it over again later",
                };
                tracing::warn!(
                    supplier = supplier.as_str(),
                    reference = %item.entry.reference,
                    attempt = item.attempts,
                    next_try_ms = delay.as_millis() as u64,
                    error = %failure,
                    "report not accepted; {then}"
                );
            }
        }
        match self
            .journal
            .record_report_failure(&item.entry, failure.reason())
            .await
        {
            Ok(_) => item.entry.report_attempts += 1,
            Err(err) => self.health.journal_failed(&err),
        }
        item.entry.report_error = Some(failure.reason().to_owned());
        next
    }

    /// Sets the tracker's gauges from what it follows now.
    fn publish_gauges(&self, watched: &Watched, due: &[Due]) {
        let now = chrono::Utc::now();
        for supplier in SupplierId::ALL {
            if self.suppliers.get(supplier).is_err() {
                continue;
            }
            let (awaiting, oldest) = watched.count_and_oldest(supplier);
            let gauges = SupplierGauges {
                awaiting,
                oldest_seconds: oldest.map_or(0.0, |at| {
                    (now - at).num_milliseconds().max(0) as f64 / 1000.0
                }),
                reports_pending: due
                    .iter()
                    .filter(|d| d.entry.supplier == supplier.as_str())
                    .count(),
            };
            health::publish(supplier, gauges);
        }
    }

    /// The order of an entry settled by an earlier run, fetched again (codes are never
    /// journaled).
    async fn refetch(&self, supplier: SupplierId, entry: &Entry) -> Option<Order> {
        let order_id = entry.order_id.as_deref()?;
        match self.suppliers.get(supplier).ok()?.order(order_id).await {
            Ok(order) => Some(order),
            Err(err) => {
                tracing::warn!(reference = %entry.reference, error = %err, "could not fetch a settled order again");
                None
            }
        }
    }
}

impl Due {
    fn retry_later(mut self) -> Self {
        self.attempts += 1;
        let delay = Duration::from_secs(1 << self.attempts.min(6).saturating_sub(1))
            .min(Duration::from_secs(60));
        self.next_try = Instant::now() + delay;
        self
    }
}

impl Suppliers {
    /// A clone whose requests go out at most `per_second` a second to each supplier,
    /// each supplier with a pacer of its own (see [`Pacer`]).
    pub fn paced(&self, per_second: f64) -> Suppliers {
        let mut paced = self.clone();
        paced.set_pacers(|| Arc::new(Pacer::per_second(per_second)));
        paced
    }

    /// Every bought purchase whose outcome the caller has not taken yet, oldest first.
    pub async fn awaiting_fulfilment(&self) -> Result<Vec<Entry>, Error> {
        Ok(self.journal()?.awaiting_report().await?)
    }

    /// Records that the caller was shown `order`, the settled order of `reference`
    /// (e.g. `buy --wait` printed its codes): no tracker reports it again. `false` when
    /// the order is not settled, or its outcome was reported already.
    pub async fn record_reported(
        &self,
        supplier: SupplierId,
        reference: &str,
        order: &Order,
    ) -> Result<bool, Error> {
        let Some((outcome, reason)) = outcome_of(order) else {
            return Ok(false);
        };
        Ok(self
            .journal()?
            .record_reported(supplier.as_str(), reference, outcome, reason.as_deref())
            .await?)
    }
}
