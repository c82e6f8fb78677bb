//! Whole MousaCard purchases through the facade against the sandbox on 127.0.0.1.

use std::time::Duration;

use rust_decimal::Decimal;
use suppliers::adapters::mousacard::Tracked;
use suppliers::config::MousaCardConfig;
use suppliers::model::{OrderStatus, SupplierId};
use suppliers::waiter::WaiterConfig;
use suppliers::{BuyRequest, Error, Suppliers};
use suppliers_sandbox::{Sandbox, SandboxConfig, Timings};

const FAST_WAIT: WaiterConfig = WaiterConfig {
    min_delay: Duration::from_millis(20),
    max_delay: Duration::from_millis(50),
    max_wait: Duration::from_secs(5),
};

/// A journaled purchase, each with a fresh reference.
async fn buy(
    suppliers: &Suppliers,
    request: &BuyRequest,
) -> Result<suppliers::model::Order, Error> {
    let receipt = suppliers.buy(SupplierId::MousaCard, request).await?;
    assert!(!receipt.replayed);
    Ok(receipt.order)
}

async fn start() -> (Sandbox, Suppliers) {
    let sandbox = Sandbox::start(SandboxConfig {
        timings: Timings::fast(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let suppliers = Suppliers::builder()
        .mousacard(MousaCardConfig::new("sandbox", &sandbox.mousacard_url()).unwrap())
        .journal(suppliers::Journal::in_memory().await.unwrap())
        .build()
        .unwrap();
    (sandbox, suppliers)
}

#[tokio::test]
async fn codes_subscription_and_rejected_products_end_as_documented() {
    let (sandbox, suppliers) = start().await;
    let mousa = suppliers.get(SupplierId::MousaCard).unwrap();

    // Instant codes product: completed in the purchase answer.
    let instant = buy(&suppliers, &BuyRequest::new("12330", 2)).await.unwrap();
    assert_eq!(instant.status, OrderStatus::Completed);
    assert_eq!(instant.delivery.codes.len(), 2);

    // Variation with a required player id: processing, then completed with codes.
    let mut credits = BuyRequest::new("12310", 1);
    credits.fields.insert("playerid".into(), "12345678".into());
    let pending = buy(&suppliers, &credits).await.unwrap();
    assert_eq!(pending.status, OrderStatus::Processing);
    let done = mousa
        .wait_for_order(&pending.id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.status, OrderStatus::Completed);
    assert_eq!(done.delivery.codes.len(), 1);

    // Subscription and rejected products, tracked together with an unknown id.
    let netflix = buy(&suppliers, &BuyRequest::new("12420", 1)).await.unwrap();
    let rejected = buy(&suppliers, &BuyRequest::new("12500", 1)).await.unwrap();
    let ids = [netflix.id.parse().unwrap(), rejected.id.parse().unwrap(), 1];
    let (outcomes, _) = suppliers
        .mousacard()
        .unwrap()
        .wait_for_orders(&ids, FAST_WAIT)
        .await
        .unwrap();
    let Tracked::Finished(netflix) = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert!(
        netflix
            .delivery
            .account
            .as_ref()
            .is_some_and(|a| a.password.is_some())
    );
    let Tracked::Finished(rejected) = &outcomes[1] else {
        panic!("{outcomes:?}")
    };
    assert_eq!(
        (rejected.status, rejected.supplier_status.as_str()),
        (OrderStatus::Failed, "rejected")
    );
    assert!(matches!(outcomes[2], Tracked::NotFound { order_id: 1, .. }));

    // 150.5 - 2*10 - 5 - 15 - 3
    assert_eq!(sandbox.mousacard().balance(), Decimal::new(1075, 1));
    assert_eq!(sandbox.mousacard().order_count(), 4);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_input_is_refused_before_sending_and_balance_limits_are_enforced() {
    let (sandbox, suppliers) = start().await;
    let mousa = suppliers.get(SupplierId::MousaCard).unwrap();
    let err = buy(&suppliers, &BuyRequest::new("12310", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest { field: Some(f), sent: false, .. } if f == "playerid"),
        "{err:?}"
    );
    let err = buy(&suppliers, &BuyRequest::new("12420", 2))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest { field: Some(f), sent: false, .. } if f == "quantity"),
        "{err:?}"
    );
    assert_eq!(sandbox.mousacard().order_count(), 0);

    let err = buy(&suppliers, &BuyRequest::new("12340", 5))
        .await
        .unwrap_err();
    match err {
        Error::InsufficientBalance {
            required,
            available,
            ..
        } => {
            assert_eq!(required, Some(Decimal::new(250, 0)));
            assert_eq!(available, Some(Decimal::new(1505, 1)));
        }
        other => panic!("expected insufficient balance, got {other:?}"),
    }
    let balance = mousa.balance().await.unwrap().unwrap();
    assert_eq!(balance.amount, Decimal::new(1505, 1));
    sandbox.shutdown().await;
}
