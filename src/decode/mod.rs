//! Bytes in, borrowed records out: the Lambda's Kinesis event ([`kinesis`]), the DMS message
//! ([`dms`]), its values ([`value`]) and its `create-table` declarations ([`tabledef`]).

pub mod dms;
pub mod kinesis;
pub mod tabledef;
pub mod value;
