//! The command line: wires spec -> live -> diff -> render / apply, and owns everything that
//! touches the terminal: output, colour, the confirmation prompt and exit codes.
//!
//! Exit codes: 0 success (and, with `--detailed-exitcode`, nothing to do); 1 error;
//! 2 changes to make or a lost secret to replace (`plan --detailed-exitcode` only); 130, 143
//! and 129 for an apply stopped by Ctrl-C, SIGTERM and SIGHUP.

mod can;
mod center;
mod org;
mod progress;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use std::time::Duration;

use crate::apply;
use crate::export;
use crate::lint::{self, Severity};
use crate::live::aws::{AwsIam, Connection, Timeouts};
use crate::live::{self, IamApi, ReadError};
use crate::plan::saved::{self, SavedOptions, SavedPlan};
use crate::render;
use crate::secrets::SecretsDir;
use crate::session::{self, Reading, Run, Session, Stop, Terminal};
use crate::spec::{self, Spec, organization};

/// Keep AWS IAM users, groups and policies in a TOML spec, and make the account match it.
#[derive(Debug, Parser)]
#[command(name = "iamspec", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what apply would change; changes nothing.
    Plan {
        /// The spec file (- for standard input).
        spec: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Print the plan as one JSON object (schema: docs/plan-json.md).
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the plan as Markdown for a pull request's comment: a summary table, then a
        /// collapsible section per account with changes.
        #[arg(long)]
        markdown: bool,
        /// Exit 0 when there is nothing to do, 2 when there are changes or a lost secret to
        /// replace, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also save the plan to FILE, for `iamspec apply FILE` to apply exactly it (not with a
        /// spec read from standard input).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Make the changes the plan shows, after asking (or with --yes); or apply a saved plan.
    ///
    /// Given a spec, apply plans, shows the plan and asks. Given a plan saved by `iamspec plan
    /// --out FILE`, it applies exactly that plan without asking, after reading the account
    /// again: if the spec or anything the plan's changes touch changed since, it refuses and
    /// names what changed.
    Apply {
        /// The spec file (- for standard input), or a plan saved by `iamspec plan --out`.
        #[arg(value_name = "SPEC|PLAN")]
        target: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Apply without asking; required when standard input is not a terminal (a saved plan
        /// never asks: it was reviewed when it was made).
        #[arg(long, short = 'y')]
        yes: bool,
        /// How many IAM calls may be in flight at once.
        #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
        /// How long to wait for another apply of the same account and owner to finish (e.g.
        /// 30s, 10m; 0 refuses at once).
        #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
        lock_timeout: Duration,
        /// For an organization: how many accounts may fail before no new account starts
        /// (those under way finish).
        #[arg(long, value_name = "N", default_value_t = 0)]
        max_failed_accounts: usize,
    },
    /// List the accounts an organization file targets, with their layers.
    Accounts {
        /// The organization file.
        org: PathBuf,
        #[command(flatten)]
        aws: Aws,
        #[command(flatten)]
        targeting: Targeting,
        /// Print `{"accounts": [{"id", "name", "specs"}]}`, usable as a CI matrix.
        #[arg(long)]
        json: bool,
    },
    /// Check a spec offline; needs no credentials and makes no call.
    Validate {
        /// The spec file (- for standard input).
        spec: PathBuf,
        /// Fail (exit 1) on warnings too: the spec's and the policy linter's.
        #[arg(long)]
        strict: bool,
        /// Print the result and every finding as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lint policy documents on their own (JSON files); needs no spec and no credentials.
    ///
    /// Each file is an identity, resource, trust, boundary or SCP policy: a document whose
    /// statements name principals is a resource policy (a trust policy when all it allows is
    /// assuming a role), any other an identity policy, unless --type says.
    Lint {
        /// The policy files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// What the documents are: identity, resource, trust, boundary or scp.
        #[arg(long = "type", value_name = "TYPE", value_parser = parse_kind)]
        kind: Option<crate::lint::Kind>,
        /// Fail (exit 1) on warnings too.
        #[arg(long)]
        strict: bool,
        /// Print the findings as JSON.
        #[arg(long, conflicts_with = "sarif")]
        json: bool,
        /// Print the findings as SARIF 2.1.0, for GitHub code scanning.
        #[arg(long)]
        sarif: bool,
    },
    /// Whether a principal may make a request, answered offline.
    ///
    /// From documents given: `iamspec can --policy P.json --principal-arn ARN ACTION RESOURCE`
    /// (with --boundary, --session-policy, --resource-policy and --scp as they apply). From a
    /// spec: `iamspec can SPEC user/NAME ACTION [RESOURCE]` (its policies, groups, boundary and
    /// the AWS-managed documents in iamspec's snapshot). Exit 0 when allowed, 2 when denied.
    #[allow(clippy::doc_markdown)] // --help text, not Markdown
    Can(can::Asked),
    /// Every user and role of a spec allowed to make a request, and the statements that allow
    /// it; a role also with who may assume it (its trust policy, one hop).
    WhoCan(can::WhoCan),
    /// Show every user's credentials, marked where they break a rule.
    ///
    /// From IAM's credential report: access keys with age, status and last use, the console
    /// password and its last use, MFA; marked where they break the spec's rules (max_age,
    /// disable_unused) or the ones every account should keep (MFA beside a console password,
    /// no root access keys, MFA on the root user).
    #[allow(clippy::doc_markdown)] // --help text, not Markdown
    Credentials {
        /// A spec whose rules to check (access_key max_age, [account] disable_unused), or an
        /// organization file (every target account); without one, only MFA and the root
        /// user's credentials are checked.
        spec: Option<PathBuf>,
        #[command(flatten)]
        aws: Aws,
        #[command(flatten)]
        targeting: Targeting,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 2 when anything breaks a rule, 0 when nothing does, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Write a spec for the live account, with policy documents as JSON files beside it.
    Export {
        #[command(flatten)]
        aws: Aws,
        /// Only users, groups and policies under this path; it becomes the spec's scope.
        #[arg(long, value_name = "PATH", value_parser = parse_scope)]
        scope: Option<String>,
        /// Only users and policies tagged with this owner; it becomes the spec's owner.
        #[arg(long, value_name = "NAME")]
        owner: Option<String>,
        /// The directory to write spec.toml and its documents into; it must not exist yet.
        #[arg(long, value_name = "DIR", default_value = "exported")]
        out: PathBuf,
        /// Export every account of the caller's organization: one layer per account and an
        /// organization file that plans nothing.
        #[arg(long, conflicts_with_all = ["scope", "owner"])]
        organization: bool,
    },
    /// Print the JSON Schema of a spec, for editors to complete and check keys as you type.
    ///
    /// Save it beside your specs and start a spec with `#:schema ./iamspec.schema.json`:
    /// taplo and Even Better TOML then check the spec against it.
    Schema,
    /// Print a shell's completion script for iamspec.
    ///
    /// bash: `source <(iamspec completions bash)` in ~/.bashrc; zsh: `iamspec completions zsh >
    /// "${fpath[1]}/_iamspec"`; fish: `iamspec completions fish >
    /// ~/.config/fish/completions/iamspec.fish`; PowerShell: `iamspec completions powershell |
    /// Out-String | Invoke-Expression` in your profile.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print iamspec's man page, or write one page for iamspec and each command into a
    /// directory.
    Man {
        /// Write iamspec.1 and iamspec-COMMAND.1 into this directory (made if missing) instead.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// How to reach AWS.
#[derive(Debug, Args)]
#[allow(clippy::doc_markdown)] // these doc comments are --help text, not Markdown
pub(crate) struct Aws {
    /// The AWS profile to use (default: AWS_PROFILE, else the default chain); a named profile
    /// wins over credentials in the environment.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// The AWS region to sign requests for (IAM is global; default us-east-1).
    #[arg(long, value_name = "REGION", value_parser = parse_region)]
    region: Option<String>,
    /// Send every AWS call (IAM, STS, Organizations, Identity Center) to this endpoint (also
    /// AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL", value_parser = parse_endpoint_url)]
    endpoint_url: Option<String>,
    /// Print how many API calls were made, by operation, to standard error.
    #[arg(long)]
    stats: bool,
    /// How long to wait for a connection to the endpoint.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// How long one attempt of a call may take.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_duration)]
    call_timeout: Duration,
    /// How long a call may take with all its retries (throttling, server errors, dropped
    /// connections).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    retry_timeout: Duration,
}

impl Aws {
    async fn connect(&self) -> Result<AwsIam, Error> {
        AwsIam::connect(&self.connection()?)
            .await
            .map_err(Error::Connect)
    }

    /// The settings to reach AWS with, from the flags and the environment.
    /// How long a call may be retried, and an asynchronous request waited for.
    fn retry_timeout(&self) -> Duration {
        self.retry_timeout
    }

    fn connection(&self) -> Result<Connection, Error> {
        let named = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
        Ok(Connection {
            profile: self.profile.clone().or_else(|| named("AWS_PROFILE")),
            region: self.region.clone(),
            endpoint_url: match &self.endpoint_url {
                Some(url) => Some(url.clone()),
                None => endpoint_from_environment()?,
            },
            timeouts: Timeouts {
                connect: self.connect_timeout,
                call: self.call_timeout,
                retries: self.retry_timeout,
            },
        })
    }

    fn print_stats(&self, api: &AwsIam) {
        self.print_calls(&api.calls());
    }

    fn print_calls(&self, calls: &std::collections::BTreeMap<&'static str, u64>) {
        if !self.stats {
            return;
        }
        let total: u64 = calls.values().sum();
        let list: Vec<String> = calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
        eprintln!("API calls: {total} ({})", list.join(", "));
    }
}

/// Which of an organization's target accounts a command takes.
#[derive(Debug, Args, Default)]
pub(crate) struct Targeting {
    /// Only these target accounts (ids or names, comma-separated).
    #[arg(long, value_name = "ID|NAME,...", value_delimiter = ',')]
    accounts: Vec<String>,
    /// Only the K-th of N parts of the target accounts (1 <= K <= N), for a CI matrix: the N
    /// shards take every account exactly once.
    #[arg(long, value_name = "K/N")]
    shard: Option<crate::org::Shard>,
    /// Only IAM Identity Center, as a whole (its users, groups, permission sets and every
    /// assignment), and no account's IAM: the one job of a CI matrix that changes the instance.
    #[arg(long, conflicts_with_all = ["accounts", "shard"])]
    identity_center_only: bool,
}

impl Targeting {
    fn is_given(&self) -> bool {
        !self.accounts.is_empty() || self.shard.is_some() || self.identity_center_only
    }

    /// Whether a selection of accounts scopes the run (Identity Center then plans only their
    /// assignments and provisioning).
    fn scopes(&self) -> bool {
        !self.accounts.is_empty() || self.shard.is_some()
    }
}

/// What plan and apply share: how to reach AWS and how to read the account.
#[derive(Debug, Args)]
#[allow(clippy::doc_markdown)] // these doc comments are --help text, not Markdown
#[allow(clippy::struct_excessive_bools)] // independent flags, each its own switch
struct Common {
    #[command(flatten)]
    aws: Aws,
    #[command(flatten)]
    targeting: Targeting,
    /// Where the secrets of new access keys are written, one <user>.csv each.
    #[arg(long, value_name = "DIR", default_value = "secrets")]
    secrets_dir: PathBuf,
    /// Also remove what the spec's entities have beyond it, and delete the users, groups and
    /// policies this spec owns that it no longer names (also: [account] prune = true).
    #[arg(long)]
    prune: bool,
    /// Refuse a plan that deletes more users, groups, policies, roles and providers than this.
    #[arg(long, value_name = "N", default_value_t = 10)]
    max_deletes: usize,
    /// List every user's access keys, one call each, instead of reading IAM's credential
    /// report, which can be up to 4 hours old (iamspec's own changes show either way).
    #[arg(long)]
    list_keys: bool,
    /// Delete each access key whose secret an interrupted apply lost (the plan names them)
    /// and make a new one in its place.
    #[arg(long)]
    replace_lost_keys: bool,
    /// Mark each declared user's active access key that iamspec did not make (one made by
    /// hand, or before iamspec marked its keys) as iamspec's, so that its rotation may
    /// retire it. Any other key stays drift.
    #[arg(long)]
    adopt_keys: bool,
}

pub use crate::session::Error;

/// The terminal iamspec runs in: standard output and error, a live line while apply runs and
/// a spinner while the account is read (both only when a person watches).
struct Console;

impl Terminal for Console {
    fn show(&self, text: &str) -> Result<(), Error> {
        emit(text)
    }

    fn say(&self, line: &str) {
        eprintln!("{line}");
    }

    fn color(&self) -> bool {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        io::stdout().is_terminal() && !no_color
    }

    fn watched(&self) -> bool {
        progress::on_terminal()
    }

    fn progress<'a>(&'a self, total: usize, api: &'a AwsIam) -> Box<dyn apply::Progress + 'a> {
        match progress::ApplyLine::start(total, api) {
            Some(line) => Box::new(line),
            None => Box::new(apply::Quiet),
        }
    }

    fn reading<F: Future>(&self, api: &AwsIam, reading: F) -> impl Future<Output = F::Output> {
        progress::Spinner::reading(api, reading)
    }
}

/// Runs the command line and returns the process exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

async fn run(command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Validate { spec, strict, json } if organization::is_organization_file(&spec) => {
            org::validate(&spec, strict, json)
        }
        Command::Validate { spec, strict, json } => validate(&spec, strict, json),
        Command::Lint {
            files,
            kind,
            strict,
            json,
            sarif,
        } => lint_files(&files, kind, strict, json, sarif),
        Command::Can(asked) => can::can(&asked).await,
        Command::WhoCan(asked) => can::who_can(&asked).await,
        Command::Completions { shell } => completions(shell),
        Command::Man { out } => man(out.as_deref()),
        Command::Schema => {
            let mut text =
                serde_json::to_string_pretty(&spec::schema()).expect("a schema serialises");
            text.push('\n');
            emit(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            aws,
            out,
            organization: true,
            ..
        } => org::export(&aws, &out).await,
        Command::Accounts {
            org: path,
            aws,
            targeting,
            json,
        } => org::accounts(&path, &aws, &targeting, json).await,
        Command::Export {
            aws,
            scope,
            owner,
            out,
            organization: false,
        } => export(&aws, scope, owner, &out).await,
        Command::Credentials {
            spec: Some(spec),
            aws,
            targeting,
            json,
            detailed_exitcode,
        } if organization::is_organization_file(&spec) => {
            org::credentials(&spec, &aws, &targeting, json, detailed_exitcode).await
        }
        Command::Credentials {
            spec,
            aws,
            targeting,
            json,
            detailed_exitcode,
        } => {
            one_account(&targeting)?;
            credentials(spec.as_deref(), &aws, json, detailed_exitcode).await
        }
        Command::Plan {
            spec,
            common,
            json,
            markdown,
            detailed_exitcode,
            out,
        } => {
            let format = match (json, markdown) {
                (true, _) => org::Format::Json,
                (_, true) => org::Format::Markdown,
                _ => org::Format::Text,
            };
            if organization::is_organization_file(&spec) {
                org::plan(&spec, &common, format, detailed_exitcode, out.as_deref()).await
            } else {
                one_account(&common.targeting)?;
                plan(&spec, &common, format, detailed_exitcode, out.as_deref()).await
            }
        }
        Command::Apply {
            target,
            common,
            yes,
            concurrency,
            lock_timeout,
            max_failed_accounts,
        } => {
            let run = Run {
                concurrency,
                lock_timeout,
                max_deletes: common.max_deletes,
            };
            apply_any(&target, &common, yes, run, max_failed_accounts).await
        }
    }
}

/// `iamspec apply TARGET`: a spec, an organization file, or either's saved plan.
async fn apply_any(
    target: &Path,
    common: &Common,
    yes: bool,
    run: Run,
    max_failed: usize,
) -> Result<ExitCode, Error> {
    if org::is_saved_organization_plan(target) {
        refuse_shaping_flags(common)?;
        if common.targeting.is_given() {
            return Err(Error::Usage(
                "--accounts and --shard chose the accounts of the saved plan when it was made: give them to `iamspec plan --out`, not to apply".to_owned(),
            ));
        }
        org::apply_saved(target, common, run, max_failed).await
    } else if saved::is_saved_plan(target) {
        one_account(&common.targeting)?;
        apply_saved(target, common, run).await
    } else if organization::is_organization_file(target) {
        org::apply(target, common, yes, run, max_failed).await
    } else {
        one_account(&common.targeting)?;
        apply(target, common, yes, run).await
    }
}

/// `iamspec export`: the account (or the part of it `--scope` or `--owner` names) as a spec.
async fn export(
    aws: &Aws,
    scope: Option<String>,
    owner: Option<String>,
    out: &Path,
) -> Result<ExitCode, Error> {
    let api = aws.connect().await?;
    let live = live::read_account(&api).await?;
    let filter = export::Filter {
        scope,
        owner,
        layer: false,
    };
    let export = export::export(&live, &filter);
    write_export(out, &export)?;
    aws.print_stats(&api);
    emit(&format!(
        "Wrote {} and {} policy document{}: check it with `iamspec plan {}`.\n",
        out.join("spec.toml").display(),
        export.files.len(),
        if export.files.len() == 1 { "" } else { "s" },
        out.join("spec.toml").display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `--accounts` and `--shard` choose among an organization's accounts; a spec has one.
fn one_account(targeting: &Targeting) -> Result<(), Error> {
    if targeting.is_given() {
        return Err(Error::Usage(
            "--accounts, --shard and --identity-center-only choose among the parts of an organization file; this is a spec of one account".to_owned(),
        ));
    }
    Ok(())
}

/// `iamspec plan`: shows the plan, and with `--out` saves it for `apply FILE`.
async fn plan(
    path: &Path,
    common: &Common,
    format: org::Format,
    detailed_exitcode: bool,
    out: Option<&Path>,
) -> Result<ExitCode, Error> {
    if out.is_some() && path == Path::new("-") {
        return Err(Error::Usage(
            "--out needs a spec file: applying a saved plan reads its spec again, which standard input cannot give"
                .to_owned(),
        ));
    }
    if let Some(out) = out {
        saved::check_out(out, path)?;
    }
    let (spec, api) = open(path, common).await?;
    let session = Session::new(&api, &spec, common.reading(), &Console);
    let planned = session.plan().await?;
    let plan = &planned.plan;
    let now = planned.live.now;
    let checks = crate::eval::spec::changed(session.spec, &planned.live, now);
    match format {
        org::Format::Json if checks.is_empty() => emit(&render::json(plan))?,
        org::Format::Json => {
            let mut value: serde_json::Value =
                serde_json::from_str(&render::json(plan)).expect("a plan's JSON reads back");
            value["checks_changed"] = serde_json::json!(checks);
            let mut text = serde_json::to_string_pretty(&value).expect("JSON serialises");
            text.push('\n');
            emit(&text)?;
        }
        org::Format::Text => {
            emit(&render::text(plan, session.style()))?;
            emit(&render::checks_changed(&checks))?;
        }
        org::Format::Markdown => {
            let row = render::org::Row {
                id: &plan.account,
                name: None,
                plan: Some(plan),
                error: None,
                status: if plan.needs_attention() {
                    "changes"
                } else {
                    "no changes"
                }
                .to_owned(),
                secrets_dir: &common.secrets_dir,
            };
            emit(&render::org::markdown(&[row]))?;
        }
    }
    common.aws.print_stats(&api);
    session::check_deletions(plan, common.max_deletes)?;
    if let Some(out) = out {
        let key = plan_key();
        let saved = SavedPlan::new(
            plan,
            session.spec,
            &planned.live,
            common.saved_options(),
            key.as_deref(),
        );
        // Again: the path may have been taken while the account was read.
        saved::check_out(out, path)?;
        write_new_file(out, &saved.to_json())?;
        eprintln!(
            "Saved the plan to {}: `iamspec apply {}` applies exactly it, and refuses if the spec or anything it changes has changed meanwhile.",
            out.display(),
            out.display()
        );
    }
    Ok(if detailed_exitcode && plan.needs_attention() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// `iamspec completions SHELL`: the shell's completion script.
fn completions(shell: clap_complete::Shell) -> Result<ExitCode, Error> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "iamspec", &mut script);
    emit(&String::from_utf8_lossy(&script))?;
    Ok(ExitCode::SUCCESS)
}

/// `iamspec man`: roff pages from the same definitions as `--help`.
fn man(out: Option<&Path>) -> Result<ExitCode, Error> {
    let render = |command: clap::Command| {
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut page)
            .expect("writing to memory cannot fail");
        page
    };
    let mut iamspec = Cli::command();
    iamspec.build();
    let Some(dir) = out else {
        emit(&String::from_utf8_lossy(&render(iamspec)))?;
        return Ok(ExitCode::SUCCESS);
    };
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    let mut pages = vec![("iamspec.1".to_owned(), render(iamspec.clone()))];
    // Built, each command's display name is `iamspec-COMMAND`, which titles its page.
    for command in iamspec.get_subcommands().filter(|c| c.get_name() != "help") {
        let name = format!("iamspec-{}.1", command.get_name());
        pages.push((name, render(command.clone())));
    }
    for (file, page) in &pages {
        let path = dir.join(file);
        std::fs::write(&path, page).map_err(failed(&path))?;
    }
    emit(&format!(
        "Wrote {} man pages to {}.\n",
        pages.len(),
        dir.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The spec at `path`. A layer of an organization read on its own fails where its variables
/// stand: that is said, with what to do.
fn load_spec(path: &Path) -> Result<Spec, Error> {
    spec::load(path).inspect_err(|_| {
        let layer = path != Path::new("-")
            && std::fs::read_to_string(path).is_ok_and(|text| {
                spec::layers::VARIABLES.iter().any(|v| text.contains(v))
            });
        if layer {
            eprintln!(
                "note: {} uses an organization's variables (${{account.id}}, ${{account.name}}, ${{partition}}), which are filled in only through the organization file: validate or plan that file instead",
                path.display()
            );
        }
    })
    .map_err(Error::from)
}

/// `iamspec validate`: every offline check, the policy linter's findings with them. Exit 1
/// when the spec is invalid, a finding is at level error, or (`--strict`) anything warns.
fn validate(path: &Path, strict: bool, json: bool) -> Result<ExitCode, Error> {
    let spec = load_spec(path)?;
    let findings = lint::lint(&spec);
    let failed = crate::eval::spec::broken(&spec);
    let errors = failed.len()
        + findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
    let warnings = spec.warnings.len()
        + findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count();
    let passes = errors == 0 && !(strict && warnings > 0);
    if json {
        let data = &lint::ActionDb::get().source;
        let report = serde_json::json!({
            "file": spec.file.display().to_string(),
            "valid": passes,
            "warnings": spec.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "findings": findings,
            "checks": { "count": spec.checks.len(), "failed": failed },
            "action_data": data,
        });
        let mut text = serde_json::to_string_pretty(&report).expect("a report serialises");
        text.push('\n');
        emit(&text)?;
    } else {
        // Warnings and findings on standard error, as plan and apply show them; the verdict
        // on standard output.
        for warning in &spec.warnings {
            eprintln!("warning: {warning}");
        }
        for finding in &findings {
            eprintln!("{finding}");
        }
        for failure in &failed {
            eprintln!("error: {failure}");
        }
        let mut text = String::new();
        let count =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = vec![
            count(spec.users.len(), "user", "users"),
            count(spec.groups.len(), "group", "groups"),
            count(spec.policies.len(), "policy", "policies"),
        ];
        if !spec.roles.is_empty() || !spec.oidc_providers.is_empty() {
            parts.push(count(spec.roles.len(), "role", "roles"));
            parts.push(count(
                spec.oidc_providers.len(),
                "OIDC provider",
                "OIDC providers",
            ));
        }
        if !spec.checks.is_empty() {
            let held = spec.checks.len() - failed.len();
            parts.push(format!("{held} of {} checks hold", spec.checks.len()));
        }
        let verdict = if passes { "is valid" } else { "is not valid" };
        let _ = writeln!(
            text,
            "{} {verdict}: {}.",
            spec.file.display(),
            parts.join(", ")
        );
        if errors > 0 {
            let _ = writeln!(
                text,
                "{errors} finding{} at level error or failed check{}: fix them, or set their level in [lint].",
                if errors == 1 { "" } else { "s" },
                if errors == 1 { "" } else { "s" }
            );
        } else if !passes {
            let _ = writeln!(
                text,
                "--strict: {warnings} warning{} fail the check.",
                if warnings == 1 { "" } else { "s" }
            );
        }
        emit(&text)?;
    }
    Ok(if passes {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `iamspec lint FILE...`: every file's findings; exit 1 when one is at level error (a file
/// that is no policy is one), or with `--strict` at level warning.
fn lint_files(
    files: &[PathBuf],
    kind: Option<crate::lint::Kind>,
    strict: bool,
    json: bool,
    sarif: bool,
) -> Result<ExitCode, Error> {
    let findings: Vec<lint::Finding> = files
        .iter()
        .flat_map(|file| lint::files::lint_file(file, kind))
        .collect();
    let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let passes = errors == 0 && (!strict || warnings == 0);
    if sarif {
        emit(&render::sarif::sarif(&findings))?;
    } else if json {
        let report = serde_json::json!({
            "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "valid": passes,
            "findings": findings,
            "action_data": &lint::ActionDb::get().source,
        });
        let mut text = serde_json::to_string_pretty(&report).expect("a report serialises");
        text.push('\n');
        emit(&text)?;
    } else {
        let mut text = String::new();
        for finding in &findings {
            let _ = writeln!(text, "{finding}");
        }
        emit(&text)?;
        eprintln!(
            "{} file{}: {errors} error{}, {warnings} warning{}.",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" },
        );
    }
    Ok(if passes {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `iamspec credentials`: the credential report, assessed against the spec's rules. The spec
/// is checked before anything is connected.
async fn credentials(
    spec: Option<&Path>,
    aws: &Aws,
    json: bool,
    detailed_exitcode: bool,
) -> Result<ExitCode, Error> {
    let spec = spec.map(load).transpose()?;
    let api = aws.connect().await?;
    let report = api
        .credential_report()
        .await
        .map_err(|source| ReadError::Api {
            what:
                "read the credential report (iam:GenerateCredentialReport, iam:GetCredentialReport)"
                    .to_owned(),
            source,
        })?;
    let assessment = crate::credentials::assess(&report, spec.as_ref(), api.now());
    if json {
        emit(&crate::credentials::json(&assessment))?;
    } else {
        emit(&crate::credentials::text(&assessment))?;
    }
    aws.print_stats(&api);
    Ok(if detailed_exitcode && assessment.breaks_rules() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// `iamspec apply SPEC`: plan, confirm, take the lock, plan again under it, apply, give it back.
async fn apply(path: &Path, common: &Common, yes: bool, run: Run) -> Result<ExitCode, Error> {
    let (spec, api) = open(path, common).await?;
    let session = Session::new(&api, &spec, common.reading(), &Console);
    let (plan, caller) = session.plan_quickly().await?;
    emit(&render::text(&plan, session.style()))?;
    if plan.is_empty() {
        common.aws.print_stats(&api);
        return Ok(ExitCode::SUCCESS);
    }
    let secrets = SecretsDir::new(common.secrets_dir.clone());
    session::check_before_apply(&plan, common.max_deletes, &secrets)?;
    if !yes {
        confirm(&format!(
            "\nApply these changes to account {}? Only 'y' or 'yes' applies. [y/N] ",
            plan.account
        ))?;
    }
    let mut stop = Stop::listen()?;
    let applied = session.apply(&plan, &caller, yes, run, &mut stop).await;
    common.aws.print_stats(&api);
    applied.map(ExitCode::from)
}

/// The key saved plans are sealed under, from `IAMSPEC_PLAN_KEY`, if it is set (and not empty).
fn plan_key() -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    std::env::var_os("IAMSPEC_PLAN_KEY")
        .map(OsStringExt::into_vec)
        .filter(|key| !key.is_empty())
}

/// `iamspec apply FILE`: check the saved plan against the spec and the account (under the
/// lock), then apply exactly its changes. Nothing is asked: the plan was reviewed when it was
/// made, and anything that changed since refuses it.
/// A saved plan was shaped by the flags `plan --out` had: giving them to apply is a mistake.
fn refuse_shaping_flags(common: &Common) -> Result<(), Error> {
    for (given, flag) in [
        (common.prune, "--prune"),
        (common.list_keys, "--list-keys"),
        (common.replace_lost_keys, "--replace-lost-keys"),
        (common.adopt_keys, "--adopt-keys"),
    ] {
        if given {
            return Err(Error::Usage(format!(
                "{flag} shapes a plan, so a saved plan has it or not already: give it to `iamspec plan --out`, not to apply"
            )));
        }
    }
    Ok(())
}

async fn apply_saved(file: &Path, common: &Common, run: Run) -> Result<ExitCode, Error> {
    refuse_shaping_flags(common)?;
    let saved = SavedPlan::read(file, plan_key().as_deref())?;
    let mut spec = load(&saved.spec.path)?;
    saved.check_spec(&spec)?;
    spec.prune |= saved.options.prune;
    spec.replace_lost_keys = saved.options.replace_lost_keys;
    spec.adopt_keys = saved.options.adopt_keys;
    let api = common.aws.connect().await?;
    let caller = live::read_caller(&api).await?;
    saved.check_account(&caller.account)?;
    if saved.is_empty() {
        emit(&format!(
            "The saved plan {} has no changes: nothing to do.\n",
            file.display()
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "Applying the plan saved in {} (made by {} at {}).",
        file.display(),
        saved.caller,
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(saved.made).unwrap_or(0))
        )
    );
    let reading = Reading {
        secrets_dir: &common.secrets_dir,
        list_keys: saved.options.list_keys,
    };
    let session = Session::new(&api, &spec, reading, &Console);
    let mut stop = Stop::listen()?;
    let applied = session.apply_saved(&saved, &caller, run, &mut stop).await;
    common.aws.print_stats(&api);
    applied.map(ExitCode::from)
}

/// The spec, checked, and a connection to its account: nothing is connected for an invalid
/// spec.
async fn open(path: &Path, common: &Common) -> Result<(Spec, AwsIam), Error> {
    let mut spec = load(path)?;
    common.shape(&mut spec);
    let api = common.aws.connect().await?;
    Ok((spec, api))
}

impl Common {
    /// What the flags decide of a plan: `--prune`, `--replace-lost-keys`, `--adopt-keys`.
    fn shape(&self, spec: &mut Spec) {
        spec.prune |= self.prune;
        spec.replace_lost_keys = self.replace_lost_keys;
        spec.adopt_keys = self.adopt_keys;
    }

    fn reading(&self) -> Reading<'_> {
        Reading {
            secrets_dir: &self.secrets_dir,
            list_keys: self.list_keys,
        }
    }

    /// What a saved plan must remember of how it was made.
    fn saved_options(&self) -> SavedOptions {
        SavedOptions {
            prune: self.prune,
            replace_lost_keys: self.replace_lost_keys,
            adopt_keys: self.adopt_keys,
            list_keys: self.list_keys,
        }
    }
}

/// Writes a file in one piece: the text goes to a temporary file beside it, which then takes
/// its name, so a reader never sees half a file and a failed write leaves none.
fn write_new_file(path: &Path, text: &str) -> Result<(), Error> {
    let failed = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.as_file().sync_all())
        .map_err(failed)?;
    file.persist(path).map_err(|err| failed(err.error))?;
    Ok(())
}

/// Writes an export into a directory that does not exist yet, so nothing is overwritten.
fn write_export(dir: &Path, export: &export::Export) -> Result<(), Error> {
    let failed = |source| Error::Write {
        path: dir.to_owned(),
        source,
    };
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    std::fs::create_dir(dir).map_err(|err| {
        if err.kind() == io::ErrorKind::AlreadyExists {
            failed(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "it exists already; choose another --out, or remove it",
            ))
        } else {
            failed(err)
        }
    })?;
    // Every file is new: one that exists already means two documents meant to share it, and
    // the export fails rather than write one over the other.
    let create = |path: &Path, text: &str| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        file.write_all(text.as_bytes())
    };
    create(&dir.join("spec.toml"), &export.spec).map_err(failed)?;
    for (relative, text) in &export.files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        create(&path, text).map_err(|source| Error::Write { path, source })?;
    }
    Ok(())
}

/// Loads the spec and shows its warnings and the linter's, which never stop anything; a
/// finding at level error does, before any call.
fn load(path: &Path) -> Result<Spec, Error> {
    let spec = load_spec(path)?;
    let (notes, errors) = session::spec_notes(&spec);
    for note in &notes {
        eprintln!("{note}");
    }
    if errors > 0 {
        return Err(Error::Lint { count: errors });
    }
    Ok(spec)
}

/// Asks `question`; only `y` or `yes` goes on.
fn confirm(question: &str) -> Result<(), Error> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::NotATerminal);
    }
    let mut out = io::stdout().lock();
    out.write_all(question.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::Output)?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).map_err(Error::Output)?;
    match answer.trim().to_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Error::Cancelled),
    }
}

/// Writes to standard output. A closed pipe (`iamspec plan | head`) is how a reader says it
/// has seen enough: the command goes on, and exits with its own code.
fn emit(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(Error::Output(err)),
        _ => Ok(()),
    }
}

/// `AWS_ENDPOINT_URL`, checked as `--endpoint-url` is. The AWS SDK reads the endpoint
/// variables itself and panics on an empty one, so every `AWS_ENDPOINT_URL*` that is set must
/// hold something.
fn endpoint_from_environment() -> Result<Option<String>, Error> {
    let mut endpoint = None;
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().filter(|n| n.starts_with("AWS_ENDPOINT_URL")) else {
            continue;
        };
        let value = value.to_string_lossy();
        let checked = if value.is_empty() {
            Err("it is set but empty: unset it, or give it a URL".to_owned())
        } else {
            parse_endpoint_url(&value)
        };
        match checked {
            Ok(url) if name == "AWS_ENDPOINT_URL" => endpoint = Some(url),
            Ok(_) => {}
            Err(why) => {
                return Err(Error::Environment(format!(
                    "the environment variable {name}: {why}"
                )));
            }
        }
    }
    Ok(endpoint)
}

/// A duration: a number of seconds, or with units (`90s`, `10m`, `2h`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|err| {
        format!("{err}: a duration is seconds, or a number with a unit, like 30s, 10m or 2h")
    })
}

fn parse_kind(text: &str) -> Result<crate::lint::Kind, String> {
    crate::lint::Kind::parse(text)
        .ok_or_else(|| "a type is identity, resource, trust, boundary or scp".to_owned())
}

fn parse_region(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(text.to_owned())
    } else {
        Err("a region is lowercase letters, digits and dashes, like us-east-1".to_owned())
    }
}

fn parse_scope(text: &str) -> Result<String, String> {
    spec::check_spec_path(text).map(|()| text.to_owned())
}

fn parse_endpoint_url(text: &str) -> Result<String, String> {
    let host = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .unwrap_or_default();
    if host.is_empty() || host.starts_with('/') {
        Err("an endpoint is an http:// or https:// URL, like http://127.0.0.1:5000".to_owned())
    } else {
        Ok(text.to_owned())
    }
}
