//! An organization's account as one spec: the layers of every target that selects it, with
//! `${account.id}`, `${account.name}` and `${partition}` filled in, merged and validated as
//! one spec.
//!
//! Each layer is parsed at its own place in one range of offsets (after the organization
//! file's), so that every error of the merge still names the file, line and column to fix.
//! The merge is a union: a layer may name a group another layer declares, but the same
//! entity, add-on or `[account]` setting declared twice is an error naming both places.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::raw::{self, RawAccount, RawSpec, Spanned};
use super::validate::{self, SPEC_VERSION};
use super::{Diagnostic, Segment, Source, Spec, SpecError, files};

/// The variables a layer may use.
pub const VARIABLES: [&str; 3] = ["${account.id}", "${account.name}", "${partition}"];

/// What a layer's variables stand for in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variables {
    pub account_id: String,
    /// `None` when AWS Organizations could not be read: a text that uses the name is refused.
    pub account_name: Option<String>,
    pub partition: String,
}

/// What no filled-in value may hold: IAM's wildcards and policy-variable syntax (an account
/// named `*` would turn `repo:acme/${account.name}` into every repository), quotes and
/// backslashes (they end or escape a TOML or JSON string), and the separators of ARNs and
/// paths (`:`, `/`). Control characters are refused too.
const UNSAFE_IN_VALUES: &[char] = &['*', '?', '$', '{', '}', '"', '\'', '\\', ':', '/'];

/// The escape for text that must stay as written: `$${account.id}` is the text
/// `${account.id}`, not the account's id (export writes live text this way).
const ESCAPE: char = '$';

impl Variables {
    /// Stand-ins for checking a layer before the accounts are known.
    pub fn placeholder() -> Self {
        Self {
            account_id: "000000000000".to_owned(),
            account_name: Some("account".to_owned()),
            partition: "aws".to_owned(),
        }
    }

    /// `text` with every variable filled in, and where the text moved (see `Segment`).
    /// IAM's own policy variables (`${aws:username}`) are left as they are; an unknown
    /// `${account.…}` is an error, as is a value that would change the meaning of the text
    /// around it (an account name with a quote or a `*`, say). `$${account.id}` is the text
    /// `${account.id}` itself.
    pub fn fill<'t>(&self, text: &'t str) -> Result<Filled<'t>, String> {
        if !text.contains("${") {
            return Ok((Cow::Borrowed(text), Vec::new()));
        }
        let mut filled = String::with_capacity(text.len());
        let mut shifts = Vec::new();
        let mut shift = 0isize;
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let after = &rest[start..];
            let Some(end) = after.find('}') else {
                filled.push_str(rest);
                rest = "";
                break;
            };
            let variable = &after[..=end];
            let ours = VARIABLES.contains(&variable);
            if ours && rest[..start].ends_with(ESCAPE) {
                // Escaped: the variable's own text, one `$` less.
                filled.push_str(&rest[..start - 1]);
                filled.push_str(variable);
                shift -= 1;
                shifts.push((filled.len(), shift));
                rest = &after[variable.len()..];
                continue;
            }
            filled.push_str(&rest[..start]);
            let value = match variable {
                "${account.id}" => Some(self.account_id.as_str()),
                "${account.name}" => Some(self.account_name.as_deref().ok_or_else(|| {
                    "${account.name} is used, but the account's name is not known: AWS Organizations could not be read (run iamspec where it can be, from the management account or a delegated administrator), or use ${account.id}".to_owned()
                })?),
                "${partition}" => Some(self.partition.as_str()),
                other if other.starts_with("${account.") || other.starts_with("${partition") => {
                    let hint = super::did_you_mean(other, VARIABLES.iter().copied());
                    return Err(format!(
                        "`{other}` is no variable{hint} (a layer has {})",
                        VARIABLES.join(", ")
                    ));
                }
                _ => None,
            };
            match value {
                Some(value) => {
                    if let Some(bad) = value
                        .chars()
                        .find(|c| UNSAFE_IN_VALUES.contains(c) || c.is_control())
                    {
                        return Err(format!(
                            "{variable} is `{}`, which holds {bad:?}: filled in, it would change what the text says (a wildcard, a policy variable, a quote or a separator widens or breaks a policy, trust or name); the account is refused. Rename the account, or use ${{account.id}}",
                            crate::render::untrusted(value)
                        ));
                    }
                    filled.push_str(value);
                    shift += value.len().cast_signed() - variable.len().cast_signed();
                    shifts.push((filled.len(), shift));
                }
                None => filled.push_str(variable),
            }
            rest = &after[variable.len()..];
        }
        filled.push_str(rest);
        Ok((Cow::Owned(filled), shifts))
    }
}

