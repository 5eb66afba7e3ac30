//! What the API answers when a request cannot be served: `{"error", "message"}` with a status, or a report with
//! 422. Handlers reject with a [`Problem`]; [`recover`] turns every rejection into its body.

use std::convert::Infallible;

use shared::api::ApiError;
use shared::report::Report;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

/// A request the agent refuses, with the body to answer.
#[derive(Debug)]
pub enum Problem {
    /// An error body with its status.
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The body.
        body: ApiError,
        /// Seconds for the `Retry-After` header (429).
        retry_after: Option<u64>,
    },
    /// Input that failed validation: 422 with the report.
    Invalid(Report),
    /// 405: the path exists but does not answer the request's method.
    MethodNotAllowed {
        /// The methods it answers, for the `Allow` header (RFC 9110), e.g. `GET, POST`.
        allow: &'static str,
    },
}

impl warp::reject::Reject for Problem {}

impl Problem {
    /// An error body with a status, a stable code and a message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Problem {
        Problem::Api {
            status,
            body: ApiError {
                error: code.into(),
                message: message.into(),
                running: None,
            },
            retry_after: None,
        }
    }

    /// 401, the same whatever was wrong.
    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "log on first: no valid session",
        )
    }

    /// 404 saying what was not found.
    pub fn not_found(what: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", what)
    }

    /// 400 saying what is wrong with the request.
    pub fn bad_request(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }

    /// 403 saying which role is needed and which the account has.
    pub fn forbidden(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 409 naming the upgrade that holds the lock, in the words the console uses for it.
    pub fn upgrade_running(id: i64) -> Problem {
        let blocker = shared::start::Blocker::Running(id);
        Problem::Api {
            status: StatusCode::CONFLICT,
            body: ApiError {
                error: blocker.code().into(),
                message: blocker.to_string(),
                running: Some(id),
            },
            retry_after: None,
        }
    }

    /// 500 for a failure on the agent's side; the details go to the agent's log, not to the client.
    pub fn internal(error: impl std::fmt::Display) -> Problem {
        tracing::error!("request failed: {error}");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the agent failed to answer; see its log",
        )
    }
}

impl From<crate::Error> for Problem {
    fn from(e: crate::Error) -> Self {
        use crate::accounts::Refusal;
        let crate::Error::Account { refusal, .. } = &e else {
            return Problem::internal(e);
        };
        let (status, code) = match refusal {
            // An account the agent cannot use (its stored role names no role) gets nothing, and is told why.
            Refusal::StoredRole(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Refusal::Unknown => (StatusCode::NOT_FOUND, "not-found"),
            Refusal::LastAdmin(_) => (StatusCode::CONFLICT, "last-admin"),
            Refusal::NameTaken => (StatusCode::CONFLICT, "name-taken"),
            Refusal::BadName | Refusal::ShortPassword(_) => {
                (StatusCode::BAD_REQUEST, "bad-request")
            }
        };
        Problem::new(status, code, e.to_string())
    }
}

impl From<crate::operations::Refusal> for Problem {
    fn from(refusal: crate::operations::Refusal) -> Self {
        use crate::operations::Refusal;
        match refusal {
            Refusal::Running(id) => Problem::upgrade_running(id),
            Refusal::NotFound(_) => Problem::not_found(refusal.to_string()),
            Refusal::State { .. } => {
                Problem::new(StatusCode::CONFLICT, "wrong-state", refusal.to_string())
            }
            Refusal::Agent(e) => Problem::internal(e),
        }
    }
}

/// The one place that turns rejections into answers.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    if let Some(problem) = rejection.find::<Problem>() {
        return Ok(answer(problem));
    }
    // A rejection combines those of every route tried: the specific ones first, 405 and 404 only when nothing
    // more specific applies.
    let (status, code, message) = if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "the upload is larger than the agent accepts".to_string(),
        )
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        (
            StatusCode::LENGTH_REQUIRED,
            "length-required",
            "send a Content-Length".to_string(),
        )
    } else if let Some(e) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        (
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("the body is not what this route expects: {e}"),
        )
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        (
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("bad query string: {e}"),
        )
    } else if let Some(e) = rejection.find::<warp::reject::UnsupportedMediaType>() {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            e.to_string(),
        )
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        (StatusCode::BAD_REQUEST, "bad-request", e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::MissingHeader>() {
        (StatusCode::BAD_REQUEST, "bad-request", e.to_string())
    } else if rejection.is_not_found() {
        (
            StatusCode::NOT_FOUND,
            "not-found",
            "no such page or resource".to_string(),
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "this method is not allowed here".to_string(),
        )
    } else {
        tracing::warn!("unhandled rejection: {rejection:?}");
        (
            StatusCode::BAD_REQUEST,
            "bad-request",
            "the request could not be understood".to_string(),
        )
    };
    Ok(answer(&Problem::new(status, code, message)))
}

fn answer(problem: &Problem) -> Response {
    match problem {
        Problem::Api {
            status,
            body,
            retry_after,
        } => {
            let mut response =
                warp::reply::with_status(warp::reply::json(body), *status).into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(warp::http::header::RETRY_AFTER, (*seconds).into());
            }
            response
        }
        Problem::Invalid(report) => {
            warp::reply::with_status(warp::reply::json(report), StatusCode::UNPROCESSABLE_ENTITY)
                .into_response()
        }
        Problem::MethodNotAllowed { allow } => {
            let body = ApiError {
                error: "method-not-allowed".into(),
                message: format!("this path answers {allow} only"),
                running: None,
            };
            let mut response =
                warp::reply::with_status(warp::reply::json(&body), StatusCode::METHOD_NOT_ALLOWED)
                    .into_response();
            response.headers_mut().insert(
                warp::http::header::ALLOW,
                warp::http::HeaderValue::from_static(allow),
            );
            response
        }
    }
}
