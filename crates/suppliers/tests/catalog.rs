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
    // One request at a time: nothing is fetched ahead of the reader.
    let suppliers = Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sandbox", &server.base_url()).unwrap())
        .catalog_concurrency(1)
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
async fn cryptorefills_lists_the_products_of_every_brand_family() {
    let server = MockServer::start_async().await;
    let brands = server
        .mock_async(|when, then| {
            when.method(GET).path("/v2/brands").query_param("country_code", "US");
            then.status(200).json_body(serde_json::json!({"country_code": "US",
                "all_brands": [
                    {"family": "Target", "brand": "Target", "kind": "giftcard", "min": "$5", "max": "$200"},
                    {"family": "T-Mobile", "brand": "T-Mobile", "kind": "mobile_recharge"},
                    {"family": "Target", "brand": "Target", "kind": "giftcard"}
                ], "popular_brands": [], "categories": []}));
        })
        .await;
    let target = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v5/products/country/US")
                .query_param("family_name", "Target");
            then.status(200).json_body(serde_json::json!([{"family": "Target", "brand": "Target",
                "kind": "giftcard", "country_code": "US", "products": [
                    {"product_id": "a", "is_dynamic": false, "denomination": "10 USD",
                     "localized_denomination": "$10", "coin": "USDC", "coin_amount": "10.0350"},
                    {"product_id": "b", "is_dynamic": true,
                     "range": {"min": 5.0, "max": 200.0, "currency": "USD", "step_size": 1.0, "default": "200.0"}}
                ]}]));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v5/products/country/US")
                .query_param("family_name", "T-Mobile");
            then.status(200).json_body(
                serde_json::json!([{"family": "T-Mobile", "brand": "T-Mobile",
                "kind": "mobile_recharge", "products": [{"product_id": "c", "is_dynamic": true,
                    "face_value": {"currency_code": "USD", "amount": {"type": "range",
                        "min": {"amount": 10, "currency": "USD"}, "max": "100.00"}}}]}]),
            );
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
            "giftcard/Target/US/10 USD",
            "giftcard/Target/US/range",
            "mobile_recharge/T-Mobile/US/range"
        ]
    );
    assert_eq!(brands.calls_async().await, 1);
    assert_eq!(target.calls_async().await, 1, "each family once");

    let product = cr.product("giftcard/Target/US/10 USD").await.unwrap();
    assert_eq!(product.price, Some(Decimal::new(100350, 4)));
    let range = cr
        .product("mobile_recharge/T-Mobile/US/range")
        .await
        .unwrap();
    let range = range.amount_range.unwrap();
    assert_eq!(
        (range.min, range.max, range.step),
        (Decimal::TEN, Decimal::ONE_HUNDRED, None)
    );

    let price = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v4/products/price")
                .query_param("brand_name", "Target")
                .query_param("country_code", "US")
                .query_param("face_value", "10")
                .query_param("coin", "USDC");
            then.status(200).json_body(serde_json::json!(
                {"product_id": "a", "is_dynamic": false, "coin": "USDC", "coin_amount": "10.0350",
                 "original_coin_amount": "10.0350", "payment_method": "USDC-SOL"}
            ));
        })
        .await;
    let quote = cr
        .quote("giftcard/Target/US/10 USD", "USDC")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(quote.coin_amount, "10.0350".parse::<Decimal>().unwrap());
    assert_eq!(
        (quote.face_value, quote.currency.as_deref()),
        (Some(Decimal::TEN), Some("USD"))
    );
    price.assert_async().await;
    let err = cr.product("Target").await.unwrap_err();
    assert!(
        err.to_string().contains("kind/brand/country/denomination"),
        "{err}"
    );
}
