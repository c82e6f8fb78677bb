//! How the helpers the codegen passes add ([`crate::success_bodies`],
//! [`crate::error_bodies`]) read an answer's body: within the client's `ResponseLimits`
//! with `suppliers_http::read_body`, for a client whose credentials hold them, or whole,
//! as progenitor does.

use proc_macro2::TokenStream;
use quote::quote;

/// The pieces of generated code that differ between a bounded and a plain read.
pub struct BodyRead {
    /// The helper's parameter after `response` (with its comma), or nothing.
    pub param: TokenStream,
    /// The expression reading `response`'s body into `Bytes` (a `reqwest::Result`).
    pub read: TokenStream,
    /// The argument after `response` at each call site (with its comma), or nothing.
    pub arg: TokenStream,
}

/// The read for a client whose answers are `bounded`, or not.
pub fn body_read(bounded: bool) -> BodyRead {
    match bounded {
        true => BodyRead {
            param: quote!(, limits: ::suppliers_http::ResponseLimits),
            read: quote!(::suppliers_http::read_body(response, limits).await),
            arg: quote!(, client.inner.response_limits()),
        },
        false => BodyRead {
            param: quote!(),
            read: quote!(response.bytes().await),
            arg: quote!(),
        },
    }
}
