//! Tests of the translator against a real engine (sans-IO).
