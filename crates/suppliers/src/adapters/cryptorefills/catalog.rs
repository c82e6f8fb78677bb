//! Cryptorefills' catalog walk: the country's brand list, then one request per brand
//! family (production refuses a product list without one), several families at a time
//! ([`crate::catalog_walk`]).
//!
//! Also one product by id (`kind/brand/country/denomination`), and how a brand family's
//! answer becomes catalog products.

use cryptorefills::types;
use futures::future::{FutureExt, ready};
use futures::{Stream, StreamExt, stream};

use super::{Cryptorefills, MAX_UNITS, RANGE, SUPPLIER, op};
use crate::catalog_walk::{self, CatalogLimit, PageFuture};
use crate::error::Error;
use crate::model::{AmountRange, Product};
use crate::retry::Idempotency;

impl Cryptorefills {
    /// At most `limit` catalog requests of this adapter and its clones in flight at once
    /// (default [`crate::catalog_walk::DEFAULT_CATALOG_CONCURRENCY`]); 1 reads one family
    /// at a time. 0 counts as 1.
    pub fn with_catalog_concurrency(mut self, limit: usize) -> Self {
        self.catalog = CatalogLimit::new(limit);
        self
    }

    /// How many catalog requests may be in flight at once.
    pub fn catalog_concurrency(&self) -> usize {
        self.catalog.limit()
    }

    /// Products available in a country: of one brand family, or of every family the
    /// country's brand list names, in the list's order. Up to
    /// [`Self::catalog_concurrency`] families are fetched at once and held until read.
    /// An error ends the stream after the products before it.
    pub fn products(
        &self,
        country: String,
        family_name: Option<String>,
    ) -> impl Stream<Item = Result<Product, Error>> + use<> {
        let families = match family_name {
            Some(family) => stream::iter([Ok(family)]).left_stream(),
            None => self.families(country.clone()).right_stream(),
        };
        let this = self.clone();
        let pages = catalog_walk::until_error(families).map(move |family| match family {
            Ok(family) => this.family_products(country.clone(), family),
            Err(err) => ready(Err(err)).boxed(),
        });
        catalog_walk::ordered_items(pages, self.catalog.limit())
    }

    /// The products of one brand family, fetched within the catalog limit.
    fn family_products(&self, country: String, family: String) -> PageFuture<Product> {
        let this = self.clone();
        self.catalog.fetch(SUPPLIER, async move {
            let families = this.brand_families(&country, &family).await?;
            Ok(families
                .into_iter()
                .flat_map(|f| products_of(f, &country))
                .collect())
        })
    }

    /// The brand families of a country's brand list, each once.
    fn families(&self, country: String) -> impl Stream<Item = Result<String, Error>> + use<> {
        let this = self.clone();
        let brands = self.catalog.fetch(SUPPLIER, async move {
            let catalog = this
                .send(op("list_brands", "GET", Idempotency::Safe), || {
                    this.as_end_user(this.client.list_brands())
                        .country_code(country.as_str())
                        .send()
                })
                .await?;
            let mut seen = std::collections::BTreeSet::new();
            let families: Vec<String> = catalog
                .all_brands
                .into_iter()
                .filter_map(|b| b.family.or(b.brand))
                .filter(|family| seen.insert(family.clone()))
                .collect();
            Ok(families)
        });
        stream::once(brands).flat_map(|families| match families {
            Ok(families) => stream::iter(families.into_iter().map(Ok)).left_stream(),
            Err(err) => stream::once(ready(Err(err))).right_stream(),
        })
    }

    async fn brand_families(
        &self,
        country: &str,
        family: &str,
    ) -> Result<Vec<types::BrandFamily>, Error> {
        self.send(op("list_products", "GET", Idempotency::Safe), || {
            self.as_end_user(self.client.list_products())
                .country_code(country)
                .family_name(family)
                .send()
        })
        .await
    }

