//! Benchmarks and the fleet simulator for `acsd`.
//!
//! Criterion micro-benchmarks live in `benches/`; shared fixtures loading lives here.
