//! High-altitude throwing (高空抛物): falling-object analytic for facade cameras.

pub mod config;

pub use config::FacadeConfig;
