//! Cryptorefills' catalog walk: the country's brand list, then one request per brand
//! family (production refuses a product list without one), several families at a time
//! ([`crate::catalog_walk`]).

use futures::future::{FutureExt, ready};
use futures::{Stream, StreamExt, stream};

use super::{Cryptorefills, SUPPLIER, op, products_of};
use crate::catalog_walk::{self, CatalogLimit, PageFuture};
use crate::error::Error;
use crate::model::Product;
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
                .send(op("list_brands", Idempotency::Safe), || {
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
}
