//! A loopback HTTP proxy in front of the local endpoint. It records the API action of every
//! request (an independent count of what iamspec really sent), and can behave like a real,
//! unreliable IAM: latency, throttling, server errors, dropped connections, answers lost after
//! the call took effect, and entities that are not visible yet right after their creation.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Read-only IAM and STS actions; everything else changes the account.
const READ_PREFIXES: &[&str] = &["Get", "List", "Simulate", "Generate"];

type BoxError = Box<dyn StdError + Send + Sync>;

pub struct Proxy {
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// How the proxy treats each request.
#[derive(Clone, Copy, Default)]
pub struct Behaviour {
    /// Added before each request is forwarded, like the distance to a real endpoint.
    pub latency: Duration,
    /// Added after IAM has answered, before the answer is passed on: a window in which the
    /// call has taken effect but the caller does not know it yet.
    pub answer_delay: Duration,
    /// Answer every call of this action with IAM's `AccessDenied`, as a caller without the
    /// permission would get.
    pub deny: Option<&'static str>,
    /// The share of calls (0.0 to 1.0) that meet a fault, chosen at random among: Throttling,
    /// HTTP 500, HTTP 503, a connection dropped before the call, and one dropped after it took
    /// effect. STS calls are spared: they are not IAM's.
    pub fault_rate: f64,
    /// For this long after a user, group or policy is created, calls that name it answer
    /// `NoSuchEntity`, as IAM does while a change spreads.
    pub invisible_for: Duration,
    /// Makes the random choices repeatable.
    pub seed: u64,
    /// Refuse `sts:AssumeRole` into a role whose ARN holds this text (an account id, say),
    /// as STS does when the role's trust policy does not let the caller in.
    pub refuse_assume: Option<&'static str>,
    /// Stand in for what moto's sso-admin lacks, as AWS behaves: a permission set's boundary
    /// read (none), its tags (from `CreatePermissionSet`, `TagResource`, read by
    /// `ListTagsForResource`), and where it is provisioned and out of date (an assignment
    /// provisions its account; an edit of the permission set leaves every provisioned account
    /// out of date until `ProvisionPermissionSet`; `ListAccountsForProvisionedPermissionSet`
    /// with `LATEST_PERMISSION_SET_NOT_PROVISIONED` lists those). moto answers the first two
    /// with HTTP 500 and ignores the filter.
    pub center_gaps: bool,
    /// Answer calls of this action with HTTP 501 `NotImplemented`, as an endpoint that lacks
    /// the operation does.
    pub not_implemented: Option<&'static str>,
    /// Never answer a call of this action (the connection stays open, silent): an endpoint
    /// that hangs for one service.
    pub hang: Option<&'static str>,
}

/// What the proxy has seen and decided.
struct State {
    actions: Vec<String>,
    /// Each call's form parameters, in order.
    params: Vec<BTreeMap<String, String>>,
    faults: BTreeMap<&'static str, usize>,
    created: BTreeMap<String, Instant>,
    rng: StdRng,
    /// `center_gaps`: each permission set's tags, accounts provisioned and out of date.
    set_tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Denied from now on, beside `Behaviour::deny` (`Proxy::deny`).
    denied: Option<String>,
    /// The answer of this action held back this long after it took effect (`Proxy::slow`).
    slow: Option<(String, Duration)>,
    provisioned: BTreeMap<String, std::collections::BTreeSet<String>>,
    outdated: BTreeMap<String, std::collections::BTreeSet<String>>,
}

/// The faults a call can meet.
#[derive(Clone, Copy)]
enum Fault {
    Throttling,
    ServerError,
    Unavailable,
    DropBefore,
    DropAfter,
    /// Not a random fault: the entity was created a moment ago.
    Invisible,
}

impl Fault {
    const ALL: [Fault; 5] = [
        Fault::Throttling,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::DropBefore,
        Fault::DropAfter,
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::Throttling => "Throttling",
            Fault::ServerError => "HTTP 500",
            Fault::Unavailable => "HTTP 503",
            Fault::DropBefore => "dropped before",
            Fault::DropAfter => "dropped after",
            Fault::Invisible => "NoSuchEntity",
        }
    }
}

impl Proxy {
    /// Starts a proxy to `upstream` on a free loopback port, on a thread of its own so that
    /// tests can block on the binary while it serves.
    pub fn start(upstream: &str) -> Self {
        Self::with(upstream, Behaviour::default())
    }

