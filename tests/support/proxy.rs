//! A loopback HTTP proxy in front of the local endpoint that records the API action of every
//! request: an independent count of what iamspec really sent, not what it says it sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Read-only IAM and STS actions; everything else changes the account.
const READ_PREFIXES: &[&str] = &["Get", "List", "Simulate", "Generate"];

pub struct Proxy {
    pub url: String,
    actions: Arc<Mutex<Vec<String>>>,
}

/// How the proxy treats each request.
#[derive(Clone, Copy, Default)]
pub struct Behaviour {
    /// Added before each request is forwarded, like the distance to a real endpoint.
    pub latency: std::time::Duration,
    /// Added after IAM has answered, before the answer is passed on: a window in which the
    /// call has taken effect but the caller does not know it yet.
    pub answer_delay: std::time::Duration,
    /// Answer every call of this action with IAM's `AccessDenied`, as a caller without the
    /// permission would get.
    pub deny: Option<&'static str>,
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
        let actions = Arc::new(Mutex::new(Vec::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr: SocketAddr = listener.local_addr().expect("proxy address");
        let recorded = Arc::clone(&actions);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(serve(listener, upstream, recorded, behaviour));
        });
        Self {
            url: format!("http://{addr}"),
            actions,
        }
    }

    /// Every action seen, in order.
    pub fn actions(&self) -> Vec<String> {
        self.actions.lock().unwrap().clone()
    }

    /// The actions that change the account.
    pub fn mutating(&self) -> Vec<String> {
        self.actions()
            .into_iter()
            .filter(|a| !READ_PREFIXES.iter().any(|p| a.starts_with(p)))
            .collect()
    }

    pub fn clear(&self) {
        self.actions.lock().unwrap().clear();
    }
}

async fn serve(
    listener: std::net::TcpListener,
    upstream: String,
    actions: Arc<Mutex<Vec<String>>>,
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
        let actions = Arc::clone(&actions);
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                forward(
                    request,
                    client.clone(),
                    upstream.clone(),
                    Arc::clone(&actions),
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
    actions: Arc<Mutex<Vec<String>>>,
    behaviour: Behaviour,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    tokio::time::sleep(behaviour.latency).await;
    let (mut parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let action = action_of(&body);
    if let Some(action) = &action {
        actions.lock().unwrap().push(action.clone());
    }
    if let (Some(action), Some(denied)) = (&action, behaviour.deny)
        && action == denied
    {
        return Ok(iam_error(
            403,
            "AccessDenied",
            &format!("User is not authorized to perform: iam:{action}"),
        ));
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
    tokio::time::sleep(behaviour.answer_delay).await;
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// An error answer in IAM's own format.
fn iam_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body)))
        .expect("an error answer")
}

/// `Action=CreateUser` from a query-protocol form body.
fn action_of(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_owned)
}
