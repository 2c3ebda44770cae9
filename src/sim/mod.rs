//! Simulated sources for tests, demos and benchmarks: the DMS stream generator ([`generate`]),
//! the benchmark's library half ([`bench`]), the cost simulator ([`cost`]) and the fuzz target's check ([`fuzzing`]).

pub mod bench;
pub mod cost;
pub mod fuzzing;
pub mod generate;
