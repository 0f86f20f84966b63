//! iamspec keeps AWS IAM users, groups and their policies in a TOML spec and reconciles an
//! account with it. The pipeline, one module a stage:
//!
//! `spec` (load and validate) -> `org` (which accounts, with which merged spec) -> `live`
//! (read the account) -> `diff` (pure comparison) -> `plan` (the changes, as data) ->
//! `render` (text or JSON) / `apply` (make the changes). `session` runs live -> apply for one
//! account behind a terminal seam; `cli` parses, renders and exits.

pub mod apply;
pub mod cli;
pub mod credentials;
pub mod diff;
pub mod digest;
pub mod document;
pub mod eval;
pub mod export;
pub mod iam;
pub mod lint;
pub mod live;
pub mod lock;
pub mod org;
pub mod plan;
pub mod render;
pub mod secrets;
pub mod session;
pub mod spec;

#[cfg(test)]
mod idempotence;
#[cfg(test)]
mod testing;
