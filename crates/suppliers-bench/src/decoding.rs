//! Decoding (section 2): a large Cryptorefills products list and a large FoxReload order history,
//! generated here from the generated types themselves (so they have the spec's shape),
//! decoded by the generated types against `serde_json::Value` and against a minimal
//! hand-written struct of the fields a caller reads. Throughput in MB/s; a ratio above
//! 1 means the generated types are faster.

use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Mode;
use crate::report::{Row, median};

/// A catalog like `GET /v5/products/country/{country}` answers: `count` brand families
/// of 1-6 products each (fixed denominations, or one range).
pub fn cryptorefills_products(count: usize) -> Vec<u8> {
    use cryptorefills::types::{
        BrandFamily, FaceValue, FaceValueAmount, FaceValueAmountType, Product, ProductKind,
        ProductRange,
    };
    const BRANDS: [(&str, &str); 6] = [
        ("Amazon", "giftcard"),
        ("Steam", "giftcard"),
        ("T-Mobile", "mobile_recharge"),
        ("Vodafone", "mobile_recharge"),
        ("Airalo eSIM", "esim"),
        ("CryptoPunks", "nft_giftcard"),
    ];
    let families: Vec<BrandFamily> = (0..count)
        .map(|n| {
            let (brand, kind) = BRANDS[n % BRANDS.len()];
            let name = format!("{brand} {n}");
            let ranged = kind == "mobile_recharge" && n % 2 == 0;
            let products = if ranged {
                vec![Product {
                    product_id: Some(format!("{n:08}-range")),
                    is_dynamic: Some(true),
                    coin: Some("USDC".into()),
                    range: Some(ProductRange {
                        min: Some(Decimal::from(5)),
                        max: Some(Decimal::from(100)),
                        step_size: Some(Decimal::new(5, 1)),
                        default: Some(Decimal::from(100)),
                        currency: Some("USD".into()),
                    }),
                    ..Product::default()
                }]
            } else {
                (1..=(n % 6 + 1))
                    .map(|d| {
                        let value = Decimal::from(d * 10 + n % 7);
                        Product {
                            product_id: Some(format!("{n:08}-{d}")),
                            is_dynamic: Some(false),
                            denomination: Some(format!("{value} USD")),
                            localized_denomination: Some(format!("${value}")),
                            coin: Some("USDC".into()),
                            coin_amount: Some(value * Decimal::new(10035, 4)),
                            payment_method: Some("USDC-SOL".into()),
                            face_value: Some(FaceValue {
                                currency_code: Some("USD".into()),
                                amount: Some(FaceValueAmount {
                                    type_: Some(FaceValueAmountType::Fixed),
                                    price: Some(value),
                                    ..FaceValueAmount::default()
                                }),
                            }),
                            ..Product::default()
                        }
                    })
                    .collect()
            };
            BrandFamily {
                family: Some(name.clone()),
                brand: Some(name.clone()),
                kind: Some(ProductKind::from(kind)),
                category: Some("retail".into()),
                country_code: Some(["US", "DE", "JP", "SA"][n % 4].into()),
                is_out_of_stock: Some(false),
                logo_url: Some(format!("https://cdn.example.com/logos/{n}.png")),
                products,
                ..BrandFamily::default()
            }
        })
        .collect();
    serde_json::to_vec(&families).expect("families serialise")
}

/// An order history like `GET /api/orders/` answers, `count` orders of 1-3 lines.
pub fn foxreload_orders(count: usize) -> Vec<u8> {
    use foxreload::types::{Order, OrderItem, OrderPage, OrderProduct, OrderStatus};
    let statuses = [
        OrderStatus::Completed,
        OrderStatus::Completed,
        OrderStatus::Processing,
        OrderStatus::Paid,
        OrderStatus::Failed,
        OrderStatus::Active,
    ];
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let items: Vec<Order> = (0..count)
        .map(|n| {
            let status = statuses[n % statuses.len()].clone();
            let completed = status == OrderStatus::Completed;
            let lines: Vec<OrderItem> = (0..(n % 3 + 1))
                .map(|line| {
                    let quantity = (n + line) % 4 + 1;
                    OrderItem {
                        error: (status == OrderStatus::Failed).then(|| "Out of stock".into()),
                        external_data: completed.then(|| {
                            (0..quantity)
                                .map(|u| format!("X{n:05}-{line:02}{u:02}-QWERTY"))
                                .collect()
                        }),
                        price: Some(Decimal::new(650 + (n % 100) as i64, 2)),
                        product: OrderProduct {
                            id: format!("product_01krgfgww8eth9xvvysd6y{:06}", n % 500),
                            name: format!("Game Card {}", n % 500),
                        },
                        quantity: quantity as i64,
                        user_guide: completed.then(|| "Redeem in the store's app".into()),
                    }
                })
                .collect();
            let created = start + chrono::TimeDelta::minutes(n as i64);
            Order {
                created_at: Some(created),
                currency: Some("USD".into()),
                id: format!("5f0c3f7e-0000-4000-8000-{n:012}"),
                total_price: Some(
                    lines
                        .iter()
                        .map(|l| l.price.unwrap_or_default() * Decimal::from(l.quantity))
                        .sum(),
                ),
                items: lines,
                cancel_reason: None,
                payment_expires_at: Some(created + chrono::TimeDelta::minutes(15)),
                status,
                updated_at: Some(created + chrono::TimeDelta::seconds(3)),
            }
        })
        .collect();
    let page = OrderPage {
        total: Some(count as i64),
        limit: Some(count as i64),
        offset: Some(0),
        items,
    };
    serde_json::to_vec(&page).expect("orders serialise")
}

