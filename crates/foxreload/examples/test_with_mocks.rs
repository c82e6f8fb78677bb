//! Test your own code with the generated httpmock mocks (feature `mock`): each
//! operation has a typed stub on `httpmock::MockServer` (`server.get_order(|when, then|
//! ...)`), matched on the operation's parameters and answered with the spec's types, so
//! a test of your code cannot drift from the API unnoticed.
//!
//! Needs nothing: httpmock servers on 127.0.0.1. In your crate:
//!
//! ```toml
//! [dev-dependencies]
//! foxreload = { version = "0.1", features = ["mock"] }
//! httpmock = "0.9"
//! ```
//!
//! ```sh
//! cargo run -p foxreload --example test_with_mocks    # the scenarios, as a program
//! cargo test -p foxreload --example test_with_mocks   # the same, as tests
//! ```

use foxreload::Client;
use foxreload::mock::MockServerExt;
use foxreload::types::{ErrorDetail, GetOrderError, Order, OrderItem, OrderProduct, OrderStatus};
use httpmock::MockServer;

// --- Your code: what a shop does with an order id --------------------------------------

/// What the shop can tell its customer about an order.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    /// The codes to show.
    Codes(Vec<String>),
    /// Not there yet: ask again later.
    NotYet(OrderStatus),
}

/// Why the shop cannot tell.
#[derive(Debug, PartialEq)]
pub enum ShopError {
    /// FoxReload does not know this order.
    UnknownOrder,
    /// Anything else: a refusal, a transport failure, an unexpected answer.
    Supplier(String),
}

/// The codes of a completed order, or its status while it is not.
pub async fn delivery(client: &Client, order_id: &str) -> Result<Delivery, ShopError> {
    let order = match client.get_order().order_id(order_id).send().await {
        Ok(order) => order.into_inner(),
        Err(foxreload::Error::ErrorResponse(answer)) if answer.status() == 404 => {
            return Err(ShopError::UnknownOrder);
        }
        Err(other) => return Err(ShopError::Supplier(other.to_string())),
    };
    if order.status != OrderStatus::Completed {
        return Ok(Delivery::NotYet(order.status));
    }
    let codes = order
        .items
        .into_iter()
        .flat_map(|item| match item.external_data {
            // Codes are strings; activation data (eSIMs) may be objects.
            Some(serde_json::Value::Array(values)) => values,
            _ => Vec::new(),
        })
        .filter_map(|value| value.as_str().map(str::to_owned))
        .collect();
    Ok(Delivery::Codes(codes))
}

// --- Its tests, against the generated mocks ---------------------------------------------

const API_KEY: &str = "test-key";
const ORDER_ID: &str = "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f";

/// An order built with the generated builders (a struct literal would break on the
/// next optional field the spec adds).
fn order(status: OrderStatus, codes: &[&str]) -> Order {
    let product = OrderProduct::builder()
        .id("product_01krgfgww8eth9xvvysd6y7r4j")
        .name("Steam 500 RUB");
    let item = OrderItem::builder()
        .product(product)
        .quantity(1)
        .external_data(Some(serde_json::Value::from(
            codes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        )));
    let item: OrderItem = item.try_into().expect("a valid item");
    Order::builder()
        .id(ORDER_ID)
        .status(status)
        .items(vec![item])
        .try_into()
        .expect("a valid order")
}

/// A completed order yields its codes; the request carried the API key.
pub async fn completed_order_shows_its_codes() {
    let server = MockServer::start_async().await;
    let mock = server.get_order(|when, then| {
        when.order_id(ORDER_ID)
            .into_inner()
            .header("x-api-key", API_KEY);
        then.ok(&order(OrderStatus::Completed, &["TM6M-SPSY-EBTJ"]));
    });
    let client = Client::with_api_key(&server.base_url(), API_KEY).unwrap();
    let got = delivery(&client, ORDER_ID).await;
    assert_eq!(got, Ok(Delivery::Codes(vec!["TM6M-SPSY-EBTJ".into()])));
    mock.assert_async().await;
}

/// An order still processing is not delivered yet.
pub async fn processing_order_is_not_delivered_yet() {
    let server = MockServer::start_async().await;
    server.get_order(|when, then| {
        when.order_id(ORDER_ID);
        then.ok(&order(OrderStatus::Processing, &[]));
    });
    let client = Client::with_api_key(&server.base_url(), API_KEY).unwrap();
    let got = delivery(&client, ORDER_ID).await;
    assert_eq!(got, Ok(Delivery::NotYet(OrderStatus::Processing)));
}

/// A 404 with FoxReload's error body is an unknown order, not a supplier failure.
pub async fn unknown_order_is_told_apart() {
    let server = MockServer::start_async().await;
    server.get_order(|when, then| {
        when.order_id("no-such-order");
        then.not_found(&GetOrderError::ErrorDetail(ErrorDetail {
            code: None,
            detail: "Order not found".into(),
        }));
    });
    let client = Client::with_api_key(&server.base_url(), API_KEY).unwrap();
    assert_eq!(
        delivery(&client, "no-such-order").await,
        Err(ShopError::UnknownOrder)
    );
}

/// A 500 that is not in the spec is a supplier failure.
pub async fn server_error_is_a_supplier_failure() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.any_request();
        then.status(500).body("upstream down");
    });
    let client = Client::with_api_key(&server.base_url(), API_KEY).unwrap();
    let got = delivery(&client, ORDER_ID).await;
    assert!(matches!(got, Err(ShopError::Supplier(_))), "{got:?}");
}

#[tokio::main]
async fn main() {
    completed_order_shows_its_codes().await;
    processing_order_is_not_delivered_yet().await;
    unknown_order_is_told_apart().await;
    server_error_is_a_supplier_failure().await;
    println!("4 scenarios passed");
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn completed_order_shows_its_codes() {
        super::completed_order_shows_its_codes().await;
    }

    #[tokio::test]
    async fn processing_order_is_not_delivered_yet() {
        super::processing_order_is_not_delivered_yet().await;
    }

    #[tokio::test]
    async fn unknown_order_is_told_apart() {
        super::unknown_order_is_told_apart().await;
    }

    #[tokio::test]
    async fn server_error_is_a_supplier_failure() {
        super::server_error_is_a_supplier_failure().await;
    }
}
