//! IAM's own vocabulary, shared by every stage: policy ARNs and partitions, the rules for
//! names and paths, the kinds of entity, and ownership (the owner tag and the one rule of what
//! a spec owns). Nothing here reads a spec or calls AWS.

mod arn;
mod names;
mod owner;

pub use arn::{AWS_MANAGED_ACCOUNT, Partition, PolicyArn, check_policy_name, split_path_name};
pub use names::{check_name, check_path, is_account_id};
pub use owner::{
    DEFAULT_OWNER, EntityKind, KEY_MARK, Names, OWNER_TAG, Owned, Ownership, is_key_tag,
};
