//! The catalog: the product list (all at once, as the store answers it), one product,
//! and their normalised forms.

use futures::Stream;
use mousacard::types;

use super::{MousaCard, SUPPLIER, op};
use crate::error::Error;
use crate::model::Product;
use crate::retry::Idempotency;

impl MousaCard {
    /// Every product (each variation is its own item), optionally of one category.
    /// The store answers the whole list at once.
    pub fn products(
        &self,
        category: Option<String>,
    ) -> impl Stream<Item = Result<Product, Error>> + use<> {
        use futures::TryStreamExt;
        let this = self.clone();
        futures::stream::once(async move {
            let list = this
                .send(op("list_products", "GET", Idempotency::Safe), || {
                    let request = this.client.list_products();
                    match &category {
                        Some(c) => request.category(c.clone()).send(),
                        None => request.send(),
                    }
                })
                .await?;
            Ok::<_, Error>(futures::stream::iter(
                list.data.products.into_iter().map(|p| Ok(summary(p))),
            ))
        })
        .try_flatten()
    }

    /// One product with its variations and custom fields.
    pub async fn product(&self, id: &str) -> Result<types::Product, Error> {
        let response = self
            .send(op("get_product", "GET", Idempotency::Safe), || {
                self.client.get_product().id(id).send()
            })
            .await?;
        Ok(response.data)
    }
}

fn summary(p: types::ProductSummary) -> Product {
    Product {
        supplier: SUPPLIER,
        id: p.id,
        name: p.name,
        price: Some(p.price),
        currency: Some(p.currency_name),
        available: p.available,
        min_quantity: u64::try_from(p.min_quantity).ok(),
        max_quantity: u64::try_from(p.max_quantity).ok(),
        required_fields: Vec::new(),
        amount_range: None,
    }
}

/// The normalised form of a single product (`GET /products/{id}`).
pub fn product_of(p: types::Product) -> Product {
    Product {
        supplier: SUPPLIER,
        id: p.id,
        name: p.name,
        price: Some(p.price),
        currency: Some(p.currency_name),
        available: p.available,
        min_quantity: u64::try_from(p.min_quantity).ok(),
        max_quantity: u64::try_from(p.max_quantity).ok(),
        required_fields: p
            .custom_fields
            .into_iter()
            .filter(|f| f.required != Some(false))
            .map(|f| f.key)
            .collect(),
        amount_range: None,
    }
}
