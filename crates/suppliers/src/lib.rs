//! One safe way to browse, buy and collect codes from FoxReload, MousaCard and
//! Cryptorefills, on top of the generated clients (`foxreload`, `mousacard`,
//! `cryptorefills`), which stay reachable through each adapter's `client()`.
//!
//! - one shared `reqwest` client, credentials from [`config`] (never in `Debug`),
//! - one retry layer ([`retry`]): reads retry with jittered backoff and `Retry-After`;
//!   purchases are sent exactly once and an unknown outcome is
//!   [`Error::AmbiguousPurchase`],
//! - waiters ([`waiter`]) and Cryptorefills' SSE tracking ([`order_stream`]),
//! - one order model ([`model`]) and one [`Error`].
//!
//! FoxReload: read the product (quantity limits and required note fields are checked
//! before anything is sent), create and pay an order, then poll until its codes arrive.
//!
//! ```no_run
//! # async fn run() -> Result<(), suppliers::Error> {
//! use suppliers::adapters::foxreload::{OrderLine, DEFAULT_WAIT};
//!
//! let suppliers = suppliers::Suppliers::from_env()?; // FOXRELOAD_API_KEY, ...
//! let fox = suppliers.foxreload()?;
//! let mut line = OrderLine::new("product_01kq2w3e4r5t6y7u8i9o0p1a2s", 5); // a $5 top-up
//! line.note.insert("login".into(), "steam_user".into());
//! let order = fox.buy(&[line]).await?;
//! let order = fox.wait_for_order(&order.id, DEFAULT_WAIT).await?;
//! println!("{} {} codes", order.status, order.delivery.codes.len());
//! # Ok(()) }
//! ```
//!
//! MousaCard: buy from the balance (quantity and custom fields checked against the
//! product first), then track many orders with the 50-id batch endpoint.
//!
//! ```no_run
//! # async fn run() -> Result<(), suppliers::Error> {
//! use suppliers::{BuyRequest, model::SupplierId};
//! use suppliers::adapters::mousacard::DEFAULT_WAIT;
//!
//! let suppliers = suppliers::Suppliers::from_env()?; // MOUSACARD_TOKEN
//! let mut request = BuyRequest::new("12310", 1);
//! request.fields.insert("playerid".into(), "12345678".into());
//! let order = suppliers.get(SupplierId::MousaCard)?.buy(&request).await?;
//! let (outcomes, _stats) = suppliers
//!     .mousacard()?
//!     .wait_for_orders(&[order.id.parse().unwrap(), 242859], DEFAULT_WAIT)
//!     .await?;
//! println!("{outcomes:?}");
//! # Ok(()) }
//! ```
//!
//! Cryptorefills: validate, create the order (paid in stablecoins to the returned
//! wallet address), then follow it over Server-Sent Events.
//!
//! ```no_run
//! # async fn run() -> Result<(), suppliers::Error> {
//! use std::time::Duration;
//! use suppliers::{BuyRequest, model::SupplierId};
//!
//! let suppliers = suppliers::Suppliers::from_env()?; // CRYPTOREFILLS_PARTNER_ID, ...
//! let cryptorefills = suppliers.get(SupplierId::Cryptorefills)?;
//! let mut request = BuyRequest::new("giftcard/Airbnb/US/100 USD", 1);
//! request.email = Some("user@example.com".into());
//! cryptorefills.validate(&request).await?;
//! let order = cryptorefills.buy(&request).await?;
//! if let Some(payment) = &order.payment {
//!     println!("pay {:?} {:?} to {}", payment.amount, payment.coin, payment.address);
//! }
//! let done = cryptorefills.wait_for_order(&order.id, Duration::from_secs(1800)).await?;
//! println!("{}", done.status);
//! # Ok(()) }
//! ```

pub mod adapters;
pub mod config;
pub mod error;
mod facade;
mod failure;
pub mod model;
pub mod order_stream;
mod paging;
mod purchase;
pub mod reconcile;
pub mod retry;
pub mod supplier;
pub mod waiter;

pub use error::Error;
pub use facade::{Suppliers, SuppliersBuilder, USER_AGENT};
pub use purchase::{MAX_REFERENCE_LEN, Receipt, new_reference};
pub use supplier::{BuyRequest, CatalogQuery, Supplier};
pub use suppliers_journal as journal;
pub use suppliers_journal::Journal;
