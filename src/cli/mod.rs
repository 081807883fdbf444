//! CLI subcommands that live outside main.rs.
