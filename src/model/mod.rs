//! The vocabulary every other module speaks, importing nothing of the crate: tables, operations
//! and counts ([`change`]), column types ([`types`]), and time ([`time`]).

pub mod change;
pub mod time;
pub mod types;
