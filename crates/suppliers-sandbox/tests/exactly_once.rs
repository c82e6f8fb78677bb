//! Purchases through the journal ([`Suppliers::buy`]) against the sandbox on
//! 127.0.0.1: one reference buys once, dropped answers are settled from what each
//! supplier can tell, and nothing is ever bought twice. Each test runs with an SQLite
//! file journal, and with PostgreSQL where libpq's `PG*` variables point.

mod journaled;

use std::time::Duration;

use journaled::{facade, locations};
use rust_decimal::Decimal;
use suppliers::journal::{Claim, NewPurchase, State};
use suppliers::model::{OrderStatus, SupplierId};
use suppliers::{BuyRequest, Error, Journal, Suppliers};
use suppliers_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig, Timings};

const STEAM_500_RUB: &str = "product_01krgfgww8eth9xvvysd6y7r4j";
/// The sandbox's first FoxReload order id (ids are sequential).
const FIRST_FOX_ORDER: &str = "5f0c3f7e-0000-4000-8000-000000000001";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        timings: Timings::fast(),
        cryptorefills_auto_pay_after: None,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// A reference no other run of any test uses (PostgreSQL is shared between them).
fn reference(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

fn steam(reference: &str, quantity: u64) -> BuyRequest {
    let mut request = BuyRequest::new(STEAM_500_RUB, quantity);
    request.reference = Some(reference.into());
    request
}

fn gift_card(reference: &str) -> BuyRequest {
    let mut request = BuyRequest::new("12330", 1);
    request.reference = Some(reference.into());
    request
}

async fn entry(
    suppliers: &Suppliers,
    supplier: SupplierId,
    reference: &str,
) -> suppliers::journal::Entry {
    suppliers
        .journal()
        .unwrap()
        .get(supplier.as_str(), reference)
        .await
        .unwrap()
        .expect("journaled")
}

#[tokio::test]
async fn one_reference_buys_once_and_then_returns_the_recorded_order() {
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        let balance = sandbox.foxreload().balance();
        let r = reference("once");
        let first = suppliers
            .buy(SupplierId::FoxReload, &steam(&r, 2))
            .await
            .unwrap();
        assert!(!first.replayed);
        assert_eq!(first.reference, r);
        let paid = balance - sandbox.foxreload().balance();
        assert!(paid > Decimal::ZERO);

        let again = suppliers
            .buy(SupplierId::FoxReload, &steam(&r, 2))
            .await
            .unwrap();
        assert!(again.replayed, "{location}");
        assert_eq!(again.order.id, first.order.id);
        assert_eq!(sandbox.foxreload().order_count(), 1);
        assert_eq!(balance - sandbox.foxreload().balance(), paid, "paid once");

        // Another quantity under the same reference: refused before any request.
        let served = sandbox.requests_served();
        let err = suppliers
            .buy(SupplierId::FoxReload, &steam(&r, 3))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::ReferenceConflict { quantity: 2, .. }),
            "{err}"
        );
        assert_eq!(sandbox.requests_served(), served, "nothing sent");
        let recorded = entry(&suppliers, SupplierId::FoxReload, &r).await;
        assert_eq!(recorded.state, State::Bought);
        assert_eq!(recorded.order_id.as_deref(), Some(first.order.id.as_str()));
        assert_eq!(recorded.idempotency_key, first.order.idempotency_key);
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_dropped_foxreload_create_is_found_among_recent_orders_and_paid_once() {
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        let balance = sandbox.foxreload().balance();
        sandbox.faults().add(
            FaultRule::new("/foxreload/api/orders/", Fault::DropAfterHandling, 1)
                .for_method(axum::http::Method::POST),
        );
        let r = reference("fox-drop");
        let receipt = suppliers
            .buy(SupplierId::FoxReload, &steam(&r, 1))
            .await
            .unwrap();
        assert_eq!(receipt.order.id, FIRST_FOX_ORDER);
        assert_eq!(sandbox.foxreload().order_count(), 1);
        assert!(sandbox.foxreload().balance() < balance);
        let recorded = entry(&suppliers, SupplierId::FoxReload, &r).await;
        assert_eq!(recorded.state, State::Bought);
        assert!(
            recorded
                .detail
                .as_deref()
                .unwrap_or("")
                .contains("found among the recent orders"),
            "{recorded:?}"
        );
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_dropped_foxreload_pay_is_settled_by_reading_the_order() {
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        let balance = sandbox.foxreload().balance();
        sandbox.faults().add(FaultRule::new(
            format!("/foxreload/api/orders/{FIRST_FOX_ORDER}/pay"),
            Fault::DropAfterHandling,
            1,
        ));
        let r = reference("pay-drop");
        let receipt = suppliers
            .buy(SupplierId::FoxReload, &steam(&r, 1))
            .await
            .unwrap();
        assert_eq!(receipt.order.id, FIRST_FOX_ORDER);
        assert_ne!(receipt.order.status, OrderStatus::AwaitingPayment);
        let paid = balance - sandbox.foxreload().balance();
        assert_eq!(Some(paid), receipt.order.total, "paid exactly once");
        let recorded = entry(&suppliers, SupplierId::FoxReload, &r).await;
        assert_eq!(recorded.state, State::Bought);
        assert!(recorded.detail.unwrap().contains("read the order"));
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_foxreload_create_answered_502_is_not_bought_and_the_reference_buys_later() {
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        sandbox.faults().add(
            FaultRule::new("/foxreload/api/orders/", Fault::ServerError(502), 1)
                .for_method(axum::http::Method::POST),
        );
        let r = reference("fox-502");
        let err = suppliers
            .buy(SupplierId::FoxReload, &steam(&r, 1))
            .await
            .unwrap_err();
        let Error::NotBought { reason, .. } = &err else {
            panic!("{err}");
        };
        assert!(reason.contains("never reached FoxReload"), "{reason}");
        assert_eq!(sandbox.foxreload().order_count(), 0);
        assert!(
            suppliers
                .pending()
                .await
                .unwrap()
                .iter()
                .all(|e| e.reference != r)
        );

        let receipt = suppliers
            .buy(SupplierId::FoxReload, &steam(&r, 1))
            .await
            .unwrap();
        assert!(!receipt.replayed);
        assert_eq!(sandbox.foxreload().order_count(), 1);
        assert_eq!(
            entry(&suppliers, SupplierId::FoxReload, &r).await.attempt,
            2
        );
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_dropped_mousacard_create_is_found_by_probing_the_ids_after_the_last_known_order() {
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        let balance = sandbox.mousacard().balance();
        let known = suppliers
            .buy(SupplierId::MousaCard, &gift_card(&reference("first")))
            .await
            .unwrap();
        // Further apart than the clocks of machines sharing a journal may be, so the first
        // order bounds the second's id from below.
        tokio::time::sleep(Duration::from_millis(100)).await;
        sandbox.faults().add(
            FaultRule::new("/mousacard/orders", Fault::DropAfterHandling, 1)
                .for_method(axum::http::Method::POST),
        );
        let r = reference("mousa-drop");
        let receipt = suppliers
            .buy(SupplierId::MousaCard, &gift_card(&r))
            .await
            .unwrap();
        let next: u64 = known.order.id.parse::<u64>().unwrap() + 1;
        assert_eq!(receipt.order.id, next.to_string());
        assert_eq!(sandbox.mousacard().order_count(), 2);
        assert_eq!(balance - sandbox.mousacard().balance(), Decimal::from(20));
        let recorded = entry(&suppliers, SupplierId::MousaCard, &r).await;
        assert_eq!(recorded.state, State::Bought);
        assert_eq!(recorded.balance_before, Some(balance - Decimal::from(10)));
        assert!(recorded.detail.unwrap().contains("found by probing"));
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn identical_foxreload_creates_that_lost_their_answers_together_charge_nothing_and_buy_again()
{
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        let balance = sandbox.foxreload().balance();
        sandbox.faults().add(
            FaultRule::new("/foxreload/api/orders/", Fault::DropAfterHandling, 2)
                .for_method(axum::http::Method::POST),
        );
        let (a, b) = (reference("fox-twin-a"), reference("fox-twin-b"));
        let (buy_a, buy_b) = (steam(&a, 1), steam(&b, 1));
        let (got_a, got_b) = tokio::join!(
            suppliers.buy(SupplierId::FoxReload, &buy_a),
            suppliers.buy(SupplierId::FoxReload, &buy_b),
        );
        // Two unpaid orders of the same items, neither known: neither can be told apart,
        // and neither was paid, so both purchases are known not bought at once.
        for got in [got_a, got_b] {
            assert!(matches!(got, Err(Error::NotBought { .. })), "{got:?}");
        }
        assert_eq!(sandbox.foxreload().order_count(), 2);
        assert_eq!(sandbox.foxreload().balance(), balance, "nothing charged");
        for r in [&a, &b] {
            let receipt = suppliers
                .buy(SupplierId::FoxReload, &steam(r, 1))
                .await
                .unwrap();
            assert!(!receipt.replayed);
        }
        let books = sandbox.foxreload().books();
        assert_eq!(books.orders.len(), 4);
        assert_eq!(books.orders.iter().filter(|o| o.charged).count(), 2);
        assert_eq!(books.unexplained_balance_change(), Some(Decimal::ZERO));
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn identical_mousacard_purchases_that_lost_their_answers_together_get_one_order_each() {
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        suppliers
            .buy(SupplierId::MousaCard, &gift_card(&reference("first")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        sandbox.faults().add(
            FaultRule::new("/mousacard/orders", Fault::DropAfterHandling, 2)
                .for_method(axum::http::Method::POST),
        );
        let (a, b) = (reference("twin-a"), reference("twin-b"));
        // Each is settled at once, or left unknown while the other is in flight.
        let (buy_a, buy_b) = (gift_card(&a), gift_card(&b));
        let _ = tokio::join!(
            suppliers.buy(SupplierId::MousaCard, &buy_a),
            suppliers.buy(SupplierId::MousaCard, &buy_b),
        );
        assert_eq!(sandbox.mousacard().order_count(), 3, "both were created");
        suppliers.reconcile().await.unwrap();
        let (a, b) = (
            entry(&suppliers, SupplierId::MousaCard, &a).await,
            entry(&suppliers, SupplierId::MousaCard, &b).await,
        );
        assert_eq!(
            (a.state, b.state),
            (State::Bought, State::Bought),
            "{a:?} {b:?}"
        );
        assert_ne!(a.order_id, b.order_id, "one order each");
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_mousacard_outcome_nothing_can_place_stays_unknown_and_is_never_bought_again() {
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        sandbox.faults().add(
            FaultRule::new("/mousacard/orders", Fault::DropAfterHandling, 1)
                .for_method(axum::http::Method::POST),
        );
        let r = reference("mousa-unknown");
        let err = suppliers
            .buy(SupplierId::MousaCard, &gift_card(&r))
            .await
            .unwrap_err();
        let Error::AmbiguousPurchase {
            cause, reference, ..
        } = &err
        else {
            panic!("{err}");
        };
        assert_eq!(reference.as_deref(), Some(r.as_str()));
        assert!(cause.contains("(-10.0)"), "the balance change: {cause}");
        let pending = suppliers.pending().await.unwrap();
        let listed = pending.iter().find(|e| e.reference == r).expect("pending");
        assert_eq!(listed.state, State::Unknown);
        assert!(!suppliers.held_elsewhere(listed), "released");

        // Buying again reconciles, still cannot tell, and sends no purchase.
        let err = suppliers
            .buy(SupplierId::MousaCard, &gift_card(&r))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::AmbiguousPurchase { .. }), "{err}");
        assert_eq!(sandbox.mousacard().order_count(), 1);
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_dropped_cryptorefills_create_is_not_bought_and_its_reference_buys_again() {
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        sandbox.faults().add(
            FaultRule::new("/cryptorefills/v5/orders", Fault::DropAfterHandling, 1)
                .for_method(axum::http::Method::POST),
        );
        let r = reference("cr-drop");
        let mut request = BuyRequest::new("giftcard/Airbnb/US/100", 1);
        request.email = Some("user@example.com".into());
        request.reference = Some(r.clone());
        let err = suppliers
            .buy(SupplierId::Cryptorefills, &request)
            .await
            .unwrap_err();
        let Error::NotBought { reason, .. } = &err else {
            panic!("{err}");
        };
        assert!(reason.contains("cannot be paid"), "{reason}");
        assert_eq!(
            entry(&suppliers, SupplierId::Cryptorefills, &r).await.state,
            State::NotBought
        );
        // The lost order exists unpaid at the supplier; it can never be paid.
        assert_eq!(sandbox.cryptorefills().order_count(), 1);

        let receipt = suppliers
            .buy(SupplierId::Cryptorefills, &request)
            .await
            .unwrap();
        assert!(
            receipt.order.payment.is_some(),
            "this one has a wallet address"
        );
        assert_eq!(sandbox.cryptorefills().order_count(), 2);
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn reconcile_settles_what_a_dead_process_left_and_buy_pays_the_created_order() {
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        let r = reference("crashed");
        // Another worker claims the reference and creates the order, then dies before
        // it records anything: its lease runs out.
        let worker = Journal::open(&location)
            .await
            .unwrap()
            .with_lease(Duration::from_millis(50));
        let key = uuid::Uuid::new_v4().to_string();
        let Claim::Claimed(..) = worker
            .claim(&NewPurchase {
                supplier: "foxreload".into(),
                reference: r.clone(),
                product_id: STEAM_500_RUB.into(),
                quantity: 1,
                facts: serde_json::json!({"fields": {}}),
                idempotency_key: Some(key.clone()),
                balance_before: None,
            })
            .await
            .unwrap()
        else {
            panic!("a new reference");
        };
        let fox = suppliers.foxreload().unwrap();
        let items = fox
            .checked_items(&[suppliers::adapters::foxreload::OrderLine::new(
                STEAM_500_RUB,
                1,
            )])
            .await
            .unwrap();
        let created = fox.create(items, &key).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;

        let pending = suppliers.pending().await.unwrap();
        let listed = pending.iter().find(|e| e.reference == r).expect("pending");
        assert_eq!(listed.state, State::Sending);
        let report = suppliers.reconcile().await.unwrap();
        let line = report.iter().find(|l| l.entry.reference == r).unwrap();
        assert!(line.settled);
        assert_eq!(line.before, State::Sending);
        assert_eq!(line.entry.state, State::Created);
        assert_eq!(line.entry.order_id.as_deref(), Some(created.id.as_str()));

        let balance = sandbox.foxreload().balance();
        let receipt = suppliers
            .buy(SupplierId::FoxReload, &steam(&r, 1))
            .await
            .unwrap();
        assert_eq!(receipt.order.id, created.id, "paid, not bought again");
        assert!(sandbox.foxreload().balance() < balance);
        assert_eq!(sandbox.foxreload().order_count(), 1);
        assert_eq!(
            entry(&suppliers, SupplierId::FoxReload, &r).await.state,
            State::Bought
        );
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_reference_another_live_process_is_buying_is_in_progress_and_nothing_is_sent() {
    for (location, _dir) in locations() {
        let sandbox = sandbox().await;
        let suppliers = facade(&sandbox, &location).await;
        let r = reference("busy");
        let worker = Journal::open(&location).await.unwrap();
        let Claim::Claimed(..) = worker
            .claim(&NewPurchase {
                supplier: "mousacard".into(),
                reference: r.clone(),
                product_id: "12330".into(),
                quantity: 1,
                facts: serde_json::json!({}),
                idempotency_key: None,
                balance_before: None,
            })
            .await
            .unwrap()
        else {
            panic!("a new reference");
        };
        let served = sandbox.requests_served();
        let err = suppliers
            .buy(SupplierId::MousaCard, &gift_card(&r))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PurchaseInProgress { .. }), "{err}");
        assert_eq!(sandbox.requests_served(), served);
        let report = suppliers.reconcile().await.unwrap();
        let line = report.iter().find(|l| l.entry.reference == r).unwrap();
        assert!(!line.settled, "left to its holder");
        sandbox.shutdown().await;
    }
}
