//! Support code for the stxchat fuzz targets.
//!
//! The property checks live here rather than in the targets so that
//! `tests/fuzz_regressions.rs` in the main package can include this crate's
//! sources with `#[path]` and replay the seed corpus and every fixed crash
//! input through exactly the checks the fuzzer runs. Modules refer to each
//! other with `super::` so they work in both places.

pub mod envelope_check;
pub mod frame_check;
pub mod frame_input;
pub mod message_check;
pub mod targets;
pub mod vectors;
