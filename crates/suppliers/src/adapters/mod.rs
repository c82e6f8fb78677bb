//! One adapter per supplier: the generated client wrapped with the facade's retry
//! layer, input checks, error model and waiters.

pub mod cryptorefills;
pub mod foxreload;
pub mod mousacard;
