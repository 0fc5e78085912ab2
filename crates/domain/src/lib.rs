//! The Enlace domain model.
//!
//! Everything here is pure: no database, no network, no clock (callers pass `now`).
//! Types parse their input, so a value of a domain type is valid by construction.

pub mod audit;
pub mod case;
pub mod country;
pub mod country_data;
pub mod disclosure;
pub mod error;
pub mod ids;
pub mod network;
pub mod parts;
pub mod password;
pub mod person;
pub mod post;
pub mod post_data;
pub mod record;
pub mod retention;
pub mod role;
pub mod stat_facts;
pub mod text;
pub mod user;
pub mod workflow;

pub use error::{FieldError, ValidationErrors};
