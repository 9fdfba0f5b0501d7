//! The load generator's HTTP/1.1 client: each load task keeps one
//! keep-alive connection and sends a request whose method, path, headers
//! and body were built once. The bench process shares the two cores with
//! the server it measures, so every microsecond it spends is one the server
//! cannot have: through reqwest (pool, URL parsing, form encoding per
//! request) the client cost about 44 µs of CPU per token, more than half of
//! the server's own 74 µs.

use std::net::SocketAddr;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;

use super::http::BenchError;

/// A request built once and sent over and over.
#[derive(Clone)]
pub struct Prepared {
    addr: SocketAddr,
    method: Method,
    path: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Prepared {
    /// `GET url` (an `http://` address on loopback).
    pub fn get(url: &str) -> Result<Self, BenchError> {
        Self::new(Method::GET, url, HeaderMap::new(), Bytes::new())
    }

    /// A `client_credentials` token request to `token_url` with HTTP Basic
    /// client authentication (RFC 6749 §2.3.1: both parts form-encoded).
    pub fn client_credentials(token_url: &str, id: &str, secret: &str) -> Result<Self, BenchError> {
        use base64::Engine;
        let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", encode(id), encode(secret)));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {basic}"))?);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        Self::new(Method::POST, token_url, headers, Bytes::from_static(b"grant_type=client_credentials"))
    }

    fn new(method: Method, url: &str, mut headers: HeaderMap, body: Bytes) -> Result<Self, BenchError> {
        let url = url::Url::parse(url)?;
        let addr = *url.socket_addrs(|| None)?.first().ok_or("no address")?;
        headers.insert(header::HOST, HeaderValue::from_str(&addr.to_string())?);
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        Ok(Self { addr, method, path: path.parse()?, headers, body })
    }

    /// A new connection to the request's server.
    pub async fn connect(&self) -> Result<Connection, Box<dyn std::error::Error + Send + Sync>> {
        let stream = tokio::net::TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Connection { sender })
    }
}

/// One keep-alive connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Sends `request` and reads the whole answer: whether it was a 2xx.
    /// An error means the connection is no longer usable.
    pub async fn send(&mut self, request: &Prepared) -> Result<bool, hyper::Error> {
        let mut r = Request::new(Full::new(request.body.clone()));
        *r.method_mut() = request.method.clone();
        *r.uri_mut() = request.path.clone();
        *r.headers_mut() = request.headers.clone();
        self.sender.ready().await?;
        let answer = self.sender.send_request(r).await?;
        let ok = answer.status().is_success();
        answer.into_body().collect().await?;
        Ok(ok)
    }
}
