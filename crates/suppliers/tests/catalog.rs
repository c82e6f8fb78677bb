//! Catalogs through the unified `Supplier`, over real HTTP on 127.0.0.1.

use futures::StreamExt;
use httpmock::prelude::*;
use rust_decimal::Decimal;
use suppliers::config::{CryptorefillsConfig, FoxReloadConfig};
use suppliers::model::SupplierId;
use suppliers::{CatalogQuery, Suppliers};

fn fox_page(offset: u64, ids: &[&str], total: u64) -> serde_json::Value {
    let items: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "name": format!("Steam {id}"), "price": "5.00", "currency": "USD"}))
        .collect();
    serde_json::json!({"items": items, "limit": 100, "offset": offset, "total": total})
}

#[tokio::test]
async fn foxreload_pages_are_fetched_lazily_as_the_stream_is_read() {
    let server = MockServer::start_async().await;
    let first = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/products/")
                .query_param("category_id_or_slug", "steam")
                .query_param("offset", "0");
            then.status(200).json_body(fox_page(0, &["p1", "p2"], 3));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/products/")
                .query_param("offset", "2");
            then.status(200).json_body(fox_page(2, &["p3"], 3));
        })
        .await;
    let suppliers = Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sandbox", &server.base_url()).unwrap())
        .build()
        .unwrap();
    let fox = suppliers.get(SupplierId::FoxReload).unwrap();
    let mut catalog = fox.catalog(CatalogQuery {
        category: Some("steam".into()),
        ..CatalogQuery::default()
    });
    let one = catalog.next().await.unwrap().unwrap();
    assert_eq!(one.id, "p1");
    assert_eq!(one.price, Some(Decimal::new(500, 2)));
    assert_eq!(
        second.calls_async().await,
        0,
        "the second page is not fetched yet"
    );
    let rest: Vec<String> = catalog.map(|p| p.unwrap().id).collect().await;
    assert_eq!(rest, ["p2", "p3"]);
    assert_eq!(first.calls_async().await, 1);
    assert_eq!(second.calls_async().await, 1);
}

#[tokio::test]
async fn foxreload_without_a_category_walks_every_category_with_products() {
    let server = MockServer::start_async().await;
    let categories = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/categories/").query_param_missing("cursor");
            then.status(200).json_body(serde_json::json!({"items": [
                {"id": "019e2c41-0000-7000-8000-000000000001", "name": "Steam", "hasProducts": true},
                {"id": "019e2c41-0000-7000-8000-000000000002", "name": "Empty", "hasProducts": false}
            ], "limit": 100, "nextCursor": "2"}));
        })
        .await;
    let last = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/categories/")
                .query_param("cursor", "2");
            then.status(200).json_body(serde_json::json!({"items": [
                {"id": "019e2c41-0000-7000-8000-000000000003", "name": "PUBG"}
            ], "limit": 100, "nextCursor": null}));
        })
        .await;
    for (category, ids) in [
        ("000000000001", ["s1", "s2"]),
        ("000000000003", ["u1", "u2"]),
    ] {
        server
            .mock_async(|when, then| {
                when.method(GET).path("/api/products/").query_param(
                    "category_id_or_slug",
                    format!("019e2c41-0000-7000-8000-{category}"),
                );
                then.status(200).json_body(fox_page(0, &ids, 2));
            })
            .await;
    }
    let suppliers = Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sandbox", &server.base_url()).unwrap())
        .build()
        .unwrap();
    let ids: Vec<String> = suppliers
        .get(SupplierId::FoxReload)
        .unwrap()
        .catalog(CatalogQuery::default())
        .map(|p| p.unwrap().id)
        .collect()
        .await;
    assert_eq!(ids, ["s1", "s2", "u1", "u2"]);
    assert_eq!(
        (categories.calls_async().await, last.calls_async().await),
        (1, 1)
    );
}

#[tokio::test]
async fn cryptorefills_lists_one_product_per_denomination() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v5/products/country/US");
            then.status(200).json_body(serde_json::json!([
                {"brand_name": "Airbnb", "country_code": "US", "kind": "giftcard", "currency": "USD",
                 "denominations": [{"value": "50"}, {"value": "100"}]},
                {"brand_name": "T-Mobile", "country_code": "US", "kind": "mobile_recharge", "currency": "USD",
                 "denominations": [], "range": {"min": "10", "max": "100"}}
            ]));
        })
        .await;
    let suppliers = Suppliers::builder()
        .cryptorefills(CryptorefillsConfig::new("sandbox", "1.0", &server.base_url()).unwrap())
        .build()
        .unwrap();
    let cr = suppliers.get(SupplierId::Cryptorefills).unwrap();
    let ids: Vec<String> = cr
        .catalog(CatalogQuery::default())
        .map(|p| p.unwrap().id)
        .collect()
        .await;
    assert_eq!(
        ids,
        [
            "giftcard/Airbnb/US/50",
            "giftcard/Airbnb/US/100",
            "mobile_recharge/T-Mobile/US/{10-100}"
        ]
    );
    let product = cr.product("giftcard/Airbnb/US/100").await.unwrap();
    assert_eq!(product.price, Some(Decimal::new(100, 0)));
    let price = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v4/products/price")
                .query_param("brand_name", "Airbnb")
                .query_param("country_code", "US")
                .query_param("face_value", "100")
                .query_param("coin", "USDC");
            then.status(200).json_body(serde_json::json!(
                {"brand_name": "Airbnb", "coin": "USDC", "coin_amount": "100.352814", "face_value": 100, "currency": "USD"}
            ));
        })
        .await;
    let quote = cr
        .quote("giftcard/Airbnb/US/100", "USDC")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(quote.coin_amount, "100.352814".parse::<Decimal>().unwrap());
    assert_eq!(quote.face_value, Some(Decimal::new(100, 0)));
    price.assert_async().await;
    let err = cr.product("Airbnb").await.unwrap_err();
    assert!(
        err.to_string().contains("kind/brand/country/denomination"),
        "{err}"
    );
}
