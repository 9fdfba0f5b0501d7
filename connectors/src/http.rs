//! The HTTP client every connector shares: bounded bodies, no redirects
//! followed (a redirect could carry a token to another host), JSON only.

use std::time::Duration;

use reqwest::header::HeaderMap;
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
        let (status, _, value) = self.json_with_headers(request, what).await?;
        Ok((status, value))
    }

    async fn json_with_headers(
        &self,
        request: RequestBuilder,
        what: &str,
    ) -> Result<(StatusCode, HeaderMap, Value), ConnectorError> {
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| ConnectorError::Unreachable(format!("{what}: {}", describe(&e))))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_limited(response, what).await?;
        let value = serde_json::from_slice(&body)
            .map_err(|_| ConnectorError::Unreachable(format!("{what}: answered {status} without a JSON body")))?;
        Ok((status, headers, value))
    }

    /// GET `url` of a throttled API (Graph, Google's Admin SDK) with a bearer
    /// `token`. A `429` or `503` (and Google's `403 rateLimitExceeded`) is
    /// retried after the `Retry-After` the API asked for — never sooner —
    /// or, without one, after an exponential backoff; at most
    /// [`MAX_ATTEMPTS`] tries. Other answers are returned as they are.
    pub async fn get_paced(&self, url: &str, token: &str, what: &str) -> Result<(StatusCode, Value), ConnectorError> {
        let mut backoff = Duration::from_secs(1);
        for _ in 1..MAX_ATTEMPTS {
            let (status, headers, body) = self.json_with_headers(self.client.get(url).bearer_auth(token), what).await?;
            if !throttled(status, &body) {
                return Ok((status, body));
            }
            let wait = retry_after(&headers).unwrap_or(backoff).min(MAX_WAIT);
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(MAX_WAIT);
        }
        self.json(self.client.get(url).bearer_auth(token), what).await
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

/// Tries of one throttled call before its answer is taken as it is.
pub const MAX_ATTEMPTS: usize = 8;
/// The longest wait between two tries.
const MAX_WAIT: Duration = Duration::from_secs(300);

fn throttled(status: StatusCode, body: &Value) -> bool {
    let google_rate = status == StatusCode::FORBIDDEN
        && body.pointer("/error/errors").and_then(Value::as_array).is_some_and(|es| {
            es.iter().any(|e| {
                e.get("reason")
                    .and_then(Value::as_str)
                    .is_some_and(|r| r.contains("RateLimitExceeded") || r == "rateLimitExceeded")
            })
        });
    status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE || google_rate
}

/// `Retry-After` in seconds (the form Graph and Google send), rounded up
/// by a tenth so a retry never lands early.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs) + Duration::from_millis(100))
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

/// The access token of a token endpoint's answer and its lifetime in
/// seconds (60 s to a day; an hour when not said), or why there is none.
pub fn access_token(status: StatusCode, body: &Value, what: &str) -> Result<(String, i64), ConnectorError> {
    if !status.is_success() {
        return Err(match oauth_error(body) {
            Some(error) => ConnectorError::Refused { error },
            None => ConnectorError::Unreachable(format!("{what}: answered {status}")),
        });
    }
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| ConnectorError::Unreachable(format!("{what}: no access_token")))?
        .to_owned();
    Ok((token, body.get("expires_in").and_then(Value::as_i64).unwrap_or(3600).clamp(60, 86_400)))
}

/// The OAuth `error` of an error body, if it has one.
pub fn oauth_error(body: &Value) -> Option<String> {
    body.get("error").and_then(Value::as_str).filter(|e| e.len() <= 64).map(str::to_owned)
}
