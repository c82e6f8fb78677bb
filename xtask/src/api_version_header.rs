//! Removes the `api-version` request header progenitor adds to every operation.
//!
//! No supplier documents it, so the clients must not send it. Dropping it from the
//! generated code, rather than from each request in a hook, also spares every request
//! a header map allocation and merge (measured in BENCHMARKS.md, section 1). Where an
//! operation has header parameters of its own, their map stays, one entry smaller.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Lit, Stmt};

/// Rewrites every generated request builder in `file`.
pub fn remove(file: &mut syn::File) {
    Remover.visit_file_mut(file);
}

struct Remover;

impl VisitMut for Remover {
    fn visit_block_mut(&mut self, block: &mut Block) {
        visit_mut::visit_block_mut(self, block);
        let before = block.stmts.len();
        block
            .stmts
            .retain(|stmt| !mentions(stmt, "\"api-version\""));
        if block.stmts.len() == before {
            return;
        }
        let users = block
            .stmts
            .iter()
            .filter(|stmt| mentions(stmt, "header_map"))
            .count();
        // Only the map's `let` and the builder's `.headers(header_map)` are left: the
        // map would go out empty, so neither is needed.
        if users == 2 {
            block.stmts.retain(|stmt| !is_header_map_let(stmt));
            UnmergeHeaderMap.visit_block_mut(block);
        } else {
            ShrinkCapacity.visit_block_mut(block);
        }
    }
}

fn mentions(stmt: &Stmt, text: &str) -> bool {
    stmt.to_token_stream().to_string().contains(text)
}

fn is_header_map_let(stmt: &Stmt) -> bool {
    matches!(stmt, Stmt::Local(local) if local.pat.to_token_stream().to_string() == "mut header_map")
}

fn is_header_map(expr: &Expr) -> bool {
    matches!(expr, Expr::Path(path) if path.path.is_ident("header_map"))
}

/// `builder.headers(header_map)` becomes `builder`.
struct UnmergeHeaderMap;

impl VisitMut for UnmergeHeaderMap {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::MethodCall(call) = expr
            && call.method == "headers"
            && call.args.len() == 1
            && call.args.first().is_some_and(is_header_map)
        {
            *expr = (*call.receiver).clone();
        }
        visit_mut::visit_expr_mut(self, expr);
    }
}

/// `HeaderMap::with_capacity(N)` becomes `HeaderMap::with_capacity(N - 1)`.
struct ShrinkCapacity;

impl VisitMut for ShrinkCapacity {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Call(call) = expr
            && call
                .func
                .to_token_stream()
                .to_string()
                .ends_with("with_capacity")
            && let Some(Expr::Lit(arg)) = call.args.first_mut()
            && let Lit::Int(n) = &arg.lit
            && let Ok(capacity) = n.base10_parse::<usize>()
        {
            let smaller: TokenStream = format!("{}usize", capacity.saturating_sub(1))
                .parse()
                .expect("an integer literal");
            arg.lit = syn::parse2(smaller).expect("an integer literal");
        }
        visit_mut::visit_expr_mut(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(code: TokenStream) -> String {
        let mut file: syn::File = syn::parse2(code).unwrap();
        remove(&mut file);
        file.to_token_stream().to_string()
    }

    #[test]
    fn a_map_holding_only_the_api_version_disappears() {
        let code = rewritten(quote::quote! {
            async fn send() {
                let url = format!("{}/x", base);
                let mut header_map = ::reqwest::header::HeaderMap::with_capacity(1usize);
                header_map.append(
                    ::reqwest::header::HeaderName::from_static("api-version"),
                    ::reqwest::header::HeaderValue::from_static(super::Client::api_version()),
                );
                let mut request = client.client.get(url).header(ACCEPT, json).headers(header_map).build()?;
            }
        });
        assert!(!code.contains("api-version"), "{code}");
        assert!(!code.contains("header_map"), "{code}");
        assert!(
            code.contains(". header (ACCEPT , json) . build ()"),
            "{code}"
        );
    }

    #[test]
    fn a_map_with_header_parameters_keeps_them() {
        let code = rewritten(quote::quote! {
            async fn send() {
                let mut header_map = ::reqwest::header::HeaderMap::with_capacity(2usize);
                header_map.append(
                    ::reqwest::header::HeaderName::from_static("api-version"),
                    ::reqwest::header::HeaderValue::from_static(super::Client::api_version()),
                );
                if let Some(value) = x_language {
                    header_map.append("X-Language", value.to_string().try_into()?);
                }
                let mut request = client.client.get(url).headers(header_map).build()?;
            }
        });
        assert!(!code.contains("api-version"), "{code}");
        assert!(code.contains("with_capacity (1usize)"), "{code}");
        assert!(code.contains("\"X-Language\""), "{code}");
        assert!(code.contains(". headers (header_map)"), "{code}");
    }

    #[test]
    fn code_without_the_header_is_left_alone() {
        let source = quote::quote! {
            fn other() { let mut header_map = HeaderMap::with_capacity(3usize); use_it(header_map); }
        };
        assert_eq!(rewritten(source.clone()), source.to_string());
    }
}
