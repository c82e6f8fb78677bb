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
//! ```no_run
//! # async fn run() -> Result<(), suppliers::Error> {
//! use suppliers::adapters::foxreload::{OrderLine, DEFAULT_WAIT};
//!
//! let suppliers = suppliers::Suppliers::from_env()?; // FOXRELOAD_API_KEY, ...
//! let fox = suppliers.foxreload()?;
//! let line = OrderLine { product_id: "product_01krgfgww8eth9xvvysd6y7r4j".into(), quantity: 1 };
//! let order = fox.buy(&[line], None, None).await?;
//! let order = fox.wait_for_order(&order.id, DEFAULT_WAIT).await?;
//! println!("{} {} codes", order.status, order.delivery.codes.len());
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
pub mod retry;
pub mod supplier;
pub mod waiter;

pub use error::Error;
pub use facade::{Suppliers, SuppliersBuilder, USER_AGENT};
pub use supplier::{BuyRequest, CatalogQuery, Supplier};
