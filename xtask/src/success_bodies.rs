//! Moves a success answer's headers into its `ResponseValue` instead of copying them.
//!
//! progenitor decodes a success answer with `ResponseValue::from_response(response)`,
//! which clones the whole header map before reading the body, and the original is
//! dropped with the response a moment later: a copy and a drop of every header on every
//! call (BENCHMARKS.md, section 1). This pass sends such arms through a generated
//! `success_response` helper that takes the map out of the response instead; what it
//! returns, and every error, is as before. For a client whose credentials bound its
//! answers, the helper also reads the body within those bounds.

use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, parse_quote};

use crate::body_reads::{BodyRead, body_read};

/// Rewrites every success arm in `file` and adds the helper they call. With `bounded`
/// (a client whose credentials hold `ResponseLimits`), the body is read with
/// `suppliers_http::read_body` within the client's limits.
pub fn move_headers(file: &mut syn::File, bounded: bool) {
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
        /// A success answer as its declared type, its headers moved out of the answer
        /// rather than copied.
        async fn success_response<T: ::serde::de::DeserializeOwned, E>(
            mut response: ::reqwest::Response #param
        ) -> Result<ResponseValue<T>, Error<E>> {
            let status = response.status();
            let headers = ::std::mem::take(response.headers_mut());
            let full = #read.map_err(Error::ResponseBodyError)?;
            let inner = ::serde_json::from_slice(&full)
                .map_err(|e| Error::InvalidResponsePayload(full, e))?;
            Ok(ResponseValue::new(inner, status, headers))
        }
    });
}

struct Rewriter {
    rewritten: usize,
    bounded: bool,
}

impl VisitMut for Rewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let decode: Expr = parse_quote!(ResponseValue::from_response(response).await);
        if expr.to_token_stream().to_string() == decode.to_token_stream().to_string() {
            let arg = body_read(self.bounded).arg;
            *expr = parse_quote!(super::success_response(response #arg).await);
            self.rewritten += 1;
            return;
        }
        visit_mut::visit_expr_mut(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_arms_go_through_the_helper_and_others_stay() {
        let mut file: syn::File = parse_quote! {
            pub mod builder {
                async fn send() {
                    match response.status().as_u16() {
                        200u16 => ResponseValue::from_response(response).await,
                        204u16 => Ok(ResponseValue::empty(response)),
                        404u16 => Err(super::error_response(response).await),
                        _ => Err(Error::UnexpectedResponse(response)),
                    }
                }
            }
        };
        move_headers(&mut file, false);
        let code = file.to_token_stream().to_string();
        assert_eq!(
            code.matches("super :: success_response (response) . await")
                .count(),
            1
        );
        assert!(!code.contains("from_response"));
        assert!(code.contains("ResponseValue :: empty (response)"));
        assert!(code.contains("async fn success_response"));
    }

    #[test]
    fn a_bounded_client_reads_success_answers_within_its_limits() {
        let mut file: syn::File = parse_quote! {
            async fn send() { match s { 200u16 => ResponseValue::from_response(response).await } }
        };
        move_headers(&mut file, true);
        let code = file.to_token_stream().to_string();
        assert!(code.contains(
            "super :: success_response (response , client . inner . response_limits ()) . await"
        ));
        assert!(code.contains(":: suppliers_http :: read_body (response , limits)"));
        assert!(!code.contains("response . bytes ()"));
    }

    #[test]
    fn no_helper_without_success_arms() {
        let mut file: syn::File = parse_quote! {
            async fn send() { Ok(ResponseValue::empty(response)) }
        };
        move_headers(&mut file, false);
        assert_eq!(file.items.len(), 1);
    }
}
