//! Whole Cryptorefills purchases through the facade against the sandbox on 127.0.0.1:
//! payment window, SSE tracking (also when the stream is cut), expiry, problems.

use std::time::Duration;

use rust_decimal::Decimal;

use suppliers::config::CryptorefillsConfig;
use suppliers::error::ProblemCode;
use suppliers::model::{OrderStatus, SupplierId};
use suppliers::{BuyRequest, Error, Suppliers};
use suppliers_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig, Timings};

async fn start(config: SandboxConfig) -> (Sandbox, Suppliers) {
    let sandbox = Sandbox::start(config).await.unwrap();
    let suppliers = Suppliers::builder()
        .cryptorefills(
            CryptorefillsConfig::new("sandbox", "1.0.0", &sandbox.cryptorefills_url()).unwrap(),
        )
        .journal(suppliers::Journal::in_memory().await.unwrap())
        .build()
        .unwrap();
    (sandbox, suppliers)
}

/// A journaled purchase, each with a fresh reference.
async fn buy(
    suppliers: &Suppliers,
    request: &BuyRequest,
) -> Result<suppliers::model::Order, Error> {
    let receipt = suppliers.buy(SupplierId::Cryptorefills, request).await?;
    assert!(!receipt.replayed);
    Ok(receipt.order)
}

fn manual_payment() -> SandboxConfig {
    SandboxConfig {
        timings: Timings::fast(),
        cryptorefills_auto_pay_after: None,
        ..SandboxConfig::default()
    }
}

fn gift_card() -> BuyRequest {
    let mut request = BuyRequest::new("giftcard/Airbnb/US/100 USD", 1);
    request.email = Some("user@example.com".into());
    request
}

