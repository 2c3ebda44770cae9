//! One event into the lake: the registry loop that builds, evolves and publishes schemas
//! ([`registry`]), the Lambda's invocation ([`lambda`]), `cdc-sink replay` ([`replay`]) and the
//! invocation's metrics ([`metrics`]).

pub mod lambda;
pub mod metrics;
pub mod registry;
pub mod replay;
pub mod wait;
