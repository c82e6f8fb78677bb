//! Catalog walks with several requests in flight, through the facade against the
//! sandbox on 127.0.0.1: the same products in the same order at any concurrency, never
//! more requests in flight than allowed, one `Retry-After` pausing the whole walk, an
//! error ending it after the products before it, and a reader never far behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use suppliers::config::{CryptorefillsConfig, FoxReloadConfig};
use suppliers::model::{Product, SupplierId};
use suppliers::{CatalogQuery, Error, Suppliers};
use suppliers_sandbox::{CatalogSize, Fault, FaultRule, Latency, Sandbox, SandboxConfig};

/// Products of the hand-picked FoxReload categories, listed before the generated ones.
const FOX_HAND_PICKED: usize = 12;

async fn sandbox(latency: Latency, size: CatalogSize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        latency: Some(latency),
        catalog_size: size,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn millis(base: u64, jitter: u64) -> Latency {
    Latency {
        base: Duration::from_millis(base),
        jitter: Duration::from_millis(jitter),
    }
}

fn facade(sandbox: &Sandbox, concurrency: usize) -> Suppliers {
    Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sandbox", &sandbox.foxreload_url()).unwrap())
        .cryptorefills(
            CryptorefillsConfig::new("sandbox", "1.0.0", &sandbox.cryptorefills_url()).unwrap(),
        )
        .catalog_concurrency(concurrency)
        .build()
        .unwrap()
}

fn catalog(
    suppliers: &Suppliers,
    supplier: SupplierId,
) -> futures::stream::BoxStream<'static, Result<Product, Error>> {
    suppliers.get(supplier).unwrap().catalog(CatalogQuery {
        country: Some("US".into()),
        ..CatalogQuery::default()
    })
}

async fn ids(suppliers: &Suppliers, supplier: SupplierId) -> Vec<String> {
    catalog(suppliers, supplier)
        .map_ok(|p| p.id)
        .try_collect()
        .await
        .unwrap()
}

/// Where the page that holds a product starts: its brand (Cryptorefills, one request a
/// family) or, for generated FoxReload products, its category and page of 100.
fn page_of(supplier: SupplierId, id: &str) -> String {
    match supplier {
        SupplierId::Cryptorefills => id.split('/').nth(1).unwrap_or(id).to_owned(),
        _ => match id.strip_prefix("product_gen") {
            Some(rest) => {
                let (category, product) = rest.split_once('x').unwrap();
                let product: u64 = product.parse().unwrap();
                format!("{category}/{}", (product - 1) / 100)
            }
            None => id.to_owned(),
        },
    }
}

