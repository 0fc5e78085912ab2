//! The one integration-test binary: real servers on port 0, fresh databases, both backends.

mod disclosure;
mod harness;
mod mfa;
mod oidc;

mod access_matrix;
mod accounts;
mod api_cases;
mod api_records;
mod at_rest;
mod audit;
mod backup;
mod browser;
mod cli;
mod demo_net;
mod federation;
mod link_cli;
mod matching;
pub(crate) mod network;
mod ops;
mod pprl_cli;
mod restricted;
mod retention;
mod stats;
mod store;
mod ui;
mod webdriver;
