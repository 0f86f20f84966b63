//! Stage 2: the actual state. `read` asks IAM, through the `IamApi` seam, for everything the
//! differ needs, in a handful of calls, and fails whole rather than return a partial picture:
//! a plan made from half an account would create what already exists.
//!
//! `state.rs` holds the types of the account as read, `read.rs` the reader (pure over the
//! seam), `api.rs` the seam, and `aws/` the AWS SDK behind it.

mod api;
pub mod aws;
pub mod center;
pub mod fingerprint;
#[cfg(test)]
pub mod memory;
mod read;
mod state;

pub use api::{ApiError, ErrorKind, IamApi, Outcome};
pub use read::{
    KeyReading, ReadError, detail_kinds, idle, parse_credential_report, read, read_account,
    read_caller, read_documents,
};
pub use state::*;

#[cfg(test)]
mod tests;