    /// Starts a proxy that behaves as `behaviour` says.
    pub fn with(upstream: &str, behaviour: Behaviour) -> Self {
        let upstream = upstream.trim_end_matches('/').to_owned();
        let state = Arc::new(Mutex::new(State {
            actions: Vec::new(),
            params: Vec::new(),
            faults: BTreeMap::new(),
            created: BTreeMap::new(),
            rng: StdRng::seed_from_u64(behaviour.seed),
            set_tags: BTreeMap::new(),
            denied: None,
            slow: None,
            provisioned: BTreeMap::new(),
            outdated: BTreeMap::new(),
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr: SocketAddr = listener.local_addr().expect("proxy address");
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(serve(listener, upstream, shared, behaviour));
        });
        Self {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// The form parameters of every call of `action` seen, in order.
    pub fn params(&self, action: &str) -> Vec<BTreeMap<String, String>> {
        let state = self.state.lock().unwrap();
        state
            .params
            .iter()
            .filter(|p| p.get("Action").map(String::as_str) == Some(action))
            .cloned()
            .collect()
    }

    /// Every action seen, in order, faulted or not.
    pub fn actions(&self) -> Vec<String> {
        self.state.lock().unwrap().actions.clone()
    }

    /// The actions that change the account.
    pub fn mutating(&self) -> Vec<String> {
        self.actions()
            .into_iter()
            .filter(|a| !READ_PREFIXES.iter().any(|p| a.starts_with(p)))
            .collect()
    }

    /// How many calls met each kind of fault.
    pub fn faults(&self) -> BTreeMap<&'static str, usize> {
        self.state.lock().unwrap().faults.clone()
    }

    /// Answers every call of `action` with `AccessDenied` from now on (`None`: none).
    pub fn deny(&self, action: Option<&str>) {
        self.state.lock().unwrap().denied = action.map(str::to_owned);
    }

    /// From now on, holds back the answer of every call of `action` for `delay` after the
    /// call took effect (`None`: none): a window in which to send a signal.
    pub fn slow(&self, slow: Option<(&str, Duration)>) {
        self.state.lock().unwrap().slow = slow.map(|(a, d)| (a.to_owned(), d));
    }

    pub fn clear(&self) {
        let mut state = self.state.lock().unwrap();
        state.actions.clear();
        state.params.clear();
    }
}

async fn serve(
    listener: std::net::TcpListener,
    upstream: String,
    state: Arc<Mutex<State>>,
    behaviour: Behaviour,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let client = client.clone();
        let upstream = upstream.clone();
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                forward(
                    request,
                    client.clone(),
                    upstream.clone(),
                    Arc::clone(&state),
                    behaviour,
                )
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn forward(
    request: Request<Incoming>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: String,
    state: Arc<Mutex<State>>,
    behaviour: Behaviour,
) -> Result<Response<Full<Bytes>>, BoxError> {
    tokio::time::sleep(behaviour.latency).await;
    let (mut parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let params = form(&body);
    // The query protocol names the action in the body; JSON protocols (Organizations) in
    // the target header, `AWSOrganizationsV20161128.ListAccounts`.
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .map(str::to_owned);
    let action = params.get("Action").cloned().or(target).unwrap_or_default();
    if action == "AssumeRole"
        && let Some(refused) = behaviour.refuse_assume
        && params
            .get("RoleArn")
            .is_some_and(|arn| arn.contains(refused))
    {
        state.lock().unwrap().actions.push(action);
        let message = "User is not authorized to perform: sts:AssumeRole on this role";
        return Ok(iam_error(403, "Sender", "AccessDenied", message));
    }
    if behaviour.hang == Some(action.as_str()) {
        state.lock().unwrap().actions.push(action.clone());
        tokio::time::sleep(Duration::from_hours(1)).await;
    }
    let json_protocol = parts.headers.contains_key("x-amz-target");
    let request: serde_json::Value = if json_protocol {
        serde_json::from_slice(&body).unwrap_or_default()
    } else {
        serde_json::Value::Null
    };
    if behaviour.not_implemented == Some(action.as_str()) {
        state.lock().unwrap().actions.push(action.clone());
        let message = format!("The operation {action} is not implemented.");
        return Ok(json_error(501, "NotImplemented", &message));
    }
    if behaviour.center_gaps
        && let Some(answer) = center_answer(&state, &action, &request)
    {
        state.lock().unwrap().actions.push(action);
        return Ok(answer);
    }
    let fault = decide(&state, &behaviour, &action, &params);
    let denied = state.lock().unwrap().denied.as_deref() == Some(action.as_str());
    if let Some(answer) = fault_answer(fault, &behaviour, &action, json_protocol, denied)? {
        return Ok(answer);
    }

    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{upstream}{path}").parse().expect("upstream URI");
    let answer = match client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
    {
        Ok(answer) => answer,
        Err(err) => {
            return Ok(Response::builder()
                .status(502)
                .body(Full::new(Bytes::from(format!("proxy: {err}"))))
                .expect("a 502"));
        }
    };
    let (parts, body) = answer.into_parts();
    let body = body.collect().await?.to_bytes();
    if behaviour.center_gaps && parts.status.is_success() {
        center_record(&state, &action, &request, &body);
    }
    if parts.status.is_success() && action.starts_with("Create") {
        let name = ["UserName", "GroupName", "PolicyName"]
            .iter()
            .find_map(|k| params.get(*k));
        if let (Some(name), false) = (name, action == "CreateAccessKey") {
            state
                .lock()
                .unwrap()
                .created
                .insert(name.clone(), Instant::now());
        }
    }
    tokio::time::sleep(behaviour.answer_delay).await;
    let slow = state.lock().unwrap().slow.clone();
    if let Some((slowed, delay)) = slow
        && slowed == action
    {
        tokio::time::sleep(delay).await;
    }
    if matches!(fault, Some(Fault::DropAfter)) {
        return Err("the proxy dropped the connection after the call took effect".into());
    }
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// Records the call and picks its fault, if it meets one.
fn decide(
    state: &Mutex<State>,
    behaviour: &Behaviour,
    action: &str,
    params: &BTreeMap<String, String>,
) -> Option<Fault> {
    let mut state = state.lock().unwrap();
    state.actions.push(action.to_owned());
    state.params.push(params.clone());
    let sts = action == "GetCallerIdentity" || action == "AssumeRole";
    if sts || behaviour.fault_rate <= 0.0 {
        return None;
    }
    if state.rng.random_bool(behaviour.fault_rate.min(1.0)) {
        let fault = Fault::ALL[state.rng.random_range(0..Fault::ALL.len())];
        *state.faults.entry(fault.name()).or_default() += 1;
        return Some(fault);
    }
    if !action.starts_with("Create") && !behaviour.invisible_for.is_zero() {
        let named = ["UserName", "GroupName"]
            .iter()
            .filter_map(|k| params.get(*k));
        let policy = params
            .get("PolicyArn")
            .and_then(|arn| arn.rsplit('/').next().map(str::to_owned));
        let mut mentioned = named.cloned().chain(policy);
        let invisible = mentioned.any(|name| {
            state
                .created
                .get(&name)
                .is_some_and(|at| at.elapsed() < behaviour.invisible_for)
        });
        if invisible {
            *state.faults.entry("NoSuchEntity").or_default() += 1;
            return Some(Fault::Invisible);
        }
    }
    None
}

/// What the proxy answers itself for sso-admin calls moto lacks (`center_gaps`).
fn center_answer(
    state: &Mutex<State>,
    action: &str,
    request: &serde_json::Value,
) -> Option<Response<Full<Bytes>>> {
    let arn = |key: &str| request[key].as_str().unwrap_or_default().to_owned();
    let state = &mut *state.lock().unwrap();
    let body = match action {
        "GetPermissionsBoundaryForPermissionSet" => {
            return Some(json_error(
                400,
                "ResourceNotFoundException",
                "The permission set has no permissions boundary.",
            ));
        }
        "ListTagsForResource" => {
            let tags = state
                .set_tags
                .get(&arn("ResourceArn"))
                .cloned()
                .unwrap_or_default();
            let tags: Vec<serde_json::Value> = tags
                .iter()
                .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
                .collect();
            serde_json::json!({ "Tags": tags })
        }
        "TagResource" => {
            let tags = state.set_tags.entry(arn("ResourceArn")).or_default();
            for tag in request["Tags"].as_array().into_iter().flatten() {
                let (k, v) = (tag["Key"].as_str(), tag["Value"].as_str());
                tags.insert(k.unwrap_or_default().into(), v.unwrap_or_default().into());
            }
            serde_json::json!({})
        }
        "ListAccountsForProvisionedPermissionSet" => {
            let set = arn("PermissionSetArn");
            let which = if request["ProvisioningStatus"] == "LATEST_PERMISSION_SET_NOT_PROVISIONED"
            {
                &state.outdated
            } else {
                &state.provisioned
            };
            let accounts: Vec<&String> = which.get(&set).into_iter().flatten().collect();
            serde_json::json!({ "AccountIds": accounts })
        }
        _ => return None,
    };
    Some(
        Response::builder()
            .status(200)
            .header("content-type", "application/x-amz-json-1.1")
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("an answer"),
    )
}

/// What a successful sso-admin call changed, for `center_answer`.
fn center_record(state: &Mutex<State>, action: &str, request: &serde_json::Value, answer: &[u8]) {
    let set = request["PermissionSetArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let state = &mut *state.lock().unwrap();
    match action {
        "CreatePermissionSet" => {
            let answer: serde_json::Value = serde_json::from_slice(answer).unwrap_or_default();
            let arn = answer["PermissionSet"]["PermissionSetArn"]
                .as_str()
                .unwrap_or_default();
            let tags = state.set_tags.entry(arn.to_owned()).or_default();
            for tag in request["Tags"].as_array().into_iter().flatten() {
                let (k, v) = (tag["Key"].as_str(), tag["Value"].as_str());
                tags.insert(k.unwrap_or_default().into(), v.unwrap_or_default().into());
            }
        }
        "CreateAccountAssignment" => {
            let account = request["TargetId"].as_str().unwrap_or_default().to_owned();
            state
                .provisioned
                .entry(set.clone())
                .or_default()
                .insert(account.clone());
            state.outdated.entry(set).or_default().remove(&account);
        }
        "ProvisionPermissionSet" => {
            let outdated = state.outdated.entry(set).or_default();
            match request["TargetId"].as_str() {
                Some(account) => {
                    outdated.remove(account);
                }
                None => outdated.clear(),
            }
        }
        "DeletePermissionSet" => {
            state.provisioned.remove(&set);
            state.outdated.remove(&set);
            state.set_tags.remove(&set);
        }
        "UpdatePermissionSet"
        | "AttachManagedPolicyToPermissionSet"
        | "DetachManagedPolicyFromPermissionSet"
        | "PutInlinePolicyToPermissionSet"
        | "DeleteInlinePolicyFromPermissionSet"
        | "AttachCustomerManagedPolicyReferenceToPermissionSet"
        | "DetachCustomerManagedPolicyReferenceFromPermissionSet"
        | "PutPermissionsBoundaryToPermissionSet"
        | "DeletePermissionsBoundaryFromPermissionSet" => {
            let provisioned = state.provisioned.get(&set).cloned().unwrap_or_default();
            state.outdated.insert(set, provisioned);
        }
        _ => {}
    }
}

/// An error answer in the JSON protocols' format (sso-admin, identitystore, Organizations).
fn json_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string();
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(body)))
        .expect("an error answer")
}

/// The answer a fault gives instead of IAM's, or an error that drops the connection.
fn fault_answer(
    fault: Option<Fault>,
    behaviour: &Behaviour,
    action: &str,
    json_protocol: bool,
    denied: bool,
) -> Result<Option<Response<Full<Bytes>>>, BoxError> {
    if denied || behaviour.deny == Some(action) {
        if json_protocol {
            let message = format!("User is not authorized to perform: sso:{action}");
            return Ok(Some(json_error(400, "AccessDeniedException", &message)));
        }
        let message = format!("User is not authorized to perform: iam:{action}");
        return Ok(Some(iam_error(403, "Sender", "AccessDenied", &message)));
    }
    Ok(match fault {
        None | Some(Fault::DropAfter) => None,
        Some(Fault::Throttling) => Some(iam_error(400, "Sender", "Throttling", "Rate exceeded")),
        Some(Fault::ServerError) => Some(iam_error(
            500,
            "Receiver",
            "ServiceFailure",
            "The request processing has failed because of an unknown error.",
        )),
        Some(Fault::Unavailable) => Some(iam_error(
            503,
            "Receiver",
            "ServiceUnavailable",
            "The service is unavailable.",
        )),
        Some(Fault::Invisible) => Some(iam_error(
            404,
            "Sender",
            "NoSuchEntity",
            "The entity does not exist yet.",
        )),
        Some(Fault::DropBefore) => {
            return Err("the proxy dropped the connection before the call".into());
        }
    })
}

/// An error answer in IAM's own format.
fn iam_error(status: u16, kind: &str, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body)))
        .expect("an error answer")
}

/// The parameters of a query-protocol form body.
fn form(body: &[u8]) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}
