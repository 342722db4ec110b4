//! Fuzz target: arbitrary payloads through both message decoders; every
//! message that decodes must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stxchat_fuzz::targets::message_decode(data));
