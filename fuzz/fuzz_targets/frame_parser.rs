//! Fuzz target: the frame decoder on raw and on built-then-corrupted streams,
//! fed in fuzzer-chosen chunks (input layout: `stxchat_fuzz::frame_input`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| stxchat_fuzz::targets::frame_parser(data));
