//! Query and JSON extractors that reject bad input the way each supplier does, instead
//! of axum's plain-text 400/415/422.

use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Json, Query, Request};
use axum::http::request::Parts;
use axum::response::Response;
use serde::de::DeserializeOwned;

/// How a supplier answers input it cannot read.
pub trait RejectionStyle {
    /// The response for a query string or body that does not parse.
    fn invalid(location: &'static str, message: String) -> Response;
}

/// `Query<T>` with the supplier's rejection.
pub struct SupplierQuery<T, S>(pub T, pub PhantomData<S>);

/// `Json<T>` with the supplier's rejection.
pub struct SupplierJson<T, S>(pub T, pub PhantomData<S>);

impl<T, S, State> FromRequestParts<State> for SupplierQuery<T, S>
where
    T: DeserializeOwned,
    S: RejectionStyle,
    State: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Response> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value, PhantomData)),
            Err(rejection) => Err(S::invalid("query", rejection.body_text())),
        }
    }
}

impl<T, S, State> FromRequest<State> for SupplierJson<T, S>
where
    T: DeserializeOwned,
    S: RejectionStyle,
    State: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &State) -> Result<Self, Response> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value, PhantomData)),
            Err(rejection) => Err(S::invalid("body", rejection.body_text())),
        }
    }
}
