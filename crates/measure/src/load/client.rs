//! The load's HTTP client: one keep-alive HTTP/1.1 connection per worker, hyper's own client
//! connection with nothing around it (no pool, no URL parsing per request), so that the client
//! costs as little as it can of the two cores it shares with the server it measures.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Where a load goes: a loopback address and the path every API path is put under (the stage,
/// `/dev`, or nothing for a server without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// The `Host` header: the URL's authority.
    pub host: String,
    /// `/dev`, or empty; never ends in `/`.
    pub base_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?}: write the URL as http://127.0.0.1:<port>[/<stage>]")]
    Malformed(String),
    #[error(
        "{0:?}: the load generator only sends to loopback addresses (127.0.0.0/8, ::1, localhost)"
    )]
    NotLoopback(String),
}

impl Target {
    /// Reads `http://<loopback host>:<port>[/<base path>]`; anything off this machine is refused,
    /// so a mistyped URL cannot turn a measurement into an attack on someone else's server.
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let malformed = || TargetError::Malformed(url.to_owned());
        let rest = url.strip_prefix("http://").ok_or_else(malformed)?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, ""),
        };
        if path.contains(['?', '#']) {
            return Err(malformed());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, port) = v6.split_once("]:").ok_or_else(malformed)?;
            (host, port)
        } else {
            authority.rsplit_once(':').ok_or_else(malformed)?
        };
        let port: u16 = port.parse().map_err(|_| malformed())?;
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            host.parse().map_err(|_| malformed())?
        };
        if !ip.is_loopback() {
            return Err(TargetError::NotLoopback(url.to_owned()));
        }
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            host: authority.to_owned(),
            base_path: path.trim_end_matches('/').to_owned(),
        })
    }

    /// `http://<host><base path>`, for messages and the report.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.host, self.base_path)
    }
}

/// A request as the workers send it: everything but the connection decided up front.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: Method,
    /// The path and query under the target's base path.
    pub path_and_query: String,
    pub body: Option<Bytes>,
    pub authorization: Option<HeaderValue>,
}

/// One open connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
    host: HeaderValue,
}

impl Connection {
    pub async fn open(target: &Target) -> Result<Connection, ClientError> {
        let stream = TcpStream::connect(target.addr).await?;
        // Small requests and answers: waiting to fill a packet only adds latency.
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(ClientError::Http)?;
        let driver = tokio::spawn(async move {
            // Its end (the server closed, the worker dropped the sender) shows up as an error of
            // the next request.
            let _ = connection.await;
        });
        let host = HeaderValue::from_str(&target.host)
            .map_err(|_| ClientError::Io(std::io::Error::other("host is not a header value")))?;
        Ok(Connection {
            sender,
            driver,
            host,
        })
    }

    /// Sends one request and reads the whole answer: status and body.
    pub async fn send(
        &mut self,
        target: &Target,
        request: &Prepared,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let uri = format!("{}{}", target.base_path, request.path_and_query);
        let mut builder = Request::builder()
            .method(request.method.clone())
            .uri(uri)
            .header(header::HOST, self.host.clone());
        if let Some(authorization) = &request.authorization {
            builder = builder.header(header::AUTHORIZATION, authorization.clone());
        }
        let body = match &request.body {
            Some(body) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Full::new(body.clone())
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder
            .body(body)
            .map_err(|e| ClientError::Io(std::io::Error::other(e)))?;
        self.sender.ready().await.map_err(ClientError::Http)?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(ClientError::Http)?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(ClientError::Http)?
            .to_bytes();
        Ok((status, body))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(hyper::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_only() {
        let target = Target::parse("http://127.0.0.1:3000/dev/").unwrap();
        assert_eq!(target.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(target.base_path, "/dev");
        assert_eq!(target.url(), "http://127.0.0.1:3000/dev");
        let bare = Target::parse("http://localhost:8000").unwrap();
        assert_eq!(
            (bare.base_path.as_str(), bare.host.as_str()),
            ("", "localhost:8000")
        );
        assert_eq!(
            Target::parse("http://[::1]:8000/x").unwrap().addr,
            "[::1]:8000".parse().unwrap()
        );
        assert!(Target::parse("http://127.0.0.2:1").is_ok(), "all of 127/8");
        for refused in [
            "http://10.0.0.1:80",
            "http://[2001:db8::1]:80",
            "http://example.com:80",
        ] {
            assert!(Target::parse(refused).is_err(), "{refused}");
        }
        assert!(matches!(
            Target::parse("http://192.168.1.1:80"),
            Err(TargetError::NotLoopback(_))
        ));
        for malformed in [
            "https://127.0.0.1:1",
            "127.0.0.1:1",
            "http://127.0.0.1",
            "http://127.0.0.1:1/x?y",
        ] {
            assert!(
                matches!(Target::parse(malformed), Err(TargetError::Malformed(_))),
                "{malformed}"
            );
        }
    }
}
