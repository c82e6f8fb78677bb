//! The invariants of a chaos run, checked against the sandbox's own books (not the
//! SDK's account of itself): every charged order belongs to exactly one journaled
//! reference, no reference has two orders, the balances move by exactly the orders,
//! every bought order reached the receiver under one event id, and no process outlived
//! its deadline or had to be killed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use suppliers_journal::{Entry, State};
use suppliers_sandbox::Books;

use crate::receiver::Delivery;

/// What the audit found: counts for the table, and every broken invariant.
#[derive(Debug, Default)]
pub struct Audit {
    /// Orders in the sandbox's books, all suppliers.
    pub orders: usize,
    /// References with more than one order at their supplier.
    pub double_purchases: Vec<String>,
    /// Charged orders that no journaled reference holds as bought, and bought entries
    /// whose order the supplier does not have.
    pub lost: Vec<String>,
    /// Orders created and never charged that the journal does not know (a create whose
    /// answer was lost; nobody can pay it), by supplier.
    pub uncharged_unknown: BTreeMap<String, usize>,
    /// Bought entries the receiver never took.
    pub unreported: Vec<String>,
    /// References reported under more than one event id.
    pub several_event_ids: Vec<String>,
    /// Deliveries accepted, and how many distinct events they carried.
    pub deliveries: usize,
    pub distinct_events: usize,
    /// Balance changes the orders do not explain, by supplier.
    pub unexplained_balance: Vec<String>,
}

impl Audit {
    /// Every broken invariant, one line each.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for (what, list) in [
            ("double purchase", &self.double_purchases),
            ("lost order", &self.lost),
            ("bought and never reported", &self.unreported),
            ("reported under several event ids", &self.several_event_ids),
            ("balance", &self.unexplained_balance),
        ] {
            failures.extend(list.iter().map(|item| format!("{what}: {item}")));
        }
        failures
    }
}

/// Checks one supplier's books against the journal's entries for it.
fn check_books(supplier: &str, books: &Books, entries: &[&Entry], audit: &mut Audit) {
    audit.orders += books.orders.len();
    let mut by_order: HashMap<&str, Vec<&Entry>> = HashMap::new();
    let mut by_key: HashMap<&str, &Entry> = HashMap::new();
    for entry in entries {
        if let Some(id) = &entry.order_id {
            by_order.entry(id.as_str()).or_default().push(entry);
        }
        if let Some(key) = &entry.idempotency_key {
            by_key.insert(key.as_str(), entry);
        }
    }
    // Each reference's orders: by the id the journal holds, else by the key it was
    // created under.
    let mut orders_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for order in &books.orders {
        let owners = by_order.get(order.id.as_str()).cloned().unwrap_or_default();
        if owners.len() > 1 {
            let references: Vec<&str> = owners.iter().map(|e| e.reference.as_str()).collect();
            audit.lost.push(format!(
                "{supplier} order {} journaled under {references:?}",
                order.id
            ));
        }
        let owner = owners.first().copied().or_else(|| {
            let key = order.idempotency_key.as_deref()?;
            by_key.get(key).copied()
        });
        match owner {
            Some(entry) => {
                orders_of
                    .entry(entry.reference.as_str())
                    .or_default()
                    .push(order.id.as_str());
                let journaled = entry.order_id.as_deref() == Some(order.id.as_str());
                if order.charged && !(journaled && entry.state == State::Bought) {
                    audit.lost.push(format!(
                        "{supplier} order {} was charged; its reference {} is journaled {:?} with order {:?}",
                        order.id, entry.reference, entry.state, entry.order_id
                    ));
                }
            }
            None if order.charged => audit.lost.push(format!(
                "{supplier} order {} was charged and no journaled reference knows it",
                order.id
            )),
            None => *audit.uncharged_unknown.entry(supplier.into()).or_default() += 1,
        }
    }
    for (reference, orders) in &orders_of {
        if orders.len() > 1 {
            audit
                .double_purchases
                .push(format!("{supplier} {reference}: orders {orders:?}"));
        }
    }
    let held: BTreeSet<&str> = books.orders.iter().map(|o| o.id.as_str()).collect();
    for entry in entries.iter().filter(|e| e.state == State::Bought) {
        match entry.order_id.as_deref() {
            Some(id) if held.contains(id) => {}
            id => audit.lost.push(format!(
                "{supplier} {} is journaled bought with order {id:?}, which {supplier} does not have",
                entry.reference
            )),
        }
    }
    if let Some(change) = books.unexplained_balance_change()
        && !change.is_zero()
    {
        audit.unexplained_balance.push(format!(
            "{supplier}: the balance moved {change} more than its orders account for"
        ));
    }
}

