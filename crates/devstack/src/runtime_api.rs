//! The Lambda Runtime API (2018-06-01) served to one execution environment's process, the same
//! HTTP contract a `bootstrap` meets in AWS.
//!
//! The server only hands out events and takes answers; deciding what an answer means (success,
//! function error, fatal) and keeping time is the environment's job, through [`RuntimeEvent`]s.

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::platform_log::{PlatformEvent, PlatformLog};

/// Largest event or response payload of a synchronous invocation: 6 MB, as in AWS.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

const PREFIX: &str = "/2018-06-01/runtime";

/// What the server needs to know about the function it serves.
#[derive(Debug, Clone)]
pub struct RuntimeApiConfig {
    pub function_arn: String,
    /// Receives START when an invocation is handed out; logging it there, before the runtime
    /// sees the event, keeps it ahead of anything the function prints for that event.
    pub platform: PlatformLog,
}

/// An event waiting for the runtime to ask for it.
#[derive(Debug, Clone)]
pub struct QueuedInvocation {
    pub request_id: String,
    pub payload: Vec<u8>,
    /// Sets the deadline the runtime is told, counted from the moment it receives the event.
    pub timeout: Duration,
}

/// An error a runtime reported, from the body AWS runtimes post (`errorType`, `errorMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    pub error_type: String,
    pub message: String,
}

/// What happened on the server, in order, with the instant it happened so that durations measure
/// the function and not the environment's scheduling.
#[derive(Debug, Clone)]
pub enum RuntimeEvent {
    /// The first GET /next arrived: the process finished its init phase.
    InitDone {
        at: Instant,
    },
    /// The runtime received the event of this request.
    Delivered {
        request_id: String,
        at: Instant,
    },
    Response {
        request_id: String,
        body: Bytes,
        at: Instant,
    },
    Error {
        request_id: String,
        error: ErrorReport,
        at: Instant,
    },
    /// The response exceeded [`MAX_PAYLOAD_BYTES`]; the runtime got 413 and the request is over.
    ResponseTooLarge {
        request_id: String,
        size: Option<u64>,
        at: Instant,
    },
    InitError {
        error: ErrorReport,
        at: Instant,
    },
}

/// A running Runtime API server, bound to 127.0.0.1 on a free port, stopped when dropped.
#[derive(Debug)]
pub struct RuntimeApi {
    addr: SocketAddr,
    /// Shared with the server's handlers (see [`RuntimeApi::watch_process`]).
    process_stat: Arc<OnceLock<File>>,
    queue: mpsc::UnboundedSender<QueuedInvocation>,
    events: mpsc::UnboundedReceiver<RuntimeEvent>,
    server: JoinHandle<()>,
}

struct Shared {
    config: RuntimeApiConfig,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<QueuedInvocation>>,
    events: mpsc::UnboundedSender<RuntimeEvent>,
    init_done: AtomicBool,
    /// The one request the runtime may answer; AWS rejects answers to any other id.
    in_flight: Mutex<Option<String>>,
    /// `/proc/<pid>/stat` of the runtime's process, kept open (see [`RuntimeApi::watch_process`]).
    process_stat: Arc<OnceLock<File>>,
}

impl Shared {
    fn send(&self, event: RuntimeEvent) {
        // The environment may already be gone while its process still talks; nobody is left to
        // care about the event then.
        let _ = self.events.send(event);
    }

    fn is_in_flight(&self, request_id: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
            == Some(request_id)
    }

    /// Whether the runtime's process is on its way out (see [`stat_shows_ending`]); false when
    /// no process is watched.
    fn process_is_ending(&self) -> bool {
        use std::os::unix::fs::FileExt;
        let Some(stat) = self.process_stat.get() else {
            return false;
        };
        // procfs makes the text anew for each read at offset 0; the line is far below 1 KiB.
        let mut buffer = [0u8; 1024];
        match stat.read_at(&mut buffer, 0) {
            Ok(read) => stat_shows_ending(&String::from_utf8_lossy(&buffer[..read])),
            // Reaped already.
            Err(_) => true,
        }
    }

