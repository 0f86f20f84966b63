//! Matching as IAM matches: wildcards (`*` any run, `?` one character), actions without
//! regard to case, ARNs with it and segment by segment, and policy variables filled in from
//! the request, what they bring in taken literally.

use super::Context;

/// One piece of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`: any run of characters.
    Any,
    /// `?`: any one character.
    One,
}

/// A pattern of an element or a condition, its variables filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(Vec<Token>);

impl Pattern {
    /// The pattern `text`; with a context, its policy variables filled in (`${aws:username}`,
    /// `${aws:PrincipalTag/team, 'none'}`, the escapes `${*}`, `${?}`, `${$}`). `None` when a
    /// variable names a key the request lacks and gives no default, or one of several values:
    /// such a pattern matches nothing. Without a context (a document older than 2012-10-17),
    /// `${...}` is text like any other.
    pub fn new(text: &str, context: Option<&Context>) -> Option<Self> {
        let mut tokens = Vec::with_capacity(text.len());
        let mut rest = text;
        while !rest.is_empty() {
            if let (Some(context), Some(after)) = (context, rest.strip_prefix("${"))
                && let Some(end) = after.find('}')
            {
                let inner = after[..end].trim();
                match inner {
                    "*" | "?" | "$" => tokens.extend(inner.chars().map(Token::Literal)),
                    _ => tokens.extend(variable(inner, context)?.chars().map(Token::Literal)),
                }
                rest = &after[end + 1..];
                continue;
            }
            let c = rest.chars().next().expect("not empty");
            tokens.push(match c {
                '*' => Token::Any,
                '?' => Token::One,
                c => Token::Literal(c),
            });
            rest = &rest[c.len_utf8()..];
        }
        Some(Self(tokens))
    }

    /// Whether `text` matches the whole pattern; with `fold`, regardless of case.
    pub fn matches(&self, text: &str, fold: bool) -> bool {
        let text: Vec<char> = if fold {
            text.to_lowercase().chars().collect()
        } else {
            text.chars().collect()
        };
        let tokens: Vec<Token> = if fold {
            self.0
                .iter()
                .map(|t| match t {
                    Token::Literal(c) => Token::Literal(c.to_lowercase().next().unwrap_or(*c)),
                    other => *other,
                })
                .collect()
        } else {
            self.0.clone()
        };
        glob(&tokens, &text)
    }

    /// Whether an ARN matches, as `ArnLike` and the `Resource` element compare: each of the
    /// first five segments on its own, the resource as the rest; `*` alone matches anything.
    pub fn matches_arn(&self, arn: &str) -> bool {
        if self.0 == [Token::Any] {
            return true;
        }
        let segments = split(&self.0);
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        match (segments.len() == 6, parts.len() == 6) {
            (true, true) => {}
            // Neither is an ARN (an S3 key alone, say): one pattern over the whole text.
            (false, false) => return self.matches(arn, false),
            // An ARN and a pattern of another number of segments never match.
            _ => return false,
        }
        segments.iter().zip(&parts).all(|(pattern, part)| {
            let text: Vec<char> = part.chars().collect();
            glob(pattern, &text)
        })
    }

    /// The pattern as text, for what matches it exactly (`StringEquals`).
    pub fn literal(&self) -> String {
        self.0
            .iter()
            .map(|t| match t {
                Token::Literal(c) => *c,
                Token::Any => '*',
                Token::One => '?',
            })
            .collect()
    }
}

/// The first five `:`-separated segments of a pattern, and the rest as the sixth.
fn split(tokens: &[Token]) -> Vec<&[Token]> {
    let mut segments = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if segments.len() == 5 {
            break;
        }
        if *t == Token::Literal(':') {
            segments.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    segments.push(&tokens[start..]);
    segments
}

/// The value of `${key}` or `${key, 'default'}`.
fn variable(inner: &str, context: &Context) -> Option<String> {
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => (key.trim(), Some(default.trim().trim_matches('\''))),
        None => (inner, None),
    };
    match (context.values(key), default) {
        (Some([one]), _) => Some(one.clone()),
        (None | Some([]), Some(default)) => Some(default.to_owned()),
        _ => None,
    }
}

fn glob(pattern: &[Token], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::One) => {
                p += 1;
                t += 1;
            }
            Some(Token::Literal(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(Token::Any) => {
                star = Some(p);
                mark = t;
                p += 1;
            }
            _ => match star {
                Some(s) => {
                    p = s + 1;
                    mark += 1;
                    t = mark;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|t| *t == Token::Any)
}
