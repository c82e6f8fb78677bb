//! Where a MousaCard purchase whose answer was lost can be: MousaCard has no order list
//! and takes no client reference, but its order ids are sequential across accounts, so
//! the journal's own known orders bound the ids a lost order can have.
//!
//! - Floor: an order the journal learnt before this purchase began was created before
//!   it, so its id is lower. An entry's `updated_at` is never earlier than the moment
//!   its order id was recorded, so every entry updated before the purchase began gives
//!   a floor.
//! - Ceiling: an order of a purchase that began after this one's attempt ended was
//!   created later, so its id is higher. An `unknown` entry was recorded after its
//!   attempt ended; a `sending` one (its process may have died at any moment) has no
//!   ceiling.
//!
//! Purchases of the same product and quantity whose answers were lost together are
//! settled together, by a reconcile once none of them is in flight: the orders found
//! between their bounds (ids the journal does not know) are matched to them in id
//! order, each to a purchase whose bounds hold it. The
//! goods are identical, so which of the references gets which order does not matter;
//! how many were bought does, and that is what the matching gets right. A purchase left
//! without an order is not bought when its ceiling is known (every id it could have was
//! looked at), and unknown otherwise.

use chrono::{DateTime, TimeDelta, Utc};
use suppliers_journal::{Entry, State};

/// How far apart the clocks of the machines sharing one journal may be (NTP keeps them
/// within a few milliseconds): a known order counts as a bound only this far from the
/// purchase's own instants.
pub(crate) const JOURNAL_CLOCK_SKEW: TimeDelta = TimeDelta::milliseconds(50);

/// Ids looked at past the floor when no ceiling bounds them.
pub(crate) const PROBE_WITHOUT_CEILING: u64 = 200;

/// The widest range of ids looked at for one group of purchases (50 per request).
pub(crate) const MAX_SPAN: u64 = 2_000;

/// The ids a purchase's order can have: above `floor`, below `ceiling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub floor: u64,
    pub ceiling: Option<u64>,
}

impl Bounds {
    /// The first id past the range: the ceiling, or [`PROBE_WITHOUT_CEILING`] ids on.
    pub fn end(&self) -> u64 {
        self.ceiling
            .unwrap_or(self.floor + 1 + PROBE_WITHOUT_CEILING)
    }

    fn holds(&self, id: u64) -> bool {
        id > self.floor && id < self.end()
    }

    fn overlaps(&self, other: &Bounds) -> bool {
        self.floor + 1 < other.end() && other.floor + 1 < self.end()
    }
}

/// When `entry`'s attempt surely ended, if that is known.
fn attempt_ended(entry: &Entry) -> Option<DateTime<Utc>> {
    (entry.state == State::Unknown).then_some(entry.updated_at)
}

/// The order id an entry holds, as MousaCard numbers them.
fn order_number(entry: &Entry) -> Option<u64> {
    entry.order_id.as_deref()?.parse().ok()
}

/// `entry`'s bounds from `others` (the journal's MousaCard entries); `None` when no
/// order the journal knows is older than the purchase (nothing to count from).
pub(crate) fn bounds(entry: &Entry, others: &[Entry]) -> Option<Bounds> {
    let known = || {
        others
            .iter()
            .filter(|other| other.reference != entry.reference)
            .filter_map(|other| Some((other, order_number(other)?)))
    };
    let floor = known()
        .filter(|(other, _)| other.updated_at + JOURNAL_CLOCK_SKEW < entry.started_at)
        .map(|(_, id)| id)
        .max()?;
    let ceiling = attempt_ended(entry).and_then(|ended| {
        known()
            .filter(|(other, _)| other.started_at > ended + JOURNAL_CLOCK_SKEW)
            .map(|(_, id)| id)
            .min()
    });
    Some(Bounds { floor, ceiling })
}

/// Whether `other` is a purchase of the same goods as `entry` whose order is not known.
pub(crate) fn is_peer(entry: &Entry, other: &Entry) -> bool {
    other.reference != entry.reference
        && other.product_id == entry.product_id
        && other.quantity == entry.quantity
        && other.order_id.is_none()
        && matches!(other.state, State::Sending | State::Unknown)
}

/// Matches `found` order ids to purchases by their bounds: each purchase, the one whose
/// range ends first first, takes the lowest id it can hold (which matches as many as
/// can be). Returns the id each purchase got, in the order of `purchases`.
pub(crate) fn matched(purchases: &[Bounds], found: &[u64]) -> Vec<Option<u64>> {
    let mut order: Vec<usize> = (0..purchases.len()).collect();
    order.sort_by_key(|&n| (purchases[n].end(), purchases[n].floor, n));
    let mut free: Vec<u64> = found.to_vec();
    free.sort_unstable();
    let mut got = vec![None; purchases.len()];
    for n in order {
        if let Some(at) = free.iter().position(|id| purchases[n].holds(*id)) {
            got[n] = Some(free.remove(at));
        }
    }
    got
}

/// The purchases of the same goods as `entry` whose orders are not known, with their
/// bounds (those with none are left out: nothing bounds where they could be).
pub(crate) fn peers<'a>(entry: &Entry, entries: &'a [Entry]) -> Vec<(&'a Entry, Bounds)> {
    entries
        .iter()
        .filter(|other| is_peer(entry, other))
        .filter_map(|other| Some((other, bounds(other, entries)?)))
        .collect()
}

