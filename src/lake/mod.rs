//! The lake's contract: its keys, reserved names and documents, and the layout guard.

pub mod keys;
pub mod layout;
