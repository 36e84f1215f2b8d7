//! HTTP/1.1 written byte for byte: for requests an HTTP client would tidy up (dot segments,
//! doubled slashes, header names' case, two headers of one name, bytes that are not UTF-8).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A reply read off the wire.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `method target` with `headers` (each written as given, bytes and all) and `body` over a
/// fresh connection, and reads the reply (the gateway always sends a Content-Length).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &[u8])],
    body: Option<&[u8]>,
) -> RawReply {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n").into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    if let Some(body) = body {
        head.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&head).await.unwrap();
    if let Some(body) = body {
        // A peer that answers before reading everything may close early: that is an answer too.
        let _ = stream.write_all(body).await;
    }
    read_reply(&mut stream).await
}

/// Sends `body` with `Transfer-Encoding: chunked` (no Content-Length) in chunks of 64 KiB, and
/// reads the reply as [`send`] does.
pub async fn send_chunked(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> RawReply {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n").into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    let mut framed = head;
    for chunk in body.chunks(64 * 1024) {
        framed.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        framed.extend_from_slice(chunk);
        framed.extend_from_slice(b"\r\n");
    }
    framed.extend_from_slice(b"0\r\n\r\n");
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reading, mut writing) = stream.into_split();
    // Written while the reply is read: a peer that answers early may stop reading the body.
    let writer = tokio::spawn(async move {
        let _ = writing.write_all(&framed).await;
        writing
    });
    let reply = read_reply(&mut reading).await;
    writer.abort();
    reply
}

/// Reads one reply (the gateway always sends a Content-Length) within 30 s.
async fn read_reply(stream: &mut (impl AsyncReadExt + Unpin)) -> RawReply {
    let mut received = Vec::new();
    let mut chunk = [0u8; 8192];
    let read = async {
        loop {
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let status: u16 = lines
                    .next()
                    .and_then(|line| line.split(' ').nth(1))
                    .and_then(|code| code.parse().ok())
                    .unwrap_or_else(|| panic!("not an HTTP reply: {head:?}"));
                let headers: Vec<(String, String)> = lines
                    .filter_map(|line| line.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or_else(|| panic!("the reply has no Content-Length: {head:?}"));
                if received.len() >= end + 4 + length {
                    let body = received[end + 4..end + 4 + length].to_vec();
                    return RawReply {
                        status,
                        headers,
                        body,
                    };
                }
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the connection closed before a whole reply");
            received.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("a reply within 30 s")
}
