//! FoxReload's catalog walk: the categories (cursor pages), then each category's
//! products (offset pages), several requests at a time ([`crate::catalog_walk`]).
//!
//! A category's first page gives its `total`, and so the offsets of the rest, which are
//! then fetched together; the first pages of the next categories are fetched meanwhile.
//! Without a `total`, a category's pages are read one after another.
//!
//! Also search, one product by id, and how FoxReload's product becomes a catalog product.

use foxreload::types;
use futures::future::{BoxFuture, FutureExt, ready};
use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt};

use super::{FoxReload, SUPPLIER, op};
use crate::catalog_walk::{self, CatalogLimit, PageFuture};
use crate::error::Error;
use crate::model::Product;
use crate::paging::{next_offset, walk};
use crate::retry::Idempotency;

/// Page size of catalog walks (the API takes 1 to 200).
const PAGE_SIZE: u64 = 100;
/// Most results one search answers (it is not paginated).
const SEARCH_LIMIT: u64 = 200;

/// The products of one page at an offset, and the category's `total` if it was sent.
type Page = (Vec<Product>, Option<u64>);

impl FoxReload {
    /// At most `limit` catalog requests of this adapter and its clones in flight at once
    /// (default [`crate::catalog_walk::DEFAULT_CATALOG_CONCURRENCY`]); 1 fetches one page
    /// at a time. 0 counts as 1.
    pub fn with_catalog_concurrency(mut self, limit: usize) -> Self {
        self.catalog = CatalogLimit::new(limit);
        self
    }

    /// How many catalog requests may be in flight at once.
    pub fn catalog_concurrency(&self) -> usize {
        self.catalog.limit()
    }

    /// Every product of a category; without a category, every category's products in
    /// turn (FoxReload lists products only per category). The products come in the
    /// order of a page-by-page walk (category by category, page by page) while up to
    /// [`Self::catalog_concurrency`] pages are fetched at once and held until read. An
    /// error ends the stream after the products before it.
    pub fn products(
        &self,
        category: Option<String>,
    ) -> impl Stream<Item = Result<Product, Error>> + use<> {
        let categories = match category {
            Some(category) => stream::iter([Ok(category)]).left_stream(),
            None => self
                .categories()
                .map(|category| category.map(|c| c.id))
                .right_stream(),
        };
        let ahead = self.catalog.limit();
        let this = self.clone();
        let first_pages = catalog_walk::until_error(categories)
            .map(move |category| match category {
                Ok(category) => this
                    .page(category.clone(), 0)
                    .map(|page| page.map(|page| (category, page)))
                    .boxed(),
                Err(err) => ready(Err(err)).boxed(),
            })
            .buffered(ahead);
        let this = self.clone();
        let pages = catalog_walk::until_error(first_pages).flat_map(move |first| match first {
            Ok((category, first)) => this.category_pages(category, first),
            Err(err) => stream::once(ready(ready(Err(err)).boxed() as PageFuture<Product>)).boxed(),
        });
        catalog_walk::ordered_items(pages, ahead)
    }

    /// Every category with products, cursor page by cursor page, lazily.
    pub fn categories(&self) -> impl Stream<Item = Result<types::Category, Error>> + use<> {
        let this = self.clone();
        walk(None::<String>, move |cursor| {
            let this = this.clone();
            let limit = this.catalog.clone();
            limit.fetch(SUPPLIER, async move {
                let page = this
                    .send(op("list_categories", "GET", Idempotency::Safe), || {
                        let request = this.client.list_categories().limit(page_limit());
                        match &cursor {
                            Some(c) => request.cursor(c.clone()).send(),
                            None => request.send(),
                        }
                    })
                    .await?;
                let items = page
                    .items
                    .into_iter()
                    .filter(|c| c.has_products != Some(false))
                    .collect();
                Ok((items, page.next_cursor.map(Some)))
            })
        })
    }

    /// A category's pages after its first: every offset up to its `total` at once,
    /// each page as long as the first (the page size the API applied); without a
    /// `total`, one page after another until an empty one.
    fn category_pages(
        &self,
        category: String,
        (items, total): Page,
    ) -> BoxStream<'static, PageFuture<Product>> {
        let got = items.len();
        let first = stream::once(ready(ready(Ok(items)).boxed() as PageFuture<Product>));
        let this = self.clone();
        match total {
            Some(total) => {
                let offsets = (got > 0).then(|| (got as u64..total).step_by(got));
                let rest = stream::iter(offsets.into_iter().flatten()).map(move |offset| {
                    this.page(category.clone(), offset)
                        .map(|page| page.map(|(items, _)| items))
                        .boxed()
                });
                first.chain(rest).boxed()
            }
            None => first
                .chain(stream::unfold(next_offset(0, got, None), move |offset| {
                    let (this, category) = (this.clone(), category.clone());
                    async move {
                        let offset = offset?;
                        let page = this.page(category, offset).await;
                        let next = match &page {
                            Ok((items, total)) => next_offset(offset, items.len(), *total),
                            Err(_) => None,
                        };
                        let page = page.map(|(items, _)| items);
                        Some((ready(page).boxed() as PageFuture<Product>, next))
                    }
                }))
                .boxed(),
        }
    }

    /// One page of a category's products, fetched within the catalog limit.
    fn page(&self, category: String, offset: u64) -> BoxFuture<'static, Result<Page, Error>> {
        let this = self.clone();
        self.catalog.fetch(SUPPLIER, async move {
            let page = this
                .send(op("list_products", "GET", Idempotency::Safe), || {
                    this.client
                        .list_products()
                        .category_id_or_slug(category.clone())
                        .limit(page_limit())
                        .offset(offset)
                        .send()
                })
                .await?;
            let total = page.total.and_then(|t| u64::try_from(t).ok());
            Ok((page.items.into_iter().map(product).collect(), total))
        })
    }

    /// The products matching `query` (one answer of at most 200: search is not paged).
    pub fn search(&self, query: String) -> impl Stream<Item = Result<Product, Error>> + use<> {
        let this = self.clone();
        walk((), move |()| {
            let this = this.clone();
            let query = query.clone();
            async move {
                let found = this
                    .send(op("search_products", "GET", Idempotency::Safe), || {
                        this.client
                            .search_products()
                            .query(query.clone())
                            .limit(std::num::NonZeroU64::new(SEARCH_LIMIT).expect("not zero"))
                            .send()
                    })
                    .await?;
                Ok((found.into_iter().map(product).collect(), None))
            }
        })
    }

    /// One product by id.
    pub async fn product(&self, id: &str) -> Result<Product, Error> {
        Ok(product(self.raw_product(id).await?))
    }

    pub(super) async fn raw_product(&self, id: &str) -> Result<types::Product, Error> {
        self.send(op("get_product", "GET", Idempotency::Safe), || {
            self.client.get_product().product_id(id).send()
        })
        .await
    }
}

/// `limit` of every catalog page.
fn page_limit() -> std::num::NonZeroU64 {
    std::num::NonZeroU64::new(PAGE_SIZE).expect("not zero")
}

fn product(p: types::Product) -> Product {
    Product {
        supplier: SUPPLIER,
        id: p.id,
        name: p.name,
        price: p.price,
        currency: p.currency,
        // `quantity` is the stock; absent or null means unknown, not none.
        available: p.quantity.is_none_or(|stock| stock > 0),
        min_quantity: p.order_min_quantity.and_then(|q| u64::try_from(q).ok()),
        max_quantity: p.order_max_quantity.and_then(|q| u64::try_from(q).ok()),
        required_fields: p.required_note_fields.unwrap_or_default(),
        amount_range: None,
    }
}
