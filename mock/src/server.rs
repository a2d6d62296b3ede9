//! HTTP/1.1 server: accept loop, routing, request recording and the
//! `/__mock/*` control endpoints.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::log::RequestLog;
use crate::openai::ApiError;
use crate::overrides::Overrides;
use crate::response::{deliver, MockBody, MockResponse, StreamCut};
use crate::routes::Route;

/// Largest request body accepted (larger ones get 413).
pub const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;

/// Shared state of one server.
#[derive(Debug, Default)]
pub struct State {
    log: Mutex<RequestLog>,
}

impl State {
    fn log(&self) -> MutexGuard<'_, RequestLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serves the mock on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) {
    let state = Arc::new(State::default());
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // e.g. EMFILE: back off instead of spinning.
                eprintln!("mock-llm: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(req, &state).await) }
            });
            // Errors here are client hang-ups and malformed HTTP: nothing to do.
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                if !e.is_incomplete_message() && !is_stream_cut(&e) {
                    eprintln!("mock-llm: connection error: {e}");
                }
            }
        });
    }
}

/// True for the deliberate abort of `x-mock-stream-cut`.
fn is_stream_cut(e: &hyper::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.is::<StreamCut>())
}

async fn handle(req: Request<Incoming>, state: &State) -> Response<MockBody> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    if let Some(rest) = path.strip_prefix("/__mock/") {
        return control(&parts.method, rest, state).into_full();
    }
    let route = Route::of(&path);
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return route.too_large(MAX_REQUEST_BODY).into_full()
        }
        Err(e) => {
            return route
                .unreadable(format!("could not read the request body: {e}"))
                .into_full()
        }
    };
    state.log().record(&parts, &body);
    let overrides = match Overrides::from_headers(&parts.headers) {
        Ok(o) => o,
        Err(bad) => return route.bad_header(&bad).into_full(),
    };
    let resp = route.answer(&parts.method, &path, parts.uri.query(), &body, &overrides);
    deliver(resp, &overrides).await
}

/// `GET /__mock/health`, `GET|DELETE /__mock/requests`.
fn control(method: &Method, rest: &str, state: &State) -> MockResponse {
    match (method, rest) {
        (&Method::GET, "health") => MockResponse::json(StatusCode::OK, &b"{\"status\":\"ok\"}"[..]),
        (&Method::GET, "requests") => match state.log().to_json() {
            Ok(json) => MockResponse::json(StatusCode::OK, json),
            Err(e) => ApiError::server(format!("could not serialise the log: {e}")).into_response(),
        },
        (&Method::DELETE, "requests") => {
            state.log().clear();
            MockResponse::empty(StatusCode::NO_CONTENT)
        }
        (_, "health" | "requests") => {
            ApiError::method_not_allowed(method, &format!("/__mock/{rest}")).into_response()
        }
        _ => ApiError::unknown_url(method, &format!("/__mock/{rest}")).into_response(),
    }
}