#[tokio::test]
async fn an_order_waits_for_payment_then_streams_to_done_with_codes() {
    let (sandbox, suppliers) = start(manual_payment()).await;
    let cr = suppliers.get(SupplierId::Cryptorefills).unwrap();
    cr.validate(&gift_card()).await.unwrap();
    let order = buy(&suppliers, &gift_card()).await.unwrap();
    assert_eq!(order.status, OrderStatus::AwaitingPayment);
    let payment = order.payment.clone().expect("wallet address and amount");
    assert_eq!(payment.amount, Some("100.350000".parse().unwrap()));

    let waiting = {
        let suppliers = suppliers.clone();
        let id = order.id.clone();
        tokio::spawn(async move {
            suppliers
                .get(SupplierId::Cryptorefills)
                .unwrap()
                .wait_for_order(&id, Duration::from_secs(10))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sandbox.cryptorefills().done_at(&order.id), None, "unpaid");
    let before = chrono::Utc::now();
    assert!(sandbox.cryptorefills().pay(&order.id));
    let done_at = sandbox.cryptorefills().done_at(&order.id).expect("paid");
    let done = waiting.await.unwrap().unwrap();
    let returned = chrono::Utc::now();
    assert_eq!(done.status, OrderStatus::Completed);
    assert_eq!(done.supplier_status, "Done");
    assert_eq!(done.delivery.codes.len(), 1);
    assert!(done_at >= before + Timings::fast().completed_after);
    assert!(
        returned >= done_at,
        "Done is not reported before it happens"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_stream_cut_mid_way_still_ends_completed() {
    let (sandbox, suppliers) = start(SandboxConfig {
        timings: Timings::fast(),
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(100)),
        ..SandboxConfig::default()
    })
    .await;
    let cr = suppliers.cryptorefills().unwrap();
    let order = cr.buy(&suppliers_sandbox_purchase()).await.unwrap();
    sandbox.faults().add(FaultRule::new(
        format!("/cryptorefills/v5/orders/{}/subscribe", order.id),
        Fault::CutStreamAfter(1),
        1,
    ));
    let done = cr
        .wait_for_order(&order.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(done.status, OrderStatus::Completed);
    sandbox.shutdown().await;
}

fn suppliers_sandbox_purchase() -> suppliers::adapters::cryptorefills::Purchase {
    suppliers::adapters::cryptorefills::Purchase {
        kind: cryptorefills::types::ProductKind::Esim,
        brand_name: "Airalo eSIM".into(),
        country_code: "US".into(),
        denomination: "3 GB 30 days".into(),
        amount: None,
        quantity: std::num::NonZeroU32::MIN,
        beneficiary: "user@example.com".into(),
        email: "user@example.com".into(),
        coin: "USDC".into(),
        network: Some("Solana".into()),
    }
}

#[tokio::test]
async fn an_unpaid_order_expires_after_the_window() {
    let (sandbox, suppliers) = start(SandboxConfig {
        cryptorefills_auto_pay_after: None,
        cryptorefills_payment_window: chrono::TimeDelta::milliseconds(200),
        ..SandboxConfig::default()
    })
    .await;
    let cr = suppliers.get(SupplierId::Cryptorefills).unwrap();
    let order = buy(&suppliers, &gift_card()).await.unwrap();
    let done = cr
        .wait_for_order(&order.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(done.status, OrderStatus::Expired);
    assert!(
        !sandbox.cryptorefills().pay(&order.id),
        "an expired order cannot be paid"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_sandbox_reports_documented_problems() {
    let (sandbox, suppliers) = start(manual_payment()).await;
    let cr = suppliers.get(SupplierId::Cryptorefills).unwrap();
    let mut request = gift_card();
    request.coin = Some("DOGE".into());
    request.product_id = "giftcard/Airbnb/US/75 USD".into();
    let err = cr.validate(&request).await.unwrap_err();
    let Error::ValidationProblems { problems, .. } = &err else {
        panic!("{err:?}")
    };
    let codes: Vec<&ProblemCode> = problems.iter().map(|p| &p.code).collect();
    assert_eq!(
        codes,
        [
            &ProblemCode::InvalidDenomination,
            &ProblemCode::UnsupportedProtocolCoinCombination
        ]
    );
    // Creating the same order is refused with the same problems; nothing is created.
    let err = buy(&suppliers, &request).await.unwrap_err();
    assert!(matches!(err, Error::ValidationProblems { .. }), "{err:?}");
    assert_eq!(sandbox.cryptorefills().order_count(), 0);

    let wrong = Suppliers::builder()
        .cryptorefills(
            CryptorefillsConfig::new("intruder", "1.0.0", &sandbox.cryptorefills_url()).unwrap(),
        )
        .build()
        .unwrap();
    let err = wrong
        .get(SupplierId::Cryptorefills)
        .unwrap()
        .order("ord_1")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_range_product_is_bought_with_an_amount_checked_against_its_step() {
    let (sandbox, suppliers) = start(manual_payment()).await;
    let cr = suppliers.get(SupplierId::Cryptorefills).unwrap();
    let product = cr.product("giftcard/Target/US/range").await.unwrap();
    assert!(product.amount_range.is_some());
    let mut request = BuyRequest::new("giftcard/Target/US/range", 2);
    request.email = Some("user@example.com".into());
    for (amount, field) in [
        (None, "amount"),
        (Some(Decimal::new(75, 1)), "amount"),
        (Some(Decimal::from(201)), "amount"),
    ] {
        request.amount = amount;
        let err = buy(&suppliers, &request).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest { sent: false, field: Some(f), .. } if f == field),
            "{amount:?}: {err:?}"
        );
    }
    assert_eq!(sandbox.cryptorefills().order_count(), 0, "nothing was sent");
    request.amount = Some(Decimal::from(50));
    let order = buy(&suppliers, &request).await.unwrap();
    assert_eq!(order.status, OrderStatus::AwaitingPayment);
    let payment = order.payment.clone().unwrap();
    assert_eq!(
        payment.amount,
        Some(Decimal::new(100350, 3)),
        "two units of 50 at the sandbox rate"
    );
    assert!(payment.qr_text.unwrap().contains(&payment.address));
    assert!(payment.pay_before.is_some());
    assert!(sandbox.cryptorefills().pay(&order.id));
    let done = cr
        .wait_for_order(&order.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(done.delivery.codes.len(), 2, "one code per unit");
    assert!(done.delivery.redemptions.iter().all(|r| r.serial.is_some()));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_problem_code_the_seed_does_not_list_is_reported() {
    let (sandbox, suppliers) = start(manual_payment()).await;
    let cr = suppliers.get(SupplierId::Cryptorefills).unwrap();
    let mut request = gift_card();
    request.email = Some("kyc@example.com".into());
    let err = cr.validate(&request).await.unwrap_err();
    let Error::ValidationProblems { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(problems[0].code, ProblemCode::KycMissing);
    assert!(err.to_string().contains("KYC_MISSING"), "{err}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn every_order_gets_its_own_code_serial_and_wallet_address() {
    let (sandbox, suppliers) = start(SandboxConfig {
        timings: Timings::fast(),
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(10)),
        ..SandboxConfig::default()
    })
    .await;
    let cr = suppliers.get(SupplierId::Cryptorefills).unwrap();
    let mut codes = std::collections::BTreeSet::new();
    let mut serials = std::collections::BTreeSet::new();
    let mut wallets = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let order = buy(&suppliers, &gift_card()).await.unwrap();
        let payment = order.payment.expect("a wallet address");
        wallets.insert(payment.address);
        let done = cr
            .wait_for_order(&order.id, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(done.status, OrderStatus::Completed);
        for redemption in &done.delivery.redemptions {
            codes.insert(redemption.code.clone());
            serials.insert(redemption.serial.clone().expect("a serial"));
        }
    }
    assert_eq!(
        (codes.len(), serials.len(), wallets.len()),
        (3, 3, 3),
        "{codes:?} {serials:?} {wallets:?}"
    );
    sandbox.shutdown().await;
}
