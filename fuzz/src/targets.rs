//! One function per fuzz target: the whole check run on one fuzz input.
//! The `fuzz_targets/*.rs` binaries and the regression test call these.

use super::frame_check::check_stream;
use super::frame_input::frame_case;
use super::message_check::check_payload;

/// `frame_parser`: reads a case (see `frame_input`) and checks the decoder
/// on it whole and chunked.
pub fn frame_parser(data: &[u8]) {
    let case = frame_case(data);
    check_stream(&case.stream, case.max_payload, &case.chunks);
}

/// `message_decode`: the input is one payload, checked through both
/// message decoders.
pub fn message_decode(data: &[u8]) {
    check_payload(data);
}

/// A fuzz target's check: panics if the input breaks a property.
pub type Check = fn(&[u8]);

/// The names of the fuzz targets and their functions, for replaying files.
pub const TARGETS: [(&str, Check); 2] = [
    ("frame_parser", frame_parser),
    ("message_decode", message_decode),
];
