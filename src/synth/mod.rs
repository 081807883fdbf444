//! Scene generator (placeholder; being written).
