//! How the SDK's failures become `ApiError`s, and which of them are worth another try.

use std::error::Error as StdError;

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::config::interceptors::InterceptorContext;
use aws_sdk_iam::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::retries::classifiers::RetryClassifierPriority;

use crate::live::{ApiError, ErrorKind};

/// Stops the SDK from retrying a connection that cannot succeed: a name that does not resolve,
/// or a local endpoint that refuses connections (nothing listens there). Retrying those only
/// makes the user wait for the same error.
#[derive(Debug, Clone, Copy)]
pub(super) struct HopelessConnections {
    /// The endpoint is on this machine: a refused connection means nothing listens.
    pub(super) local: bool,
}

impl ClassifyRetry for HopelessConnections {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(err)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        if ctx
            .response()
            .is_some_and(|r| unimplemented(r.status().as_u16(), r.body().bytes()))
        {
            return RetryAction::RetryForbidden;
        }
        match err.as_connector_error().and_then(|e| hopeless(e)) {
            Some(Hopeless::Unresolved) => RetryAction::RetryForbidden,
            Some(Hopeless::Refused) if self.local => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "iamspec: hopeless connections"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Whether an answer says the endpoint lacks the operation: HTTP 501, an error code saying
/// so, or a server error that is a web page rather than an AWS error (AWS never answers one;
/// the local endpoint does for what it does not implement). Another try only repeats it.
pub(super) fn unimplemented(status: u16, body: Option<&[u8]>) -> bool {
    let body = body.map(String::from_utf8_lossy).unwrap_or_default();
    let start = body
        .trim_start()
        .get(..15)
        .unwrap_or_default()
        .to_ascii_lowercase();
    status == 501
        || (status >= 500 && body.contains("NotImplemented"))
        || (status == 500 && (start.starts_with("<!doctype html") || start.starts_with("<html")))
}

/// A connection that could not be made, in a way that another try will only repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hopeless {
    /// DNS cannot resolve the endpoint's name.
    Unresolved,
    /// Nothing listens there.
    Refused,
}

/// Whether `err` says the connection could not be made at all, and how.
pub(super) fn hopeless(err: &(dyn StdError + 'static)) -> Option<Hopeless> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return Some(Hopeless::Refused);
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return Some(Hopeless::Unresolved);
        }
        current = e.source();
    }
    None
}

pub(super) fn is_loopback(uri: &str) -> bool {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .unwrap_or_default()
            .trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[allow(clippy::needless_pass_by_value)] // it is handed over by `map_err(classify)`
pub(super) fn classify<E>(err: SdkError<E, HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().map(str::to_owned);
            let message = service.err().message().unwrap_or_default().to_owned();
            let status = service.raw().status().as_u16();
            if unimplemented(status, service.raw().body().bytes())
                || code
                    .as_deref()
                    .is_some_and(|c| c.starts_with("NotImplemented"))
            {
                return ApiError::new(
                    ErrorKind::Other,
                    Some("NotImplemented".to_owned()),
                    format!(
                        "the endpoint does not implement this operation (it answered HTTP {status}{}): use an endpoint that has it, or leave out what needs it",
                        code.map(|c| format!(" {c}")).unwrap_or_default()
                    ),
                );
            }
            let kind = match code.as_deref() {
                Some("NoSuchEntity" | "ResourceNotFoundException") => ErrorKind::NoSuchEntity,
                Some("EntityAlreadyExists") => ErrorKind::AlreadyExists,
                Some(
                    "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "TooManyRequestsException"
                    | "RequestThrottled",
                ) => ErrorKind::Throttled,
                Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") => {
                    ErrorKind::AccessDenied
                }
                Some("LimitExceeded") => ErrorKind::LimitExceeded,
                Some(
                    "InvalidClientTokenId"
                    | "SignatureDoesNotMatch"
                    | "ExpiredToken"
                    | "ExpiredTokenException"
                    | "UnrecognizedClientException",
                ) => ErrorKind::Credentials,
                Some("ServiceFailure" | "ServiceUnavailable" | "InternalFailure") => {
                    ErrorKind::Transient
                }
                _ if status >= 500 => ErrorKind::Transient,
                _ => ErrorKind::Other,
            };
            let message = if code.is_none() && message.is_empty() {
                format!("the endpoint answered HTTP {status} with no AWS error")
            } else {
                message
            };
            ApiError::new(kind, code, message)
        }
        SdkError::DispatchFailure(failure) => {
            // A connection that broke on the way (closed before the answer, reset) is worth
            // another try; one that cannot be made at all is not, nor is a request that could
            // not be built.
            let kind = if failure.is_user() {
                ErrorKind::Other
            } else if hopeless(&err).is_some() {
                ErrorKind::Unreachable
            } else {
                ErrorKind::Transient
            };
            ApiError::new(
                kind,
                None,
                format!("could not reach the AWS endpoint: {}", innermost(&err)),
            )
        }
        SdkError::TimeoutError(_) => {
            ApiError::new(ErrorKind::Transient, None, "the call timed out")
        }
        SdkError::ResponseError(_) => ApiError::new(
            ErrorKind::Transient,
            None,
            format!(
                "the endpoint's answer could not be read: {}",
                innermost(&err)
            ),
        ),
        _ => ApiError::new(ErrorKind::Other, None, innermost(&err)),
    }
}

/// `classify`, naming the operation when the endpoint does not implement it.
pub(super) fn classify_call<E>(err: SdkError<E, HttpResponse>, operation: &str) -> ApiError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let mut err = classify(err);
    if err.code.as_deref() == Some("NotImplemented") {
        err.message = err.message.replacen(
            "does not implement this operation",
            &format!("does not implement {operation}"),
            1,
        );
    }
    err
}

/// The last error of a chain: the one that says what actually went wrong.
/// An AWS error met on the way (a refused assume, say) is said as its code and message, never
/// as the SDK's debug form.
pub(super) fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut current = err;
    loop {
        if let Some(meta) = current.downcast_ref::<aws_smithy_types::error::ErrorMetadata>() {
            return match (meta.code(), meta.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                (None, Some(message)) => message.to_owned(),
                (None, None) => "an AWS error without a code or message".to_owned(),
            };
        }
        match current.source() {
            Some(next) => current = next,
            None => return current.to_string(),
        }
    }
}
