//! Generators for the large artifacts the benchmarks read.
