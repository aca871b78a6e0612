//! A small cflows protocol client over real sockets: log in over HTTP, open `/ws`, send
//! and receive typed messages. Used by the load generator and by the integration tests.

pub mod board;
pub mod booking;
pub mod client;
pub mod cluster;
pub mod pin;
pub mod scenarios;
