//! `iamspec can`: whether a principal may make a request, answered offline from the
//! documents given (`--policy`, `--boundary`, `--resource-policy`, `--scp`, ...) or from a
//! spec's (`iamspec can SPEC user/NAME ACTION [RESOURCE]`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::emit;
use crate::eval::{self, Answer, Context, Decision, Policies, Policy, Principal, Request};
use crate::session::Error;

/// What `can` was given.
#[derive(Debug, clap::Args)]
#[allow(clippy::doc_markdown)] // --help text, not Markdown
pub(super) struct Asked {
    /// An identity policy of the principal (repeat for several).
    #[arg(long = "policy", value_name = "FILE")]
    policies: Vec<PathBuf>,
    /// The principal's permissions boundary.
    #[arg(long, value_name = "FILE")]
    boundary: Option<PathBuf>,
    /// A session policy passed when the role was assumed (repeat for several).
    #[arg(long = "session-policy", value_name = "FILE")]
    session: Vec<PathBuf>,
    /// The resource's own policy (a bucket policy, say).
    #[arg(long = "resource-policy", value_name = "FILE")]
    resource_policy: Option<PathBuf>,
    /// The account the resource is in, when its ARN names none (S3).
    #[arg(long = "resource-account", value_name = "ID")]
    resource_account: Option<String>,
    /// A service control policy, one a level from the root to the account (repeat).
    #[arg(long = "scp", value_name = "FILE")]
    scps: Vec<PathBuf>,
    /// Who asks: arn:aws:iam::ID:user/NAME, ...:role/NAME, or an assumed-role session.
    #[arg(long = "principal-arn", value_name = "ARN")]
    principal_arn: Option<String>,
    /// With a spec: the account the principal is in; with an organization file, which
    /// account's merged spec.
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// A request context key (repeat a key for several values).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
    /// With an organization file whose targets select by name, OU or tag: how to reach AWS
    /// Organizations, which says which layers the account gets.
    #[command(flatten)]
    aws: super::Aws,
    /// ACTION RESOURCE with --principal-arn; else SPEC PRINCIPAL ACTION [RESOURCE].
    #[arg(required = true, value_name = "ARGS", num_args = 1..=4)]
    args: Vec<String>,
}

/// A policy file, read only as a regular file of a size a policy can have, and parsed.
fn read(path: &Path) -> Result<Policy, Error> {
    let text = crate::spec::files::read_text(path, crate::spec::files::MAX_DOCUMENT_BYTES)
        .map_err(|err| Error::Usage(format!("cannot read {}: {err}", path.display())))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|err| {
        Error::Usage(format!(
            "{}:{}:{}: not JSON: {err}",
            path.display(),
            err.line(),
            err.column()
        ))
    })?;
    Policy::parse(&path.display().to_string(), &json).map_err(Error::Usage)
}

fn context(pairs: &[String]) -> Result<Context, Error> {
    let mut context = Context::default();
    for pair in pairs {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => context.add(key.trim(), value),
            _ => {
                return Err(Error::Usage(format!(
                    "--context `{pair}` is not KEY=VALUE (give a key twice for several values)"
                )));
            }
        }
    }
    Ok(context)
}