#[tokio::test]
async fn products_come_in_the_same_order_at_any_concurrency_with_at_most_n_in_flight() {
    // Jitter larger than the base: answers overtake each other.
    let sandbox = sandbox(
        millis(2, 12),
        CatalogSize {
            cryptorefills_families: 30,
            foxreload_categories: 6,
            foxreload_products_per_category: 250,
        },
    )
    .await;
    for supplier in [SupplierId::FoxReload, SupplierId::Cryptorefills] {
        sandbox.reset_peak_in_flight();
        let sequential = ids(&facade(&sandbox, 1), supplier).await;
        assert_eq!(sandbox.peak_in_flight(), 1, "{supplier}");
        match supplier {
            SupplierId::FoxReload => {
                assert_eq!(sequential.len(), FOX_HAND_PICKED + 6 * 250);
                let generated = &sequential[FOX_HAND_PICKED..];
                assert_eq!(generated[0], "product_gen00001x00000000000000001");
                assert_eq!(generated[250], "product_gen00002x00000000000000001");
                assert_eq!(generated[1499], "product_gen00006x00000000000000250");
            }
            _ => {
                // Five hand-picked US families (13 products), then two products each.
                assert_eq!(sequential.len(), 13 + 30 * 2);
                assert_eq!(sequential[13], "giftcard/Generated Brand 00001/US/10 USD");
                assert_eq!(sequential[72], "giftcard/Generated Brand 00030/US/25 USD");
            }
        }
        for concurrency in [2, 8, 32] {
            sandbox.reset_peak_in_flight();
            let concurrent = ids(&facade(&sandbox, concurrency), supplier).await;
            assert!(
                concurrent == sequential,
                "{supplier} at {concurrency}: {}",
                difference(&concurrent, &sequential)
            );
            let peak = sandbox.peak_in_flight();
            assert!(
                peak <= concurrency as u64,
                "{supplier} at {concurrency}: {peak}"
            );
            if concurrency <= 8 {
                assert_eq!(peak, concurrency as u64, "{supplier} at {concurrency}");
            }
        }
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn walks_of_one_supplier_share_its_limit_and_the_default_is_8() {
    let sandbox = sandbox(
        millis(10, 0),
        CatalogSize {
            cryptorefills_families: 40,
            ..CatalogSize::default()
        },
    )
    .await;
    let suppliers = Suppliers::builder()
        .cryptorefills(
            CryptorefillsConfig::new("sandbox", "1.0.0", &sandbox.cryptorefills_url()).unwrap(),
        )
        .build()
        .unwrap();
    assert_eq!(suppliers.cryptorefills().unwrap().catalog_concurrency(), 8);
    let one = ids(&suppliers, SupplierId::Cryptorefills).await;
    assert_eq!(sandbox.peak_in_flight(), 8);

    sandbox.reset_peak_in_flight();
    let three = facade(&sandbox, 3);
    let (a, b) = tokio::join!(
        ids(&three, SupplierId::Cryptorefills),
        ids(&three, SupplierId::Cryptorefills)
    );
    assert_eq!((&a, &b), (&one, &one));
    assert_eq!(sandbox.peak_in_flight(), 3, "two walks, one limit of 3");
    sandbox.shutdown().await;
}

/// Starts `walks` walks of one facade (4 requests in flight in all), reads `before`
/// products of each, arms `fault` on `path`, then reads them all to the end at once:
/// each walk's results, and the longest time meanwhile that no request of the supplier
/// reached the sandbox.
async fn walks_through_a_fault(
    sandbox: &Sandbox,
    supplier: SupplierId,
    walks: usize,
    before: usize,
    path: &str,
    fault: Fault,
) -> (Vec<Vec<Result<String, Error>>>, Duration) {
    let suppliers = facade(sandbox, 4);
    let mut results = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..walks {
        let mut walk = catalog(&suppliers, supplier);
        let mut read = Vec::new();
        for _ in 0..before {
            read.push(walk.next().await.unwrap().map(|p| p.id));
        }
        results.push(read);
        streams.push(walk);
    }
    sandbox.faults().add(FaultRule::new(path, fault, 1));
    let done = AtomicBool::new(false);
    let sampler = async {
        let mut samples = Vec::new();
        while !done.load(Ordering::SeqCst) {
            samples.push((
                Instant::now(),
                sandbox.requests_served_by(supplier.as_str()),
            ));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        samples
    };
    let readers = async {
        let reads = results
            .iter_mut()
            .zip(streams)
            .map(|(read, mut walk)| async move {
                while let Some(result) = walk.next().await {
                    read.push(result.map(|p| p.id));
                }
            });
        futures::future::join_all(reads).await;
        done.store(true, Ordering::SeqCst);
    };
    let (samples, ()) = tokio::join!(sampler, readers);
    let mut quiet = Duration::ZERO;
    let mut since = samples[0];
    for &(at, count) in &samples {
        if count != since.1 {
            since = (at, count);
        }
        quiet = quiet.max(at - since.0);
    }
    (results, quiet)
}

#[tokio::test]
async fn a_429_in_the_middle_pauses_every_request_of_the_supplier_and_the_walks_resume() {
    let sandbox = sandbox(
        millis(30, 0),
        // Long enough that a walk left going on would not be over within the pause.
        CatalogSize {
            cryptorefills_families: 120,
            foxreload_categories: 120,
            foxreload_products_per_category: 10,
        },
    )
    .await;
    for (supplier, path, before) in [
        (SupplierId::Cryptorefills, "/cryptorefills/v5/products/", 20),
        (SupplierId::FoxReload, "/foxreload/api/products/", 40),
    ] {
        let expected = ids(&facade(&sandbox, 8), supplier).await;
        let served = sandbox.requests_served_by(supplier.as_str());
        let started = Instant::now();
        // Two walks: the refused one waits in any case, as its products come in order;
        // the other goes on unless the pause is the supplier's.
        let (walks, quiet) = walks_through_a_fault(
            &sandbox,
            supplier,
            2,
            before,
            path,
            Fault::RateLimit {
                retry_after_secs: 1,
            },
        )
        .await;
        for walk in walks {
            let got: Vec<String> = walk.into_iter().map(Result::unwrap).collect();
            assert!(
                got == expected,
                "{supplier}: {}",
                difference(&got, &expected)
            );
        }
        assert!(started.elapsed() >= Duration::from_secs(1), "{supplier}");
        // Requests already sent finish; no other leaves until `Retry-After` is over.
        assert!(
            quiet >= Duration::from_millis(900),
            "{supplier}: requests went on during the pause ({quiet:?} at most without one)"
        );
        assert_eq!(
            sandbox.requests_served_by(supplier.as_str()) - served,
            2 * walk_requests(supplier) + 1,
            "{supplier}: each page once a walk, and the refused one again"
        );
    }
    sandbox.shutdown().await;
}

/// Where two lists of ids first differ.
fn difference(got: &[String], expected: &[String]) -> String {
    match got.iter().zip(expected).position(|(a, b)| a != b) {
        Some(at) => format!("at {at}: {} instead of {}", got[at], expected[at]),
        None => format!("{} products instead of {}", got.len(), expected.len()),
    }
}

/// Requests of one walk of the catalogs of the 429 test: the brand list and 5 + 120
/// families; the category list (two pages of 100) and 5 + 120 categories of one page.
fn walk_requests(supplier: SupplierId) -> u64 {
    match supplier {
        SupplierId::Cryptorefills => 1 + 5 + 120,
        _ => 2 + 5 + 120,
    }
}

#[tokio::test]
async fn an_error_ends_the_walk_after_the_products_before_it() {
    let sandbox = sandbox(
        millis(5, 10),
        CatalogSize {
            cryptorefills_families: 40,
            foxreload_categories: 8,
            foxreload_products_per_category: 150,
        },
    )
    .await;
    for (supplier, path, before) in [
        (SupplierId::Cryptorefills, "/cryptorefills/v5/products/", 20),
        (SupplierId::FoxReload, "/foxreload/api/products/", 300),
    ] {
        let expected = ids(&facade(&sandbox, 1), supplier).await;
        let (mut walks, _) =
            walks_through_a_fault(&sandbox, supplier, 1, before, path, Fault::ServerError(500))
                .await;
        let results = walks.remove(0);
        let (last, read) = results.split_last().unwrap();
        let err = last.as_ref().unwrap_err();
        assert!(err.to_string().contains("500"), "{supplier}: {err}");
        let read: Vec<&String> = read.iter().map(|r| r.as_ref().unwrap()).collect();
        assert!(
            read.len() >= before && read.len() < expected.len(),
            "{supplier}"
        );
        assert_eq!(
            read,
            expected.iter().take(read.len()).collect::<Vec<_>>(),
            "{supplier}: the products before the error, in order"
        );
        // The error stands where its page's products would have been.
        assert_ne!(
            page_of(supplier, read[read.len() - 1]),
            page_of(supplier, &expected[read.len()]),
            "{supplier}: the stream stopped at a page boundary"
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_walk_fetches_only_a_few_pages_ahead_of_its_reader() {
    let sandbox = sandbox(
        millis(1, 0),
        CatalogSize {
            foxreload_categories: 1,
            foxreload_products_per_category: 3000,
            ..CatalogSize::default()
        },
    )
    .await;
    let suppliers = facade(&sandbox, 4);
    let mut walk = suppliers
        .get(SupplierId::FoxReload)
        .unwrap()
        .catalog(CatalogQuery {
            category: Some("generated-00001".into()),
            ..CatalogQuery::default()
        });
    let first = walk.next().await.unwrap().unwrap();
    assert_eq!(first.id, "product_gen00001x00000000000000001");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The first page, and three more: four pages in flight or held, of 30.
    assert_eq!(sandbox.requests_served_by("foxreload"), 4);
    let rest: Vec<Product> = walk.try_collect().await.unwrap();
    assert_eq!(rest.len(), 2999);
    assert_eq!(sandbox.requests_served_by("foxreload"), 30);
    sandbox.shutdown().await;
}
