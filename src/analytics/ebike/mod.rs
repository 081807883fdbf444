//! E-bikes entering elevators (电动车进电梯).

pub mod config;

pub use config::ElevatorConfig;
