//! [`Supplier`]: the same calls for every supplier.
//!
//! An enum rather than a trait: the set of suppliers is closed and known at compile
//! time, an enum needs no boxing of async methods or streams behind `dyn`, and adding a
//! supplier makes the compiler list every place that must handle it. What only one
//! supplier can do stays on its adapter (`Supplier::FoxReload(fox) => fox.orders(..)`).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::adapters::{cryptorefills, foxreload, mousacard};
// Re-exported where it was first published (`suppliers::supplier::EndUser`).
pub use crate::end_user::EndUser;
use crate::error::Error;
use crate::model::{Balance, Order, Product, Quote, SupplierId};
use crate::waiter::WaiterConfig;

/// One configured supplier.
#[derive(Debug, Clone, Copy)]
pub enum Supplier<'a> {
    /// FoxReload.
    FoxReload(&'a foxreload::FoxReload),
    /// MousaCard.
    MousaCard(&'a mousacard::MousaCard),
    /// Cryptorefills.
    Cryptorefills(&'a cryptorefills::Cryptorefills),
}

/// What to list from a catalog. Each supplier uses the filters it has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogQuery {
    /// FoxReload category id or slug; MousaCard category slug.
    pub category: Option<String>,
    /// Cryptorefills country (default `US`).
    pub country: Option<String>,
    /// FoxReload search text; Cryptorefills brand family.
    pub search: Option<String>,
    /// Cryptorefills: the end user the catalog is shown to (sent on every request of
    /// the walk).
    pub end_user: Option<EndUser>,
}

/// A purchase, with every field any supplier may need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuyRequest {
    /// FoxReload `product_<ulid>`; MousaCard product or variation id; Cryptorefills
    /// `kind/brand/country/denomination` (e.g. `giftcard/Airbnb/US/100`).
    pub product_id: String,
    /// How many (default 1).
    pub quantity: u64,
    /// FoxReload note fields (the product's `requiredNoteFields`, e.g. `login`) and
    /// MousaCard custom fields (e.g. `playerid`).
    pub fields: BTreeMap<String, String>,
    /// Cryptorefills beneficiary: email, or E.164 phone for mobile top-ups.
    pub beneficiary: Option<String>,
    /// Cryptorefills end-user email.
    pub email: Option<String>,
    /// Cryptorefills coin (default `USDC`).
    pub coin: Option<String>,
    /// Cryptorefills network (default `Solana`).
    pub network: Option<String>,
    /// Cryptorefills range products (id ending `/range`): the face value to buy,
    /// checked against the product's range and step before anything is sent.
    pub amount: Option<rust_decimal::Decimal>,
    /// The caller's reference for this purchase: [`crate::Suppliers::buy`] buys at most
    /// once per supplier and reference (a fresh one when `None`).
    pub reference: Option<String>,
    /// Cryptorefills: the end user who buys (sent on every request of the purchase).
    pub end_user: Option<EndUser>,
}

impl BuyRequest {
    /// A request for `quantity` of `product_id`.
    pub fn new(product_id: impl Into<String>, quantity: u64) -> Self {
        Self {
            product_id: product_id.into(),
            quantity,
            ..Self::default()
        }
    }

    pub(crate) fn cryptorefills(&self) -> Result<cryptorefills::Purchase, Error> {
        let supplier = SupplierId::Cryptorefills;
        let [kind, brand, country, denomination] =
            cryptorefills::parse_product_id(&self.product_id)?;
        let email = self.email.clone().ok_or_else(|| {
            Error::rejected(supplier, "email", "the end user's email is required")
        })?;
        let quantity = u32::try_from(self.quantity)
            .ok()
            .and_then(std::num::NonZeroU32::new)
            .ok_or_else(|| Error::rejected(supplier, "quantity", "quantity must be at least 1"))?;
        Ok(cryptorefills::Purchase {
            amount: self.amount,
            kind: ::cryptorefills::types::ProductKind::from(kind),
            brand_name: brand.to_owned(),
            country_code: country.to_owned(),
            denomination: denomination.to_owned(),
            quantity,
            beneficiary: self.beneficiary.clone().unwrap_or_else(|| email.clone()),
            email,
            coin: self.coin.clone().unwrap_or_else(|| "USDC".into()),
            network: Some(self.network.clone().unwrap_or_else(|| "Solana".into())),
        })
    }
}

