//! The request body, read whole before routing: within the body timeout
//! (408 otherwise, and the connection is closed) and within the size limit
//! (413 otherwise). A body shorter than its `Content-Length` therefore gets
//! 408 instead of holding the connection.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// `req` with its body read into memory, or the answer to send instead.
pub async fn read_body<B>(
    req: Request<B>,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Request<Body>, Response<Body>>
where
    B: axum::body::HttpBody,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(timeout, Limited::new(body, max_bytes).collect()).await {
        Ok(Ok(collected)) => Ok(Request::from_parts(parts, Body::from(collected.to_bytes()))),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is too large",
        )),
        // The client broke off (or sent a malformed chunked body).
        Ok(Err(_)) => Err(error(
            StatusCode::BAD_REQUEST,
            "body_unreadable",
            "the request body could not be read",
        )),
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "the request body did not arrive in time",
        )),
    }
}

/// A JSON error that also closes the connection (the rest of the body, if
/// any, is not read).
fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": code, "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_whole_body_passes_and_a_big_one_is_refused() {
        let req = Request::new(Body::from("hello"));
        let read = read_body(req, Duration::from_secs(1), 5).await.unwrap();
        let bytes = read.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");

        let req = Request::new(Body::from("hello!"));
        let refused = read_body(req, Duration::from_secs(1), 5).await.unwrap_err();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let stalled = futures_util::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
        let req = Request::new(Body::from_stream(stalled));
        let refused = read_body(req, Duration::from_millis(20), 5)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(refused.headers()[header::CONNECTION], "close");
    }
}
