//! One behaviour per test.