    /// One catalog product by the id the catalog gives it
    /// (`kind/brand/country/denomination`).
    pub async fn product(&self, id: &str) -> Result<Product, Error> {
        let [_, brand, country, _] = parse_product_id(id)?;
        self.brand_families(country, brand)
            .await?
            .into_iter()
            .flat_map(|family| products_of(family, country))
            .find(|product| product.id == id)
            .ok_or_else(|| Error::NotFound {
                supplier: SUPPLIER,
                message: format!("no product {id}"),
            })
    }
}

/// The four parts of a product id `kind/brand/country/denomination`.
pub fn parse_product_id(id: &str) -> Result<[&str; 4], Error> {
    let parts: Vec<&str> = id.splitn(4, '/').collect();
    match parts[..] {
        [kind, brand, country, denomination] if parts.iter().all(|p| !p.is_empty()) => {
            Ok([kind, brand, country, denomination])
        }
        _ => Err(Error::rejected(
            SUPPLIER,
            "product_id",
            "a Cryptorefills product id is kind/brand/country/denomination, e.g. giftcard/Target/US/10 USD (or .../range with --amount)",
        )),
    }
}

/// The catalog products of one brand family: id `kind/brand/country/denomination`,
/// where the denomination is the product's own string (`10 USD`), or `range` for a
/// product sold over a range of face values.
fn products_of(family: types::BrandFamily, country: &str) -> Vec<Product> {
    let kind = family
        .kind
        .as_ref()
        .map_or("giftcard".to_owned(), ToString::to_string);
    let Some(brand) = family.brand.clone().or_else(|| family.family.clone()) else {
        return Vec::new();
    };
    let country = family
        .country_code
        .clone()
        .unwrap_or_else(|| country.to_owned());
    let available = family.is_out_of_stock != Some(true);
    family
        .products
        .into_iter()
        .filter_map(|p| {
            let range = amount_range(&p);
            let denomination = match (&range, &p.denomination) {
                (Some(_), _) => RANGE.to_owned(),
                (None, Some(denomination)) => denomination.clone(),
                (None, None) => return None,
            };
            let shown = match &range {
                Some(r) => format!(
                    "{}-{} {}",
                    r.min.normalize(),
                    r.max.normalize(),
                    r.currency.as_deref().unwrap_or("")
                ),
                None => p
                    .localized_denomination
                    .clone()
                    .unwrap_or_else(|| denomination.clone()),
            };
            Some(Product {
                supplier: SUPPLIER,
                id: format!("{kind}/{brand}/{country}/{denomination}"),
                name: format!("{brand} {shown}"),
                // What the buyer pays: the coin amount, in the coin.
                price: p.coin_amount,
                currency: p.coin.clone(),
                available,
                min_quantity: Some(1),
                max_quantity: Some(u64::from(MAX_UNITS)),
                required_fields: Vec::new(),
                amount_range: range,
            })
        })
        .collect()
}

/// A dynamic product's face values: `range`, or `face_value.amount` of type `range`.
fn amount_range(product: &types::Product) -> Option<AmountRange> {
    if let Some(range) = &product.range
        && let (Some(min), Some(max)) = (range.min, range.max)
    {
        return Some(AmountRange {
            min,
            max,
            step: range.step_size,
            currency: range.currency.clone(),
        });
    }
    let face = product.face_value.as_ref()?;
    let amount = face.amount.as_ref()?;
    let bound = |b: &Option<types::FaceValueBound>| match b.as_ref()? {
        types::FaceValueBound::Variant0(value) => Some(*value),
        types::FaceValueBound::Variant1(money) => Some(money.amount),
    };
    let min = bound(&amount.min).or_else(|| bound(&amount.minimum))?;
    let max = bound(&amount.max).or_else(|| bound(&amount.maximum))?;
    (product.is_dynamic == Some(true) || amount.type_ == Some(types::FaceValueAmountType::Range))
        .then(|| AmountRange {
            min,
            max,
            step: amount.step,
            currency: face.currency_code.clone(),
        })
}
