//! Simulated sources for tests, demos and benchmarks: the DMS stream generator ([`generate`]),
//! the benchmark's library half ([`bench`]) and the fuzz target's check ([`fuzzing`]).

pub mod bench;
pub mod fuzzing;
pub mod generate;