/// The ids a group's orders can have: from the lowest floor's next id to the furthest
/// end (exclusive).
pub(crate) fn span(group: &[(&Entry, Bounds)]) -> (u64, u64) {
    let first = group.iter().map(|(_, b)| b.floor + 1).min().unwrap_or(0);
    let end = group.iter().map(|(_, b)| b.end()).max().unwrap_or(0);
    (first, end)
}

/// The purchases settled with `entry`: itself first, then every peer whose bounds
/// overlap the group's, repeatedly (overlap chains).
pub(crate) fn group<'a>(
    entry: (&'a Entry, Bounds),
    peers: &[(&'a Entry, Bounds)],
) -> Vec<(&'a Entry, Bounds)> {
    let mut group = vec![entry];
    let mut rest: Vec<(&Entry, Bounds)> = peers.to_vec();
    loop {
        let before = group.len();
        rest.retain(|peer| {
            let joins = group.iter().any(|member| member.1.overlaps(&peer.1));
            if joins {
                group.push(*peer);
            }
            !joins
        });
        if group.len() == before {
            return group;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(floor: u64, ceiling: Option<u64>) -> Bounds {
        Bounds { floor, ceiling }
    }

    #[test]
    fn identical_lost_purchases_each_get_one_order_in_id_order() {
        let purchases = [bounds(10, Some(20)), bounds(10, Some(20))];
        assert_eq!(matched(&purchases, &[15, 12]), vec![Some(12), Some(15)]);
        assert_eq!(matched(&purchases, &[12]), vec![Some(12), None]);
        assert_eq!(matched(&purchases, &[]), vec![None, None]);
    }

    #[test]
    fn an_order_outside_a_purchases_bounds_is_never_its_own() {
        let purchases = [bounds(10, Some(13)), bounds(11, Some(30))];
        // 12 can be either's; 25 only the second's: the narrow one takes 12.
        assert_eq!(matched(&purchases, &[25, 12]), vec![Some(12), Some(25)]);
        assert_eq!(matched(&purchases, &[9, 10, 11, 30]), vec![Some(11), None]);
    }

    #[test]
    fn without_a_ceiling_a_fixed_number_of_ids_is_looked_at() {
        let open = bounds(10, None);
        assert_eq!(open.end(), 11 + PROBE_WITHOUT_CEILING);
        assert_eq!(matched(&[open], &[11 + PROBE_WITHOUT_CEILING]), vec![None]);
        assert_eq!(
            matched(&[open], &[10 + PROBE_WITHOUT_CEILING]),
            vec![Some(210)]
        );
    }

    fn entry(
        reference: &str,
        state: State,
        order: Option<u64>,
        started: i64,
        updated: i64,
    ) -> Entry {
        let at = |s: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).unwrap();
        Entry {
            supplier: "mousacard".into(),
            reference: reference.into(),
            product_id: "12330".into(),
            quantity: 1,
            facts: serde_json::Value::Null,
            state,
            order_id: order.map(|id| id.to_string()),
            idempotency_key: None,
            balance_before: None,
            balance_currency: None,
            detail: None,
            attempt: 1,
            owner: None,
            lease_until: None,
            started_at: at(started),
            updated_at: at(updated),
            fulfilment: None,
            fulfilment_detail: None,
            settled_at: None,
            reported_at: None,
            report_attempts: 0,
            report_error: None,
            taken_over_from: None,
        }
    }

    #[test]
    fn bounds_come_from_orders_known_before_the_purchase_and_begun_after_it() {
        let lost = entry("lost", State::Unknown, None, 100, 130);
        let others = [
            entry("before", State::Bought, Some(50), 10, 60),
            // Began earlier but was recorded after the lost one began: not a floor.
            entry("concurrent", State::Bought, Some(70), 90, 110),
            entry("after", State::Bought, Some(90), 140, 150),
            entry("much-after", State::Bought, Some(95), 200, 210),
            // Began as the attempt ended (the clocks may differ that much): not a ceiling.
            entry("close", State::Bought, Some(80), 130, 140),
        ];
        let got = super::bounds(&lost, &others).unwrap();
        assert_eq!(
            got,
            Bounds {
                floor: 50,
                ceiling: Some(90)
            }
        );

        let still_sending = entry("sending", State::Sending, None, 100, 100);
        assert_eq!(
            super::bounds(&still_sending, &others).unwrap().ceiling,
            None
        );
        assert_eq!(super::bounds(&lost, &others[2..]), None, "nothing older");
    }

    #[test]
    fn purchases_with_overlapping_bounds_settle_together() {
        let a = entry("a", State::Unknown, None, 0, 0);
        let b = entry("b", State::Unknown, None, 0, 0);
        let c = entry("c", State::Unknown, None, 0, 0);
        let d = entry("d", State::Unknown, None, 0, 0);
        let group = group(
            (&a, bounds(10, Some(20))),
            &[
                (&b, bounds(18, Some(30))),
                (&c, bounds(28, Some(40))),
                (&d, bounds(40, Some(50))),
            ],
        );
        let references: Vec<&str> = group.iter().map(|(e, _)| e.reference.as_str()).collect();
        assert_eq!(references, ["a", "b", "c"], "a chain, without d");
    }
}
