//! The sans-IO chat engine (being built).
pub mod observe;
