//! The sans-IO chat engine (being built).
