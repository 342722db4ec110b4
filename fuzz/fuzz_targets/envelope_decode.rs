//! Fuzz target: arbitrary bytes through the cluster record decoder; it
//! never panics, and every record that decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stxchat_fuzz::envelope_check::check_record(data));
