//! For tests of code built on these stores (feature `test-util`): a
//! throwaway PostgreSQL database per test, so that no two tests see each
//! other's rows. Used by this crate's tests and by the server's.

pub mod pg;
