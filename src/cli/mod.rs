//! CLI subcommands that live outside main.rs.
pub mod audit;
pub mod dataset;
pub mod eval;
pub mod eval_ebike;
pub mod serve;
pub mod synth;
pub mod user;