/// The fields of a brand family a caller reads.
#[derive(Deserialize)]
#[allow(dead_code)] // Decoded to be paid for, not read.
struct MinimalFamily {
    brand: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    products: Vec<MinimalProduct>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct MinimalProduct {
    denomination: Option<String>,
    coin_amount: Option<Decimal>,
}

/// The fields of an order page a caller reads.
#[derive(Deserialize)]
#[allow(dead_code)]
struct MinimalOrderPage {
    items: Vec<MinimalOrder>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct MinimalOrder {
    id: String,
    status: String,
    #[serde(rename = "totalPrice")]
    total_price: Option<Decimal>,
    items: Vec<MinimalItem>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct MinimalItem {
    #[serde(rename = "externalData")]
    // Codes (strings) or activation data (objects): production sends both.
    external_data: Option<serde_json::Value>,
}

type Decoder = fn(&[u8]) -> Result<(), serde_json::Error>;

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<(), serde_json::Error> {
    std::hint::black_box(serde_json::from_slice::<T>(bytes)?);
    Ok(())
}

/// MB/s of `decoder` over `bytes`, decoding for at least `time`.
fn throughput(bytes: &[u8], decoder: Decoder, time: Duration) -> Result<f64> {
    let started = Instant::now();
    let mut runs = 0u64;
    while runs == 0 || started.elapsed() < time {
        decoder(std::hint::black_box(bytes))?;
        runs += 1;
    }
    Ok(bytes.len() as f64 * runs as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// Median MB/s of each decoder, trials rotating which goes first.
fn compare(bytes: &[u8], decoders: [Decoder; 3], mode: Mode) -> Result<[f64; 3]> {
    let (trials, time) = mode.pick(
        (3, Duration::from_millis(150)),
        (7, Duration::from_millis(400)),
    );
    let mut samples: [Vec<f64>; 3] = Default::default();
    for trial in 0..trials {
        for k in 0..3 {
            let which = (trial + k) % 3;
            samples[which].push(throughput(bytes, decoders[which], time)?);
        }
    }
    Ok(samples.map(|s| median(&s)))
}

/// Runs the section: two rows per body (against `Value`, against the minimal struct).
pub fn run(mode: Mode) -> Result<Vec<Row>> {
    let count = mode.pick(2_000, 10_000);
    let bodies: [(&str, Vec<u8>, [Decoder; 3]); 2] = [
        (
            "Cryptorefills catalog",
            cryptorefills_products(count),
            [
                decode::<Vec<cryptorefills::types::BrandFamily>>,
                decode::<serde_json::Value>,
                decode::<Vec<MinimalFamily>>,
            ],
        ),
        (
            "FoxReload order history",
            foxreload_orders(count),
            [
                decode::<foxreload::types::OrderPage>,
                decode::<serde_json::Value>,
                decode::<MinimalOrderPage>,
            ],
        ),
    ];
    let mut rows = Vec::new();
    for (name, bytes, decoders) in bodies {
        let [generated, value, minimal] = compare(&bytes, decoders, mode)?;
        let size = format!("{count} items, {:.1} MB", bytes.len() as f64 / 1e6);
        for (baseline, rate) in [("serde_json::Value", value), ("minimal struct", minimal)] {
            rows.push(Row {
                section: 2,
                measure: format!("decode {name} ({size}), generated types (MB/s)"),
                sdk: format!("{generated:.0}"),
                baseline: format!("{rate:.0} ({baseline})"),
                ratio: Some(generated / rate),
                target: None,
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_bodies_decode_with_every_decoder() {
        let products = cryptorefills_products(12);
        let orders = foxreload_orders(12);
        let parsed: Vec<cryptorefills::types::BrandFamily> =
            serde_json::from_slice(&products).unwrap();
        assert_eq!(parsed.len(), 12);
        assert!(
            parsed
                .iter()
                .flat_map(|f| &f.products)
                .any(|p| p.range.is_some())
        );
        let page: foxreload::types::OrderPage = serde_json::from_slice(&orders).unwrap();
        assert_eq!(page.items.len(), 12);
        assert!(page.items.iter().any(|o| o.items.len() == 3));
        for decoder in [decode::<serde_json::Value>, decode::<Vec<MinimalFamily>>] {
            decoder(&products).unwrap();
        }
        decode::<MinimalOrderPage>(&orders).unwrap();
    }
}
