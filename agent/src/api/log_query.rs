//! Where a reader of an upgrade's log starts and how much it takes: the `after` and `limit` query parameters of
//! `GET .../logs` and `.../logs/stream`, read with the bounds `agent/openapi.yaml` states, and a 400 naming the
//! parameter when a value is outside them.

use warp::{Filter, Rejection};

use super::problem::Problem;

/// Entries per page when the reader names no `limit`.
const DEFAULT_LIMIT: u32 = 1000;
/// Most entries one page may ask for.
const MAX_LIMIT: u32 = 10_000;

/// The position in a log and the page size a reader asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogQuery {
    /// Entries with a seq greater than this (0: from the start).
    pub after: u64,
    /// At most this many entries.
    pub limit: u32,
}

/// The query of a log route: `after` from 0 to the largest seq the records hold (2^63 - 1), `limit` from 1 to
/// 10000; other parameters are ignored.
pub fn log_query() -> impl Filter<Extract = (LogQuery,), Error = Rejection> + Clone {
    // Read as pairs, not into a typed struct: a value out of its bounds is then refused naming the parameter.
    warp::query::<Vec<(String, String)>>().and_then(|pairs: Vec<(String, String)>| async move {
        parse(pairs).map_err(Rejection::from)
    })
}

/// Reads `after` and `limit` from the query's pairs.
fn parse(pairs: Vec<(String, String)>) -> Result<LogQuery, Problem> {
    let mut query = LogQuery {
        after: 0,
        limit: DEFAULT_LIMIT,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "after" => query.after = bounded(&key, &value, 0, i64::MAX as u64)?,
            "limit" => {
                query.limit = bounded(&key, &value, 1, u64::from(MAX_LIMIT))? as u32;
            }
            _ => {}
        }
    }
    Ok(query)
}

/// `value` as a whole number from `min` to `max`, else a 400 naming `key` and the bounds.
fn bounded(key: &str, value: &str, min: u64, max: u64) -> Result<u64, Problem> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "query parameter `{key}` is `{value}`; expected a whole number from {min} to {max}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::{LogQuery, Problem};

    fn parse(raw: &str) -> Result<LogQuery, Problem> {
        let pairs = raw
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key.to_string(), value.to_string())
            })
            .collect();
        super::parse(pairs)
    }

    #[test]
    fn missing_parameters_take_their_defaults() {
        assert_eq!(
            parse("").expect("empty"),
            LogQuery {
                after: 0,
                limit: 1000
            }
        );
        assert_eq!(
            parse("after=7&other=x").expect("after").after,
            7,
            "unknown parameters are ignored"
        );
    }

    #[test]
    fn values_outside_the_bounds_are_refused_by_name() {
        for (raw, key) in [
            ("limit=0", "limit"),
            ("limit=10001", "limit"),
            ("limit=-3", "limit"),
            ("after=-1", "after"),
            ("after=9223372036854775808", "after"),
            ("after=one", "after"),
        ] {
            let message = format!("{:?}", parse(raw).expect_err(raw));
            assert!(message.contains(&format!("`{key}`")), "{raw}: {message}");
        }
        assert_eq!(parse("limit=10000").expect("the maximum").limit, 10_000);
        assert_eq!(
            parse("after=9223372036854775807")
                .expect("the largest seq")
                .after,
            i64::MAX as u64
        );
    }
}
