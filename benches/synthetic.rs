//! Specs of any size, for benchmarks: `users` users spread over `groups` groups,
//! `policies` customer-managed policies spread over the groups, every tenth user with an
//! access key, all under the path `/bench/`, which is the spec's scope (as a large spec's
//! should be: ownership under a scope needs no per-policy tag read).

#![allow(dead_code)]

use std::fmt::Write as _;

/// The spec text.
pub fn spec(users: usize, groups: usize, policies: usize) -> String {
    let mut out = String::from("version = 1\n[account]\nscope = \"/bench/\"\n");
    for p in 0..policies {
        let _ = write!(
            out,
            "[policies.Stack{p:04}]\npath = \"/bench/\"\ndocument = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = [\"s3:GetObject\", \"s3:PutObject\"], Resource = \"arn:aws:s3:::bucket-{p}/*\" }}] }}\n"
        );
    }
    for g in 0..groups {
        let mut attached = vec![
            "\"IAMReadOnlyAccess\"".to_owned(),
            "\"AmazonEC2FullAccess\"".to_owned(),
        ];
        attached.extend(
            (g..policies)
                .step_by(groups.max(1))
                .map(|p| format!("\"Stack{p:04}\"")),
        );
        let _ = write!(
            out,
            "[groups.team{g:03}]\npath = \"/bench/\"\npolicies = [{}]\n",
            attached.join(", ")
        );
    }
    for u in 0..users {
        let _ = write!(
            out,
            "[users.user{u:04}]\npath = \"/bench/\"\ngroups = [\"team{:03}\"]\ntags = {{ team = \"t{}\" }}\n",
            u % groups.max(1),
            u % groups.max(1)
        );
        if u % 10 == 0 {
            out.push_str("access_key = true\n");
        }
    }
    out
}