/// A text with its variables filled in, and where it moved: after each offset of the filled
/// text, how much longer it is than the written one.
pub type Filled<'t> = (Cow<'t, str>, Vec<(usize, isize)>);

/// A layer's file, read once: its path as the organization file names it, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub path: PathBuf,
    pub text: String,
}

impl Layer {
    /// Reads a layer named in `dir`'s organization file; it must lie inside `dir`.
    pub fn read(dir: &Path, relative: &str) -> Result<Self, String> {
        let (path, resolved) = files::confine(dir, relative).map_err(|err| err.to_string())?;
        let text =
            files::read_text(&resolved, super::MAX_SPEC_BYTES).map_err(|err| err.to_string())?;
        Ok(Self { path, text })
    }

    /// Whether the layer's text names a variable (for deciding what must be known first).
    pub fn uses(&self, variable: &str) -> bool {
        self.text.contains(variable)
    }
}

/// `text` written so that a layer loads it back as the same text: each of the layers'
/// variables in it is escaped (`${account.id}` -> `$${account.id}`). For export, whose text
/// comes from AWS as it is.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !VARIABLES.iter().any(|v| text.contains(v)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = text.to_owned();
    for variable in VARIABLES {
        escaped = escaped.replace(variable, &format!("{ESCAPE}{variable}"));
    }
    std::borrow::Cow::Owned(escaped)
}

/// The organization file's own part in a merge: its text (locations of `owner` point into
/// it) and `[organization] owner`, as a span of that text.
pub struct Base<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub owner: Option<&'a Spanned<String>>,
}

/// Checks one layer alone, before any account is known: its TOML, its keys, its variables,
/// and that it sets no `[account] id`. References to other layers are checked by the merge.
pub fn check(layer: &Layer) -> Vec<Diagnostic> {
    let variables = Variables::placeholder();
    match parse_layer(layer, &variables, 0, 1) {
        Ok((segment, spec)) => {
            let mut problems = Vec::new();
            own_checks(&spec, &segment, &mut problems);
            problems
        }
        Err(problems) => problems,
    }
}

/// The spec of one account: its layers, in order, merged and validated as one spec.
pub fn merge(base: &Base<'_>, layers: &[&Layer], variables: &Variables) -> Result<Spec, SpecError> {
    let mut segments = vec![Segment::new(base.text, base.file)];
    let mut parsed = Vec::new();
    let mut problems = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let at = Source::next_base(&segments);
        let id = u16::try_from(i + 1).unwrap_or(u16::MAX);
        match parse_layer(layer, variables, at, id) {
            Ok((segment, spec)) => {
                own_checks(&spec, &segment, &mut problems);
                segments.push(segment);
                parsed.push(spec);
            }
            Err(mut found) => problems.append(&mut found),
        }
    }
    if !problems.is_empty() {
        return Err(SpecError::Invalid(problems));
    }
    let source = Source::layered(base.file, segments, variables);
    let mut merged = RawSpec::default();
    for layer in parsed {
        union(&mut merged, layer, &source, &mut problems);
    }
    if let Some(owner) = base.owner {
        let account = merged.account.get_or_insert_with(RawAccount::default);
        match &account.owner {
            Some(set) if set.get_ref() != owner.get_ref() => problems.push(source.diagnostic(
                set.span().start,
                format!(
                    "owner `{}` differs from the organization's owner `{}` ({}): a layer of an organization takes its owner",
                    set.get_ref(),
                    owner.get_ref(),
                    place(&source, owner.span().start)
                ),
            )),
            _ => account.owner = Some(owner.clone()),
        }
    }
    if !problems.is_empty() {
        return Err(SpecError::Invalid(problems));
    }
    validate::validate(&merged, &source).map_err(SpecError::Invalid)
}

/// Parses a layer's text, its variables filled in, at offset `at`.
fn parse_layer<'l>(
    layer: &'l Layer,
    variables: &Variables,
    at: usize,
    id: u16,
) -> Result<(Segment<'l>, RawSpec), Vec<Diagnostic>> {
    let (text, shifts) = variables.fill(&layer.text).map_err(|why| {
        let offset = first_variable_problem(&layer.text, variables);
        let segment = Segment::new(&layer.text, &layer.path);
        vec![segment.diagnostic(offset, why)]
    })?;
    let mut segment = Segment::filled(&layer.text, text, shifts, &layer.path);
    segment.place(at, id);
    match raw::parse_at::<RawSpec>(segment.text(), at) {
        Ok(spec) => Ok((segment, spec)),
        Err(err) => Err(vec![segment.toml_diagnostic(&err)]),
    }
}

/// Where the first variable that cannot be filled in is, for the error's location.
fn first_variable_problem(text: &str, variables: &Variables) -> usize {
    let mut offset = 0;
    while let Some(start) = text[offset..].find("${") {
        let start = offset + start;
        let end = text[start..]
            .find('}')
            .map_or(text.len(), |e| start + e + 1);
        if variables.fill(&text[start..end]).is_err() {
            return start;
        }
        offset = end;
    }
    0
}