    fn finish(&self, request_id: &str) -> bool {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if in_flight.as_deref() == Some(request_id) {
            *in_flight = None;
            true
        } else {
            false
        }
    }
}

impl RuntimeApi {
    pub async fn start(config: RuntimeApiConfig) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (queue, queue_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            config,
            queue: tokio::sync::Mutex::new(queue_rx),
            events: events_tx,
            init_done: AtomicBool::new(false),
            in_flight: Mutex::new(None),
            process_stat: Arc::default(),
        });
        let process_stat = Arc::clone(&shared.process_stat);
        let app = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{id}}/response"),
                post(response),
            )
            .route(
                &format!("{PREFIX}/invocation/{{id}}/error"),
                post(invocation_error),
            )
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            // Payload limits are enforced by the handlers so that they can answer as AWS does.
            .layer(DefaultBodyLimit::disable())
            .with_state(shared);
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "Runtime API server stopped");
            }
        });
        Ok(Self {
            addr,
            process_stat,
            queue,
            events,
            server,
        })
    }

    /// The address a process reaches this server at: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Names the process the runtime runs in. An event is then never handed to that process once
    /// it is on its way out (killed, exiting, a zombie): it could not take it, and the
    /// environment, seeing the exit with the event untaken, lets the pool run it elsewhere.
    /// Without this check a process killed while it waited in GET /next was handed the event
    /// in the moment before its connection closed, and the request failed.
    pub fn watch_process(&self, pid: u32) {
        if let Ok(stat) = File::open(format!("/proc/{pid}/stat")) {
            let _ = self.process_stat.set(stat);
        }
    }

    /// Queues an event; the runtime receives it on its current or next GET /next.
    pub fn enqueue(&self, invocation: QueuedInvocation) {
        // The receiver lives as long as the server state, which `self` keeps alive.
        let _ = self.queue.send(invocation);
    }

    /// Waits for the next event. Cancel-safe: an event is never lost when the future is dropped.
    pub async fn next_event(&mut self) -> Option<RuntimeEvent> {
        self.events.recv().await
    }

    pub fn try_next_event(&mut self) -> Option<RuntimeEvent> {
        self.events.try_recv().ok()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    if !shared.init_done.swap(true, Ordering::SeqCst) {
        shared.send(RuntimeEvent::InitDone { at: Instant::now() });
    }
    let Some(invocation) = shared.queue.lock().await.recv().await else {
        return stopped();
    };
    if shared.process_is_ending() {
        // Not handed out: the environment sees the exit with the event untaken.
        return stopped();
    }
    let deadline_ms = epoch_ms(SystemTime::now() + invocation.timeout);
    let request_id = invocation.request_id;
    *shared.in_flight.lock().unwrap_or_else(|e| e.into_inner()) = Some(request_id.clone());
    shared.config.platform.emit(PlatformEvent::Start {
        request_id: &request_id,
    });
    shared.send(RuntimeEvent::Delivered {
        request_id: request_id.clone(),
        at: Instant::now(),
    });

    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", request_id);
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        shared.config.function_arn.clone(),
    );
    set("lambda-runtime-trace-id", trace_id());
    (StatusCode::OK, headers, invocation.payload).into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    body: Body,
) -> Response {
    if !shared.is_in_flight(&request_id) {
        return invalid_request_id();
    }
    match read_limited(body).await {
        Ok(body) => {
            if !shared.finish(&request_id) {
                return invalid_request_id();
            }
            shared.send(RuntimeEvent::Response {
                request_id,
                body,
                at: Instant::now(),
            });
            accepted()
        }
        Err(ReadError::TooLarge { size }) => {
            if shared.finish(&request_id) {
                shared.send(RuntimeEvent::ResponseTooLarge {
                    request_id,
                    size,
                    at: Instant::now(),
                });
            }
            payload_too_large()
        }
        // The runtime hung up mid-body; it will retry or exit, and either is seen elsewhere.
        Err(ReadError::Broken) => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !shared.is_in_flight(&request_id) {
        return invalid_request_id();
    }
    let error = error_report(&headers, read_limited(body).await.ok());
    if !shared.finish(&request_id) {
        return invalid_request_id();
    }
    shared.send(RuntimeEvent::Error {
        request_id,
        error,
        at: Instant::now(),
    });
    accepted()
}

async fn init_error(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let error = error_report(&headers, read_limited(body).await.ok());
    shared.send(RuntimeEvent::InitError {
        error,
        at: Instant::now(),
    });
    accepted()
}

enum ReadError {
    TooLarge { size: Option<u64> },
    Broken,
}

/// Past this much, an oversized body is no longer read to its end; the connection is dropped.
const DRAIN_LIMIT: u64 = 16 * MAX_PAYLOAD_BYTES as u64;

/// Reads a payload up to [`MAX_PAYLOAD_BYTES`]. A larger one is still read to its end (and
/// thrown away) so that the runtime receives the 413 instead of a reset connection, which some
/// runtimes treat as fatal.
async fn read_limited(mut body: Body) -> Result<Bytes, ReadError> {
    let mut kept = Vec::new();
    let mut size: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Broken)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len() as u64;
        if size <= MAX_PAYLOAD_BYTES as u64 {
            kept.extend_from_slice(&data);
        } else if size > DRAIN_LIMIT {
            return Err(ReadError::TooLarge { size: None });
        } else {
            kept = Vec::new();
        }
    }
    if size > MAX_PAYLOAD_BYTES as u64 {
        Err(ReadError::TooLarge { size: Some(size) })
    } else {
        Ok(Bytes::from(kept))
    }
}

