//! A downstream program that depends on `foxreload` alone: it lists FoxReload's
//! categories, every page, from `FOXRELOAD_BASE_URL` with `FOXRELOAD_API_KEY`.
//!
//! CI builds it outside the SDK's workspace, checks with `cargo tree` that no other
//! supplier's crate is compiled in, and runs it against a sandbox process
//! (`cargo run -p suppliers-sandbox` prints the variables).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let (Ok(base_url), Ok(api_key)) = (
        std::env::var("FOXRELOAD_BASE_URL"),
        std::env::var("FOXRELOAD_API_KEY"),
    ) else {
        eprintln!("set FOXRELOAD_BASE_URL and FOXRELOAD_API_KEY");
        return ExitCode::from(2);
    };
    match list_categories(&base_url, &api_key).await {
        Ok(0) => {
            eprintln!("FoxReload listed no category");
            ExitCode::FAILURE
        }
        Ok(count) => {
            println!("{count} categories");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("listing FoxReload's categories failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Prints every category, following `nextCursor` page by page; returns how many.
async fn list_categories(
    base_url: &str,
    api_key: &str,
) -> Result<usize, Box<dyn std::error::Error>> {
    let client = foxreload::Client::with_api_key(base_url, api_key)?;
    let mut cursor: Option<String> = None;
    let mut count = 0;
    loop {
        let mut request = client.list_categories().limit(50u64);
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.as_str());
        }
        let page = request.send().await?.into_inner();
        for category in &page.items {
            println!("{}  {}", category.id, category.name);
        }
        count += page.items.len();
        match page.next_cursor {
            Some(next) if !page.items.is_empty() => cursor = Some(next),
            _ => return Ok(count),
        }
    }
}
