//! The HTTP client every connector shares: bounded bodies, no redirects
//! followed (a redirect could carry a token to another host), JSON only.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::ConnectorError;

/// The largest upstream body read (discovery, JWKS, tokens, Graph pages).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// An HTTP client for upstream calls.
#[derive(Clone, Debug)]
pub struct Http {
    client: Client,
}

impl Http {
    /// A client with connect and total timeouts and no redirect following.
    pub fn new(timeout: Duration) -> Result<Self, ConnectorError> {
        let client = Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ScaiKey/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {e}")))?;
        Ok(Self { client })
    }

    /// The underlying client, to build requests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends `request` and reads a JSON body of at most [`MAX_BODY`] bytes,
    /// with the status. `what` names the call in errors.
    pub async fn json(&self, request: RequestBuilder, what: &str) -> Result<(StatusCode, Value), ConnectorError> {
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| ConnectorError::Unreachable(format!("{what}: {}", describe(&e))))?;
        let status = response.status();
        let body = read_limited(response, what).await?;
        let value = serde_json::from_slice(&body)
            .map_err(|_| ConnectorError::Unreachable(format!("{what}: answered {status} without a JSON body")))?;
        Ok((status, value))
    }

    /// GET `url` expecting `200` and a JSON object.
    pub async fn get_json(&self, url: &str, what: &str) -> Result<Value, ConnectorError> {
        let (status, value) = self.json(self.client.get(url), what).await?;
        if status != StatusCode::OK {
            return Err(ConnectorError::Unreachable(format!("{what}: answered {status}")));
        }
        Ok(value)
    }
}

/// Reads the body, refusing more than [`MAX_BODY`] bytes.
async fn read_limited(mut response: Response, what: &str) -> Result<Vec<u8>, ConnectorError> {
    if response.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(ConnectorError::Unreachable(format!("{what}: the answer is too large")));
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| ConnectorError::Unreachable(format!("{what}: {}", describe(&e))))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ConnectorError::Unreachable(format!("{what}: the answer is too large")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error in words, without the URL's query (which may hold a code).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else if e.is_redirect() {
        "answered with a redirect".into()
    } else if e.is_body() || e.is_decode() {
        "the answer could not be read".into()
    } else {
        "the request failed".into()
    }
}

/// The OAuth `error` of an error body, if it has one.
pub fn oauth_error(body: &Value) -> Option<String> {
    body.get("error").and_then(Value::as_str).filter(|e| e.len() <= 64).map(str::to_owned)
}
