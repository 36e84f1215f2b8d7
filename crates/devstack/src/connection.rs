//! The gateway's listener: TCP connections whose HTTP/1 request heads are read as they pass, for
//! what hyper does not hand on, namely the header names as the client spelled them (API Gateway
//! gives the function `tEsT-HEADeR` as sent; hyper lower-cases every name and keeps the original
//! case only in a type of its own) and the local address each client reached (X-Forwarded-Port).
//!
//! The bytes are only observed, never changed: hyper parses the same stream as before. To know
//! where the next request head starts on a kept-alive connection, the observer follows the
//! request framing of RFC 9112 (Content-Length or chunked bodies). HTTP/2 connections, and any
//! stream it cannot follow, are left alone: their requests carry no spellings and the gateway
//! uses the names as hyper gives them.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The header names of one request, in the order and spelling the client sent them; a request
/// extension set by the local stack's server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpelledHeaderNames(pub Vec<String>);

impl SpelledHeaderNames {
    /// How the client spelled `name` (any case), if it sent it.
    pub fn spelling_of(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|spelled| spelled.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }
}

/// The local address a client connected to; a request extension set by the local stack's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr(pub SocketAddr);

/// [`TcpListener`]s whose connections record their request heads (see the module's header): the
/// main one, and at most one more on another address (the other loopback).
pub struct RecordingListener {
    inner: TcpListener,
    also: Option<TcpListener>,
}

impl RecordingListener {
    pub fn new(inner: TcpListener) -> Self {
        RecordingListener { inner, also: None }
    }

    /// Also accepts connections on `also`: one server, reached on two addresses.
    pub fn with_also(inner: TcpListener, also: Option<TcpListener>) -> Self {
        RecordingListener { inner, also }
    }
}

impl Listener for RecordingListener {
    type Io = RecordingStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // Accepting is cancel-safe: the listener that loses the race keeps its connection queued.
        let (stream, peer) = match &mut self.also {
            None => Listener::accept(&mut self.inner).await,
            Some(also) => tokio::select! {
                accepted = Listener::accept(&mut self.inner) => accepted,
                accepted = Listener::accept(also) => accepted,
            },
        };
        let local = stream.local_addr().unwrap_or_else(|_| {
            self.inner
                .local_addr()
                .expect("a bound listener has an address")
        });
        let stream = RecordingStream {
            inner: stream,
            local,
            heads: Arc::default(),
            scanner: HeadScanner::default(),
        };
        (stream, peer)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Heads seen on a connection and not yet taken by a request, oldest first.
type Heads = Arc<Mutex<VecDeque<Vec<String>>>>;

/// At most this many heads wait for their request: a client that pipelines further ahead is
/// exotic, and the gateway then falls back to hyper's names.
const MAX_WAITING_HEADS: usize = 16;

/// A client connection of [`RecordingListener`].
pub struct RecordingStream {
    inner: TcpStream,
    local: SocketAddr,
    heads: Heads,
    scanner: HeadScanner,
}

impl AsyncRead for RecordingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let this = &mut *self;
            let new = &buf.filled()[before..];
            for names in this.scanner.feed(new) {
                let mut heads = this.heads.lock().unwrap_or_else(|e| e.into_inner());
                if heads.len() == MAX_WAITING_HEADS {
                    heads.pop_front();
                }
                heads.push_back(names);
            }
        }
        polled
    }
}

impl AsyncWrite for RecordingStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// What the server knows of a client connection; axum's connect info for [`RecordingListener`].
#[derive(Debug, Clone)]
pub struct ClientConnection {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    heads: Heads,
}