/// Runtimes put the type in a header, the body, or both; the body is the richer source.
fn error_report(headers: &HeaderMap, body: Option<Bytes>) -> ErrorReport {
    let body = body.unwrap_or_default();
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let error_type = field("errorType")
        .or_else(|| {
            headers
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "Unhandled".to_owned());
    let message =
        field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    ErrorReport {
        error_type,
        message,
    }
}

fn stopped() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "execution environment stopped",
    )
        .into_response()
}

/// Whether a `/proc/<pid>/stat` line shows a process on its way out: a zombie, one that has
/// begun to exit (PF_EXITING in its flags), or one with SIGKILL pending (sent as such, or set by
/// the kernel for any fatal signal). The fields after the command name, which may itself hold
/// spaces and parentheses: state is the 3rd field, flags the 9th, pending signals the 31st.
fn stat_shows_ending(stat: &str) -> bool {
    const PF_EXITING: u64 = 0x4;
    const SIGKILL: u64 = 1 << (9 - 1);
    let Some((_, fields)) = stat.rsplit_once(')') else {
        return false;
    };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let number = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<u64>().ok())
            .unwrap_or(0)
    };
    matches!(fields.first(), Some(&("Z" | "X" | "x")))
        || number(6) & PF_EXITING != 0
        || number(28) & SIGKILL != 0
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn invalid_request_id() -> Response {
    let body = json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

fn payload_too_large() -> Response {
    let body = json!({
        "errorMessage": format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."),
        "errorType": "RequestEntityTooLarge",
    });
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
}

fn epoch_ms(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// An X-Ray trace header shaped like the ones Lambda hands out; nothing here samples.
fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = crate::random_uuid().simple().to_string();
    let parent = crate::random_uuid().simple().to_string();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &random[..24],
        &parent[..16]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// A bare HTTP/1.1 client: enough for these tests without another dependency.
    async fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // A server that refuses a large body may close before reading all of it.
        let _ = stream.write_all(body).await;
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .expect("a complete HTTP response");
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    async fn server() -> RuntimeApi {
        let function = crate::environment::FunctionConfig::new("f", "f.zip");
        RuntimeApi::start(RuntimeApiConfig {
            function_arn: function.arn(),
            platform: PlatformLog::new(&function, crate::log::LogSink::discard()),
        })
        .await
        .unwrap()
    }

    fn queue(api: &RuntimeApi, id: &str) {
        api.enqueue(QueuedInvocation {
            request_id: id.into(),
            payload: br#"{"hello":"world"}"#.to_vec(),
            timeout: Duration::from_secs(3),
        });
    }

    #[tokio::test]
    async fn next_hands_out_the_event_with_lambda_headers() {
        let mut api = server().await;
        queue(&api, "req-1");
        let reply = request(
            api.addr(),
            "GET",
            "/2018-06-01/runtime/invocation/next",
            b"",
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, r#"{"hello":"world"}"#);
        assert_eq!(reply.header("lambda-runtime-aws-request-id"), Some("req-1"));
        assert_eq!(
            reply.header("lambda-runtime-invoked-function-arn"),
            Some("arn:aws:lambda:us-east-1:000000000000:function:f")
        );
        let deadline: u128 = reply
            .header("lambda-runtime-deadline-ms")
            .unwrap()
            .parse()
            .unwrap();
        let now = epoch_ms(SystemTime::now());
        assert!(
            deadline > now && deadline <= now + 3_000,
            "{deadline} vs {now}"
        );
        assert!(
            reply
                .header("lambda-runtime-trace-id")
                .unwrap()
                .starts_with("Root=1-")
        );

        assert!(matches!(
            api.next_event().await,
            Some(RuntimeEvent::InitDone { .. })
        ));
        assert!(matches!(
            api.next_event().await,
            Some(RuntimeEvent::Delivered { request_id, .. }) if request_id == "req-1"
        ));
    }

    /// A `/proc/<pid>/stat` line with the given state, flags and pending signals, and a command
    /// name made to confuse a parser.
    fn stat_line(state: &str, flags: u64, pending: u64) -> String {
        format!(
            "4242 (a) b (c)) {state} 1 4242 4242 0 -1 {flags} 10 0 0 0 1 1 0 0 20 0 1 0 99 1000 100 \
             18446744073709551615 1 1 0 0 0 {pending} 0 0 0 0 0 0 17 1 0 0 0 0 0"
        )
    }

    #[test]
    fn a_process_on_its_way_out_is_told_from_its_stat_line() {
        assert!(!stat_shows_ending(&stat_line("S", 0x40_0000, 0)));
        assert!(
            !stat_shows_ending(&stat_line("R", 0x40_0000, 1 << 14)),
            "SIGTERM caught"
        );
        assert!(stat_shows_ending(&stat_line("Z", 0x40_0000, 0)));
        assert!(
            stat_shows_ending(&stat_line("R", 0x40_0004, 0)),
            "PF_EXITING"
        );
        assert!(
            stat_shows_ending(&stat_line("S", 0x40_0000, 1 << 8)),
            "SIGKILL pending"
        );
        assert!(!stat_shows_ending("garbage"));
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(!stat_shows_ending(&own), "{own}");
    }

    /// A killed process (a zombie until reaped, as every exiting process is for a moment) that
    /// still has a GET /next open is not handed the event: it could never take it.
    #[tokio::test]
    async fn an_event_is_not_handed_to_a_process_on_its_way_out() {
        let mut api = server().await;
        let mut process = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        api.watch_process(process.id());
        process.kill().unwrap();
        // Not waited for: it stays a zombie.
        let zombie = || {
            std::fs::read_to_string(format!("/proc/{}/stat", process.id()))
                .is_ok_and(|stat| stat_shows_ending(&stat))
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !zombie() {
            assert!(Instant::now() < deadline, "the killed process never ended");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        queue(&api, "req-dead");
        let reply = request(
            api.addr(),
            "GET",
            "/2018-06-01/runtime/invocation/next",
            b"",
        )
        .await;
        assert_eq!(reply.status, 500, "{}", reply.body);
        while let Some(event) = api.try_next_event() {
            assert!(
                !matches!(event, RuntimeEvent::Delivered { .. }),
                "{event:?}"
            );
        }
        process.wait().unwrap();
    }

    #[tokio::test]
    async fn next_waits_until_an_event_is_queued() {
        let api = server().await;
        let addr = api.addr();
        let waiting = tokio::spawn(async move {
            request(addr, "GET", "/2018-06-01/runtime/invocation/next", b"").await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        queue(&api, "late");
        let reply = waiting.await.unwrap();
        assert_eq!(reply.header("lambda-runtime-aws-request-id"), Some("late"));
    }

    #[tokio::test]
    async fn response_is_accepted_once_and_only_for_the_request_in_flight() {
        let mut api = server().await;
        let addr = api.addr();
        let unknown = request(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/nope/response",
            b"{}",
        )
        .await;
        assert_eq!(unknown.status, 400);
        assert!(unknown.body.contains("InvalidRequestID"));

        queue(&api, "req-2");
        request(addr, "GET", "/2018-06-01/runtime/invocation/next", b"").await;
        let ok = request(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/req-2/response",
            b"[1]",
        )
        .await;
        assert_eq!(ok.status, 202);
        assert_eq!(
            serde_json::from_str::<Value>(&ok.body).unwrap(),
            json!({"status": "OK"})
        );
        let again = request(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/req-2/response",
            b"[2]",
        )
        .await;
        assert_eq!(again.status, 400);

        let mut got = None;
        while let Some(event) = api.try_next_event() {
            if let RuntimeEvent::Response {
                request_id, body, ..
            } = event
            {
                got = Some((request_id, body));
            }
        }
        assert_eq!(got, Some(("req-2".to_owned(), Bytes::from_static(b"[1]"))));
    }

    #[tokio::test]
    async fn errors_are_parsed_from_the_aws_error_body() {
        let mut api = server().await;
        let addr = api.addr();
        queue(&api, "req-3");
        request(addr, "GET", "/2018-06-01/runtime/invocation/next", b"").await;
        let body = br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}"#;
        let reply = request(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/req-3/error",
            body,
        )
        .await;
        assert_eq!(reply.status, 202);
        let init = request(addr, "POST", "/2018-06-01/runtime/init/error", b"not json").await;
        assert_eq!(init.status, 202);

        let mut errors = Vec::new();
        while let Some(event) = api.try_next_event() {
            match event {
                RuntimeEvent::Error { error, .. } | RuntimeEvent::InitError { error, .. } => {
                    errors.push(error)
                }
                _ => {}
            }
        }
        assert_eq!(
            errors,
            [
                ErrorReport {
                    error_type: "ValueError".into(),
                    message: "boom".into()
                },
                ErrorReport {
                    error_type: "Unhandled".into(),
                    message: "not json".into()
                },
            ]
        );
    }

    #[tokio::test]
    async fn responses_over_six_megabytes_are_refused() {
        let mut api = server().await;
        let addr = api.addr();
        queue(&api, "big");
        request(addr, "GET", "/2018-06-01/runtime/invocation/next", b"").await;
        let body = vec![b'x'; MAX_PAYLOAD_BYTES + 1];
        let reply = request(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/big/response",
            &body,
        )
        .await;
        assert_eq!(reply.status, 413);
        let mut too_large = None;
        while let Some(event) = api.try_next_event() {
            if let RuntimeEvent::ResponseTooLarge {
                request_id, size, ..
            } = event
            {
                too_large = Some((request_id, size));
            }
        }
        assert_eq!(
            too_large,
            Some(("big".to_owned(), Some(MAX_PAYLOAD_BYTES as u64 + 1)))
        );

        let exact = vec![b'1'; MAX_PAYLOAD_BYTES];
        queue(&api, "edge");
        request(addr, "GET", "/2018-06-01/runtime/invocation/next", b"").await;
        let reply = request(
            addr,
            "POST",
            "/2018-06-01/runtime/invocation/edge/response",
            &exact,
        )
        .await;
        assert_eq!(reply.status, 202);
    }
}
