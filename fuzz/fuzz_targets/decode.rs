//! Fuzzes the event and DMS decoder: arbitrary bytes as a whole Lambda event, and as the
//! payload of one Kinesis record. The pipeline must not panic, must account for every record,
//! and must keep every object key under the prefix.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cdc_sink::sim::fuzzing::check_event(data);
    let payload = base64::engine::general_purpose::STANDARD.encode(data);
    let event = format!(
        r#"{{"Records":[{{"kinesis":{{"partitionKey":"k","sequenceNumber":"1","data":"{payload}","approximateArrivalTimestamp":1762157702.5}},"eventID":"shardId-000000000000:1"}}]}}"#
    );
    cdc_sink::sim::fuzzing::check_event(event.as_bytes());
});
