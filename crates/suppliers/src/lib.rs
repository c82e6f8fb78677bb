//! One safe way to browse, buy and collect codes from FoxReload, MousaCard and
//! Cryptorefills. (Work in progress: see issue 4.)

pub mod adapters;
pub mod config;
pub mod error;
mod facade;
mod failure;
pub mod model;
pub mod order_stream;
mod paging;
pub mod retry;
pub mod waiter;

pub use error::Error;
pub use facade::{Suppliers, SuppliersBuilder, USER_AGENT};