/// Audits the run: `books` by supplier name, the run's journal entries, and what the
/// receiver took.
pub fn audit(books: &[(&str, Books)], entries: &[Entry], deliveries: &[Delivery]) -> Audit {
    let mut audit = Audit::default();
    for (supplier, books) in books {
        let mine: Vec<&Entry> = entries.iter().filter(|e| e.supplier == *supplier).collect();
        check_books(supplier, books, &mine, &mut audit);
    }
    let mut events: HashMap<(&str, &str), BTreeSet<&str>> = HashMap::new();
    for delivery in deliveries {
        events
            .entry((delivery.supplier.as_str(), delivery.reference.as_str()))
            .or_default()
            .insert(delivery.id.as_str());
    }
    audit.deliveries = deliveries.len();
    audit.distinct_events = events.values().map(BTreeSet::len).sum();
    for entry in entries.iter().filter(|e| e.state == State::Bought) {
        match events.get(&(entry.supplier.as_str(), entry.reference.as_str())) {
            None => audit
                .unreported
                .push(format!("{} {}", entry.supplier, entry.reference)),
            Some(ids) if ids.len() > 1 => audit
                .several_event_ids
                .push(format!("{} {}: {ids:?}", entry.supplier, entry.reference)),
            Some(_) => {}
        }
    }
    audit
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use suppliers_sandbox::BookedOrder;

    use super::*;

    fn entry(reference: &str, state: State, order: Option<&str>, key: Option<&str>) -> Entry {
        let now = chrono::Utc::now();
        Entry {
            supplier: "foxreload".into(),
            reference: reference.into(),
            product_id: "p".into(),
            quantity: 1,
            facts: serde_json::Value::Null,
            state,
            order_id: order.map(Into::into),
            idempotency_key: key.map(Into::into),
            balance_before: None,
            balance_currency: None,
            detail: None,
            attempt: 1,
            owner: None,
            lease_until: None,
            started_at: now,
            updated_at: now,
            fulfilment: None,
            fulfilment_detail: None,
            settled_at: None,
            reported_at: None,
            report_attempts: 0,
            report_error: None,
            taken_over_from: None,
        }
    }

    fn order(id: &str, key: Option<&str>, charged: bool) -> BookedOrder {
        BookedOrder {
            id: id.into(),
            idempotency_key: key.map(Into::into),
            total: Decimal::TEN,
            charged,
            refunded: false,
        }
    }

    /// Books starting at 100 whose balance matches their charged orders.
    fn books(orders: Vec<BookedOrder>) -> Books {
        let charged: Decimal = orders.iter().filter(|o| o.charged).map(|o| o.total).sum();
        Books {
            starting_balance: Some(Decimal::ONE_HUNDRED),
            balance: Some(Decimal::ONE_HUNDRED - charged),
            orders,
        }
    }

    fn delivery(reference: &str, id: &str) -> Delivery {
        Delivery {
            id: id.into(),
            supplier: "foxreload".into(),
            reference: reference.into(),
        }
    }

    #[test]
    fn a_clean_run_passes() {
        let entries = [entry("r1", State::Bought, Some("o1"), Some("k1"))];
        let books = books(vec![
            order("o1", Some("k1"), true),
            order("o2", None, false),
        ]);
        let deliveries = [delivery("r1", "e1"), delivery("r1", "e1")];
        let audit = audit(&[("foxreload", books)], &entries, &deliveries);
        assert_eq!(audit.failures(), Vec::<String>::new());
        assert_eq!((audit.deliveries, audit.distinct_events), (2, 1));
        assert_eq!(audit.uncharged_unknown["foxreload"], 1);
    }

    #[test]
    fn a_second_order_under_one_reference_is_a_double_purchase() {
        let entries = [entry("r1", State::Bought, Some("o1"), Some("k1"))];
        let books = books(vec![
            order("o1", Some("k1"), true),
            order("o2", Some("k1"), true),
        ]);
        let audit = audit(&[("foxreload", books)], &entries, &[delivery("r1", "e1")]);
        assert_eq!(audit.double_purchases.len(), 1, "{audit:?}");
        assert_eq!(audit.lost.len(), 1, "o2 is charged and not journaled");
    }

    #[test]
    fn a_charged_order_the_journal_does_not_hold_is_lost() {
        let entries = [entry("r1", State::NotBought, None, None)];
        let stray = books(vec![order("o9", None, true)]);
        let found = audit(&[("foxreload", stray)], &entries, &[]);
        assert_eq!(found.lost.len(), 1, "{found:?}");
        let unknown = [entry("r1", State::Unknown, None, Some("k1"))];
        let keyed = books(vec![order("o1", Some("k1"), true)]);
        let found = audit(&[("foxreload", keyed)], &unknown, &[]);
        assert_eq!(found.lost.len(), 1, "charged, journaled unknown: {found:?}");
    }

    #[test]
    fn a_bought_entry_whose_order_the_supplier_lacks_is_lost() {
        let entries = [entry("r1", State::Bought, Some("o404"), None)];
        let audit = audit(
            &[("foxreload", books(vec![]))],
            &entries,
            &[delivery("r1", "e1")],
        );
        assert_eq!(audit.lost.len(), 1, "{audit:?}");
    }

    #[test]
    fn an_unexplained_balance_change_fails() {
        let entries = [entry("r1", State::Bought, Some("o1"), None)];
        let mut books = books(vec![order("o1", None, true)]);
        books.balance = Some(Decimal::new(85, 0));
        let audit = audit(&[("foxreload", books)], &entries, &[delivery("r1", "e1")]);
        assert_eq!(audit.unexplained_balance.len(), 1, "{audit:?}");
    }

    #[test]
    fn reports_must_reach_the_receiver_under_one_event_id() {
        let entries = [
            entry("r1", State::Bought, Some("o1"), None),
            entry("r2", State::Bought, Some("o2"), None),
        ];
        let books = books(vec![order("o1", None, true), order("o2", None, true)]);
        let deliveries = [delivery("r1", "e1"), delivery("r1", "e2")];
        let audit = audit(&[("foxreload", books)], &entries, &deliveries);
        assert_eq!(audit.unreported, vec!["foxreload r2".to_owned()]);
        assert_eq!(audit.several_event_ids.len(), 1, "{audit:?}");
    }
}