impl ClientConnection {
    /// The header names of the connection's next request. Requests on a connection are served
    /// in order, so each takes the oldest head seen; `None` when none was recorded (HTTP/2, or a
    /// stream the observer could not follow).
    pub fn next_request_names(&self) -> Option<SpelledHeaderNames> {
        let mut heads = self.heads.lock().unwrap_or_else(|e| e.into_inner());
        heads.pop_front().map(SpelledHeaderNames)
    }
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, RecordingListener>>
    for ClientConnection
{
    fn connect_info(stream: IncomingStream<'_, RecordingListener>) -> Self {
        ClientConnection {
            peer: *stream.remote_addr(),
            local: stream.io().local,
            heads: Arc::clone(&stream.io().heads),
        }
    }
}

/// A request line or header line longer than this is not followed (hyper refuses far shorter
/// heads anyway).
const MAX_LINE: usize = 64 * 1024;

/// Where the observer is in the request stream of one connection.
#[derive(Debug, Default, PartialEq, Eq)]
enum Framing {
    /// Before or inside a request head.
    #[default]
    Head,
    /// Inside a body of known length: this many bytes left.
    Body(u64),
    /// At a chunk-size line.
    ChunkSize,
    /// Inside a chunk: this many bytes left, then its CRLF.
    ChunkData(u64),
    /// The CRLF after a chunk: this many bytes left.
    ChunkEnd(u8),
    /// The trailer section after the last chunk, up to an empty line.
    Trailers,
    /// Not followed any further.
    Off,
}

/// Finds request heads in the bytes of one HTTP/1 connection and reads their header names.
#[derive(Debug, Default)]
struct HeadScanner {
    framing: Framing,
    line: Vec<u8>,
    /// The request line has been read for the current head.
    in_head: bool,
    names: Vec<String>,
    content_length: Option<u64>,
    chunked: bool,
}

impl HeadScanner {
    /// Follows `bytes`; returns the header names of every head they complete.
    fn feed(&mut self, mut bytes: &[u8]) -> Vec<Vec<String>> {
        let mut heads = Vec::new();
        while !bytes.is_empty() {
            match self.framing {
                Framing::Off => break,
                Framing::Body(left) | Framing::ChunkData(left) => {
                    let taken = left.min(bytes.len() as u64);
                    bytes = &bytes[taken as usize..];
                    let left = left - taken;
                    let in_body = matches!(self.framing, Framing::Body(_));
                    self.framing = match (in_body, left) {
                        (true, 0) => Framing::Head,
                        (true, left) => Framing::Body(left),
                        (false, 0) => Framing::ChunkEnd(2),
                        (false, left) => Framing::ChunkData(left),
                    };
                }
                Framing::ChunkEnd(left) => {
                    bytes = &bytes[1..];
                    self.framing = if left > 1 {
                        Framing::ChunkEnd(left - 1)
                    } else {
                        Framing::ChunkSize
                    };
                }
                Framing::Head | Framing::ChunkSize | Framing::Trailers => {
                    let Some(end) = bytes.iter().position(|&b| b == b'\n') else {
                        self.line.extend_from_slice(bytes);
                        if self.line.len() > MAX_LINE {
                            self.framing = Framing::Off;
                        }
                        break;
                    };
                    self.line.extend_from_slice(&bytes[..end]);
                    bytes = &bytes[end + 1..];
                    let mut line = std::mem::take(&mut self.line);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() > MAX_LINE {
                        self.framing = Framing::Off;
                    } else if let Some(names) = self.line_done(&line) {
                        heads.push(names);
                    }
                }
            }
        }
        heads
    }

