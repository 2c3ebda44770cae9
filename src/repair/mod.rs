//! Bringing in what the normal path could not: batches Lambda gave up on ([`recover`]) and
//! quarantined records whose cause is fixed ([`redrive`]).

pub mod recover;
pub mod redrive;
