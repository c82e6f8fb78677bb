//! Keeps the status of an error answer whose body does not match its declared schema.
//!
//! progenitor decodes a declared error status with
//! `Err(Error::ErrorResponse(ResponseValue::from_response(response).await?))`; when the
//! body does not decode (an HTML 404 from a proxy, WordPress's own error shape), the `?`
//! turns it into `Error::InvalidResponsePayload`, which holds the bytes but not the
//! status, and callers report the wrong one. This pass sends such arms through a
//! generated `error_response` helper instead: a body that decodes is the typed error as
//! before; one that does not is `Error::UnexpectedResponse`, with its status, headers and
//! body intact.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, parse_quote};

use crate::body_reads::{BodyRead, body_read};

/// Rewrites every declared-error arm in `file` and adds the helper they call. With
/// `bounded` (a client whose credentials hold `ResponseLimits`), error bodies are read
/// with `suppliers_http::read_body` within the client's limits, and an undeclared answer
/// is kept with its body read the same way (`suppliers_http::buffer_body`), so reading it
/// later is bounded too.
pub fn keep_status(file: &mut syn::File, bounded: bool) {
    let mut rewriter = Rewriter {
        rewritten: 0,
        bounded,
    };
    rewriter.visit_file_mut(file);
    if rewriter.rewritten == 0 {
        return;
    }
    let BodyRead { param, read, .. } = body_read(bounded);
    file.items.push(parse_quote! {
        /// An error answer as its declared type; one whose body does not match comes
        /// back as `Error::UnexpectedResponse`, status and headers intact.
        async fn error_response<E: ::serde::de::DeserializeOwned>(
            mut response: ::reqwest::Response #param
        ) -> Error<E> {
            let status = response.status();
            let version = response.version();
            let headers = ::std::mem::take(response.headers_mut());
            let body = match #read {
                Ok(body) => body,
                Err(err) => return Error::ResponseBodyError(err),
            };
            match ::serde_json::from_slice(&body) {
                Ok(inner) => Error::ErrorResponse(ResponseValue::new(inner, status, headers)),
                Err(_) => {
                    let mut kept = ::http::Response::new(body);
                    *kept.status_mut() = status;
                    *kept.version_mut() = version;
                    *kept.headers_mut() = headers;
                    Error::UnexpectedResponse(::reqwest::Response::from(kept))
                }
            }
        }
    });
}

struct Rewriter {
    rewritten: usize,
    bounded: bool,
}

impl VisitMut for Rewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if is_declared_error_arm(expr) {
            let arg = body_read(self.bounded).arg;
            *expr = parse_quote!(Err(super::error_response(response #arg).await));
            self.rewritten += 1;
            return;
        }
        if self.bounded && is_undeclared_arm(expr) {
            let arg = body_read(true).arg;
            *expr = parse_quote!(Err(Error::UnexpectedResponse(
                ::suppliers_http::buffer_body(response #arg).await
            )));
            return;
        }
        visit_mut::visit_expr_mut(self, expr);
    }
}

/// `Err(Error::UnexpectedResponse(response))`: an answer of a status not declared.
fn is_undeclared_arm(expr: &Expr) -> bool {
    let undeclared: Expr = parse_quote!(Err(Error::UnexpectedResponse(response)));
    expr.to_token_stream().to_string() == undeclared.to_token_stream().to_string()
}

/// `Err(Error::ErrorResponse(ResponseValue::from_response(response).await?))`.
fn is_declared_error_arm(expr: &Expr) -> bool {
    let Some(wrapped) = only_argument_of(expr, "Err") else {
        return false;
    };
    let Some(decoded) = only_argument_of(wrapped, "Error :: ErrorResponse") else {
        return false;
    };
    let expected: TokenStream = parse_quote!(ResponseValue::from_response(response).await?);
    decoded.to_token_stream().to_string() == expected.to_string()
}

/// The one argument of a call to the function at `path` (written as tokens).
fn only_argument_of<'a>(expr: &'a Expr, path: &str) -> Option<&'a Expr> {
    let Expr::Call(call) = expr else {
        return None;
    };
    if call.func.to_token_stream().to_string() != path || call.args.len() != 1 {
        return None;
    }
    call.args.first()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_arms_go_through_the_helper_and_success_arms_stay() {
        let mut file: syn::File = parse_quote! {
            pub mod builder {
                async fn send() {
                    match response.status().as_u16() {
                        200u16 => ResponseValue::from_response(response).await,
                        404u16 => Err(Error::ErrorResponse(
                            ResponseValue::from_response(response).await?,
                        )),
                        _ => Err(Error::UnexpectedResponse(response)),
                    }
                }
            }
        };
        keep_status(&mut file, false);
        let code = file.to_token_stream().to_string();
        assert_eq!(
            code.matches("super :: error_response (response) . await")
                .count(),
            1
        );
        assert_eq!(
            code.matches("ResponseValue :: from_response (response)")
                .count(),
            1
        );
        assert!(code.contains("async fn error_response"));
    }

    #[test]
    fn a_bounded_client_reads_error_and_undeclared_answers_within_its_limits() {
        let mut file: syn::File = parse_quote! {
            pub mod builder {
                async fn send() {
                    match response.status().as_u16() {
                        404u16 => Err(Error::ErrorResponse(
                            ResponseValue::from_response(response).await?,
                        )),
                        _ => Err(Error::UnexpectedResponse(response)),
                    }
                }
            }
        };
        keep_status(&mut file, true);
        let code = file.to_token_stream().to_string();
        assert!(code.contains(
            "super :: error_response (response , client . inner . response_limits ()) . await"
        ));
        assert!(code.contains(
            ":: suppliers_http :: buffer_body (response , client . inner . response_limits ())"
        ));
        assert!(code.contains(":: suppliers_http :: read_body (response , limits)"));
        assert!(!code.contains("response . bytes ()"));
    }

    #[test]
    fn no_helper_without_error_arms() {
        let mut file: syn::File = parse_quote! {
            async fn send() { ResponseValue::from_response(response).await }
        };
        keep_status(&mut file, false);
        assert_eq!(file.items.len(), 1);
    }
}