/// `iamspec can`: prints the answer; exits 0 when allowed, 2 when denied.
pub(super) async fn can(asked: &Asked) -> Result<ExitCode, Error> {
    let given = context(&asked.context)?;
    let resource_policy = asked.resource_policy.as_deref().map(read).transpose()?;
    let scps = asked
        .scps
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let session = asked
        .session
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let (principal, identity, boundary, action, resource) = match &asked.principal_arn {
        Some(arn) => documents(asked, arn)?,
        None => from_spec(asked).await?,
    };
    let request = Request::new(
        principal,
        &action,
        &resource,
        asked.resource_account.as_deref(),
        given,
        eval::spec::now(),
    );
    let answer = eval::evaluate(
        &request,
        &Policies {
            identity: &identity,
            boundary: boundary.as_ref(),
            session: &session,
            resource: resource_policy.as_ref(),
            scps: &scps,
        },
    );
    emit(&if asked.json {
        let mut text = serde_json::to_string_pretty(&answer).expect("an answer serialises");
        text.push('\n');
        text
    } else {
        words(&request, &answer)
    })?;
    Ok(if answer.decision == Decision::Allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Who asks, their identity policies and boundary, the action and the resource.
type Asking = (Principal, Vec<Policy>, Option<Policy>, String, String);

/// The documents form: `--principal-arn ARN --policy P.json ... ACTION RESOURCE`.
fn documents(asked: &Asked, arn: &str) -> Result<Asking, Error> {
    let [action, resource] = asked.args.as_slice() else {
        return Err(Error::Usage(
            "with --principal-arn, give ACTION RESOURCE (as ec2:RunInstances '*')".to_owned(),
        ));
    };
    let identity = asked
        .policies
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let boundary = asked.boundary.as_deref().map(read).transpose()?;
    let principal = Principal::parse(arn).map_err(Error::Usage)?;
    Ok((
        principal,
        identity,
        boundary,
        action.clone(),
        resource.clone(),
    ))
}

/// The spec form: `SPEC user/NAME ACTION [RESOURCE]`.
async fn from_spec(asked: &Asked) -> Result<Asking, Error> {
    let (spec, who, action, resource) = match asked.args.as_slice() {
        [spec, who, action] => (spec, who, action, "*".to_owned()),
        [spec, who, action, resource] => (spec, who, action, resource.clone()),
        _ => {
            return Err(Error::Usage(
                "give SPEC PRINCIPAL ACTION [RESOURCE] (as specs/koding.toml user/koding-user ec2:RunInstances), or --principal-arn ARN with --policy files and ACTION RESOURCE".to_owned(),
            ));
        }
    };
    if !asked.policies.is_empty() || asked.boundary.is_some() {
        return Err(Error::Usage(
            "--policy and --boundary go with --principal-arn; a spec's principal has the spec's documents".to_owned(),
        ));
    }
    let (spec, account) = load(Path::new(spec), asked.account.as_deref(), &asked.aws).await?;
    let found = eval::spec::principal(&spec, who, &account).map_err(Error::Usage)?;
    Ok((
        found.principal,
        found.identity,
        found.boundary,
        action.clone(),
        resource,
    ))
}

/// A spec, or an organization account's merged spec (`--account`), and its account id. An
/// organization file whose targets select by name, OU or tag is resolved through AWS
/// Organizations (read-only, with the caller's credentials); one of ids alone offline.
async fn load(
    path: &Path,
    account: Option<&str>,
    aws: &super::Aws,
) -> Result<(crate::spec::Spec, String), Error> {
    if crate::spec::organization::is_organization_file(path) {
        let org = crate::spec::organization::load(path)?;
        let Some(wanted) = account else {
            return Err(Error::Usage(format!(
                "{} is an organization file: name the account with --account ID",
                path.display()
            )));
        };
        let (targets, partition) = if org.needs_organizations() {
            let mut calls = std::collections::BTreeMap::new();
            let (hub, targets) =
                super::org::connect(&org, aws, &super::Targeting::default(), &mut calls).await?;
            (targets, hub.caller.partition.as_str().to_owned())
        } else {
            (crate::org::resolve(&org, None)?.targets, "aws".to_owned())
        };
        let target = targets
            .iter()
            .find(|t| t.id == wanted || t.name.as_deref() == Some(wanted))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "no target of {} is account {wanted}",
                    path.display()
                ))
            })?;
        let spec = crate::org::spec_of(&org, target, &partition)?;
        return Ok((spec, target.id.clone()));
    }
    let spec = crate::spec::load(path)?;
    let id = account
        .map(str::to_owned)
        .or_else(|| spec.account_id.clone())
        .unwrap_or_else(|| eval::spec::UNNAMED_ACCOUNT.to_owned());
    Ok((spec, id))
}

/// The answer in words.
fn words(request: &Request, answer: &Answer) -> String {
    let mut out = String::new();
    let verdict = match answer.decision {
        Decision::Allowed => "allowed",
        Decision::ImplicitDeny => "denied (implicitly)",
        Decision::ExplicitDeny => "denied (explicitly)",
    };
    let _ = writeln!(
        out,
        "{verdict}: {} {} on {}: {}.",
        request.principal.arn, request.action, request.resource, answer.reason
    );
    for d in &answer.statements {
        let _ = writeln!(
            out,
            "  {:?} {}, statement {}",
            d.effect, d.policy, d.statement
        );
    }
    out
}

/// What `who-can` was given.
#[derive(Debug, clap::Args)]
pub(super) struct WhoCan {
    /// The spec (or, with --account, an organization file).
    spec: PathBuf,
    /// The action, as `ec2:RunInstances`.
    action: String,
    /// The resource's ARN (default `*`).
    #[arg(default_value = "*")]
    resource: String,
    /// The account the spec's principals are in; with an organization file, which account.
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// A request context key (repeat a key for several values).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
    /// With an organization file whose targets select by name, OU or tag: how to reach AWS
    /// Organizations.
    #[command(flatten)]
    aws: super::Aws,
}

/// `iamspec who-can`: every user and role of the spec allowed, with the statements that allow
/// it; a role also with who may assume it.
pub(super) async fn who_can(asked: &WhoCan) -> Result<ExitCode, Error> {
    let given = context(&asked.context)?;
    let (spec, account) = load(&asked.spec, asked.account.as_deref(), &asked.aws).await?;
    let allowed = eval::spec::who_can(
        &spec,
        &account,
        &asked.action,
        &asked.resource,
        &given,
        eval::spec::now(),
    )
    .map_err(Error::Usage)?;
    if asked.json {
        let mut text = serde_json::to_string_pretty(&serde_json::json!({
            "action": asked.action,
            "resource": asked.resource,
            "allowed": allowed,
        }))
        .expect("an answer serialises");
        text.push('\n');
        emit(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for a in &allowed {
        let _ = writeln!(out, "{}", a.principal);
        for d in &a.statements {
            let _ = writeln!(
                out,
                "  {:?} {}, statement {}",
                d.effect, d.policy, d.statement
            );
        }
        if !a.assumed_by.is_empty() {
            let _ = writeln!(out, "  assumed by: {}", a.assumed_by.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "{} of {} principals may call {} on {}.",
        allowed.len(),
        spec.users.len() + spec.roles.len(),
        asked.action,
        asked.resource
    );
    emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