    /// Handles one complete line; returns the names when it ends a head.
    fn line_done(&mut self, line: &[u8]) -> Option<Vec<String>> {
        match self.framing {
            Framing::ChunkSize => {
                let size = std::str::from_utf8(line)
                    .ok()
                    .and_then(|l| u64::from_str_radix(l.split(';').next()?.trim(), 16).ok());
                self.framing = match size {
                    Some(0) => Framing::Trailers,
                    Some(size) => Framing::ChunkData(size),
                    None => Framing::Off,
                };
                None
            }
            Framing::Trailers => {
                if line.is_empty() {
                    self.framing = Framing::Head;
                }
                None
            }
            _ if !self.in_head => {
                // Empty lines before a request line are allowed (RFC 9112 section 2.2).
                if line.starts_with(b"PRI * HTTP/2") {
                    self.framing = Framing::Off;
                } else if !line.is_empty() {
                    self.in_head = true;
                }
                None
            }
            _ if line.is_empty() => {
                self.in_head = false;
                self.framing = if self.chunked {
                    Framing::ChunkSize
                } else {
                    match self.content_length {
                        Some(0) | None => Framing::Head,
                        Some(length) => Framing::Body(length),
                    }
                };
                self.content_length = None;
                self.chunked = false;
                Some(std::mem::take(&mut self.names))
            }
            _ => {
                let parsed = std::str::from_utf8(line)
                    .ok()
                    .and_then(|l| l.split_once(':'));
                let Some((name, value)) = parsed else {
                    // Not a header line: hyper refuses the request and closes the connection.
                    self.framing = Framing::Off;
                    return None;
                };
                if name.eq_ignore_ascii_case("content-length") {
                    match value.trim().parse() {
                        Ok(length) => self.content_length = Some(length),
                        Err(_) => self.framing = Framing::Off,
                    }
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    self.chunked = value
                        .rsplit(',')
                        .next()
                        .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"));
                }
                self.names.push(name.to_owned());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn heads_of_kept_alive_requests_are_found_past_their_bodies() {
        let stream = concat!(
            "POST /a HTTP/1.1\r\nHost: x\r\ntEsT-HEADeR: 1\r\nContent-Length: 20\r\n\r\n",
            "{\"a\":\"\r\n\r\nGET /\"}   ",
            "POST /b HTTP/1.1\r\nHOST: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "5;ext=1\r\nGET /\r\n3\r\nx\r\n\r\n0\r\nTrailer-Name: v\r\n\r\n",
            "\r\nGET /c HTTP/1.1\r\nx-Lower: v\r\n\r\n",
        );
        let mut scanner = HeadScanner::default();
        let heads = scanner.feed(stream.as_bytes());
        assert_eq!(
            heads,
            [
                names(&["Host", "tEsT-HEADeR", "Content-Length"]),
                names(&["HOST", "Transfer-Encoding"]),
                names(&["x-Lower"]),
            ]
        );
        assert_eq!(scanner.framing, Framing::Head);
    }

    #[test]
    fn bytes_may_arrive_one_at_a_time() {
        let stream = "GET / HTTP/1.1\r\nAuthorization: t\r\nContent-Length: 2\r\n\r\nokGET /2 HTTP/1.1\r\nA: b\r\n\r\n";
        let mut scanner = HeadScanner::default();
        let heads: Vec<Vec<String>> = stream
            .as_bytes()
            .chunks(1)
            .flat_map(|byte| scanner.feed(byte))
            .collect();
        assert_eq!(
            heads,
            [names(&["Authorization", "Content-Length"]), names(&["A"])]
        );
    }

    #[test]
    fn http2_and_garbage_are_left_alone() {
        let mut h2 = HeadScanner::default();
        assert!(
            h2.feed(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET / HTTP/1.1\r\nA: b\r\n\r\n")
                .is_empty()
        );
        let mut garbage = HeadScanner::default();
        assert!(
            garbage
                .feed(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n")
                .is_empty()
        );
        let mut bad_length = HeadScanner::default();
        assert_eq!(
            bad_length.feed(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Vec::<Vec<String>>::new()
        );
    }

    #[test]
    fn spellings_are_found_whatever_the_case_asked() {
        let spelled = SpelledHeaderNames(names(&["tEsT-HEADeR", "authorization"]));
        assert_eq!(spelled.spelling_of("test-header"), Some("tEsT-HEADeR"));
        assert_eq!(spelled.spelling_of("Authorization"), Some("authorization"));
        assert_eq!(spelled.spelling_of("host"), None);
    }
}
