//! CLI subcommands that live outside main.rs.
pub mod eval;
pub mod audit;
pub mod user;
pub mod synth;
pub mod eval_ebike;
pub mod dataset;
pub mod serve;