/// What each layer must say itself (its `version`), and what it may not say: `[account] id`
/// (the organization file says where layers go).
fn own_checks(spec: &RawSpec, segment: &Segment<'_>, problems: &mut Vec<Diagnostic>) {
    match &spec.version {
        None => problems.push(segment.diagnostic(
            0,
            format!("the layer has no `version`: add `version = {SPEC_VERSION}` at the top"),
        )),
        Some(v) if *v.get_ref() != SPEC_VERSION => problems.push(segment.diagnostic(
            v.span().start - segment.base(),
            format!(
                "unsupported spec version {}: this iamspec reads version {SPEC_VERSION}",
                v.get_ref()
            ),
        )),
        Some(_) => {}
    }
    if let Some(id) = spec.account.as_ref().and_then(|a| a.id.as_ref()) {
        problems.push(segment.diagnostic(
            id.span().start - segment.base(),
            "a layer cannot set `[account] id`: the organization file's targets say which accounts it goes to",
        ));
    }
}

fn place(source: &Source<'_>, offset: usize) -> String {
    let d = source.diagnostic(offset, "");
    format!("{}:{}:{}", d.file.display(), d.at.line, d.at.column)
}

/// Adds a layer to the merge; whatever both declare is an error naming both places.
fn union(into: &mut RawSpec, from: RawSpec, source: &Source<'_>, problems: &mut Vec<Diagnostic>) {
    // Each layer's own version is checked (`own_checks`); the merge keeps the first.
    if into.version.is_none() {
        into.version = from.version;
    }
    entities(
        &mut into.policies,
        from.policies,
        "policy",
        source,
        problems,
    );
    entities(&mut into.addons, from.addons, "add-on", source, problems);
    entities(&mut into.groups, from.groups, "group", source, problems);
    entities(&mut into.users, from.users, "user", source, problems);
    entities(&mut into.roles, from.roles, "role", source, problems);
    entities(
        &mut into.oidc_providers,
        from.oidc_providers,
        "OIDC provider",
        source,
        problems,
    );
    if let Some(account) = from.account {
        let merged = into.account.get_or_insert_with(RawAccount::default);
        merged.prune |= account.prune;
        setting(&mut merged.id, account.id, "id", source, problems);
        setting(&mut merged.owner, account.owner, "owner", source, problems);
        setting(&mut merged.scope, account.scope, "scope", source, problems);
        setting(&mut merged.alias, account.alias, "alias", source, problems);
        setting(
            &mut merged.disable_unused,
            account.disable_unused,
            "disable_unused",
            source,
            problems,
        );
        setting(
            &mut merged.password_policy,
            account.password_policy,
            "password_policy",
            source,
            problems,
        );
    }
    if let Some(lint) = from.lint {
        let merged = into.lint.get_or_insert_with(raw::RawLint::default);
        for (code, level) in lint.levels {
            match merged.levels.get_key_value(code.get_ref().as_str()) {
                Some((first, set)) if set.get_ref() != level.get_ref() => {
                    problems.push(source.diagnostic(
                        code.span().start,
                        format!(
                            "the level of {} is set twice, differently: here and at {}",
                            code.get_ref(),
                            place(source, first.span().start)
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    merged.levels.insert(code, level);
                }
            }
        }
        merged.exceptions.extend(lint.exceptions);
    }
    into.checks.extend(from.checks);
}

fn entities<T>(
    into: &mut BTreeMap<Spanned<String>, T>,
    from: BTreeMap<Spanned<String>, T>,
    kind: &str,
    source: &Source<'_>,
    problems: &mut Vec<Diagnostic>,
) {
    for (name, entity) in from {
        if let Some((first, _)) = into.get_key_value(name.get_ref().as_str()) {
            problems.push(source.diagnostic(
                name.span().start,
                format!(
                    "{kind} `{}` is declared twice: here and at {}; declare it in one layer",
                    name.get_ref(),
                    place(source, first.span().start)
                ),
            ));
        } else {
            into.insert(name, entity);
        }
    }
}

fn setting<T>(
    into: &mut Option<Spanned<T>>,
    from: Option<Spanned<T>>,
    key: &str,
    source: &Source<'_>,
    problems: &mut Vec<Diagnostic>,
) {
    let Some(from) = from else {
        return;
    };
    match into {
        Some(first) => problems.push(source.diagnostic(
            from.span().start,
            format!(
                "`[account] {key}` is set by two layers: here and at {}; set it in one",
                place(source, first.span().start)
            ),
        )),
        None => *into = Some(from),
    }
}

#[cfg(test)]
mod tests;