impl Supplier<'_> {
    /// Which supplier.
    pub fn id(&self) -> SupplierId {
        match self {
            Self::FoxReload(_) => SupplierId::FoxReload,
            Self::MousaCard(_) => SupplierId::MousaCard,
            Self::Cryptorefills(_) => SupplierId::Cryptorefills,
        }
    }

    /// The catalog, fetched page by page as the stream is read.
    pub fn catalog(&self, query: CatalogQuery) -> BoxStream<'static, Result<Product, Error>> {
        match self {
            Self::FoxReload(fox) => match query.search {
                Some(text) => fox.search(text).boxed(),
                None => fox.products(query.category).boxed(),
            },
            Self::MousaCard(mousa) => mousa.products(query.category).boxed(),
            Self::Cryptorefills(cr) => for_user(cr, query.end_user.as_ref())
                .products(query.country.unwrap_or_else(|| "US".into()), query.search)
                .boxed(),
        }
    }

    /// One product.
    pub async fn product(&self, id: &str) -> Result<Product, Error> {
        match self {
            Self::FoxReload(fox) => fox.product(id).await,
            Self::MousaCard(mousa) => mousa.product(id).await.map(mousacard::product_of),
            Self::Cryptorefills(cr) => cr.product(id).await,
        }
    }

    /// The crypto price of a product, where the supplier quotes one (Cryptorefills;
    /// `None` for the others, which sell from a balance at the catalog price). The face
    /// value quoted is the denomination's leading number (`10 USD` is 10).
    pub async fn quote(&self, product_id: &str, coin: &str) -> Result<Option<Quote>, Error> {
        let Self::Cryptorefills(cr) = self else {
            return Ok(None);
        };
        let [_, brand, country, denomination] = cryptorefills::parse_product_id(product_id)?;
        let (amount, currency) = match denomination.split_once(' ') {
            Some((amount, currency)) => (amount, Some(currency.to_owned())),
            None => (denomination, None),
        };
        let face_value: rust_decimal::Decimal = amount.parse().map_err(|_| {
            Error::rejected(
                SupplierId::Cryptorefills,
                "face_value",
                format!("{denomination:?} has no face value to quote"),
            )
        })?;
        let price = cr
            .quote(brand, country, &face_value.to_string(), coin)
            .await?;
        Ok(Some(Quote {
            supplier: SupplierId::Cryptorefills,
            coin_amount: price.coin_amount,
            coin: price.coin.unwrap_or_else(|| coin.to_owned()),
            face_value: Some(face_value),
            currency,
        }))
    }

    /// Checks a purchase without buying: client-side rules, and for Cryptorefills its
    /// validation endpoint; MousaCard's quantity bounds and required fields come from
    /// the product.
    pub async fn validate(&self, request: &BuyRequest) -> Result<(), Error> {
        match self {
            Self::FoxReload(fox) => fox.checked_items(&[fox_line(request)]).await.map(drop),
            Self::MousaCard(mousa) => {
                let product = mousa.product(&request.product_id).await?;
                mousacard::MousaCard::check(&mousa_purchase(request)?, &product)
            }
            Self::Cryptorefills(cr) => {
                let purchase = request.cryptorefills()?;
                for_user(cr, request.end_user.as_ref())
                    .validate(&purchase)
                    .await
            }
        }
    }

    /// The order as it is now.
    pub async fn order(&self, id: &str) -> Result<Order, Error> {
        match self {
            Self::FoxReload(fox) => fox.order(id).await,
            Self::MousaCard(mousa) => mousa.order(mousa_order_id(id)?).await,
            Self::Cryptorefills(cr) => cr.order(id).await,
        }
    }

    /// Waits until the order is finished, with the supplier's cadence, for at most
    /// `timeout`.
    pub async fn wait_for_order(&self, id: &str, timeout: Duration) -> Result<Order, Error> {
        match self {
            Self::FoxReload(fox) => {
                fox.wait_for_order(
                    id,
                    WaiterConfig {
                        max_wait: timeout,
                        ..foxreload::DEFAULT_WAIT
                    },
                )
                .await
            }
            Self::MousaCard(mousa) => {
                let config = WaiterConfig {
                    max_wait: timeout,
                    ..mousacard::DEFAULT_WAIT
                };
                mousa.wait_for_order(mousa_order_id(id)?, config).await
            }
            Self::Cryptorefills(cr) => cr.wait_for_order(id, timeout).await,
        }
    }

    /// The balance, where the supplier has one (Cryptorefills is paid per order).
    pub async fn balance(&self) -> Result<Option<Balance>, Error> {
        match self {
            Self::FoxReload(fox) => Ok(fox.balances().await?.into_iter().next()),
            Self::MousaCard(mousa) => mousa.balance().await.map(Some),
            Self::Cryptorefills(_) => Ok(None),
        }
    }
}

/// The adapter acting for `end_user`, or as it is.
fn for_user(
    cr: &cryptorefills::Cryptorefills,
    end_user: Option<&EndUser>,
) -> cryptorefills::Cryptorefills {
    match end_user {
        Some(end_user) => cr.for_end_user(end_user.clone()),
        None => cr.clone(),
    }
}

pub(crate) fn fox_line(request: &BuyRequest) -> foxreload::OrderLine {
    foxreload::OrderLine {
        product_id: request.product_id.clone(),
        quantity: request.quantity,
        note: request.fields.clone(),
    }
}

pub(crate) fn mousa_purchase(request: &BuyRequest) -> Result<mousacard::Purchase, Error> {
    let product_id = request.product_id.parse().map_err(|_| {
        Error::rejected(
            SupplierId::MousaCard,
            "product_id",
            "a MousaCard product id is a number, e.g. 12310",
        )
    })?;
    Ok(mousacard::Purchase {
        product_id,
        quantity: request.quantity,
        custom_fields: request.fields.clone(),
    })
}

fn mousa_order_id(id: &str) -> Result<u64, Error> {
    id.parse().map_err(|_| {
        Error::rejected(
            SupplierId::MousaCard,
            "order_id",
            "a MousaCard order id is a number, e.g. 242859",
        )
    })
}
