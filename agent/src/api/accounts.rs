//! Accounts, for admins: the list with the account audit, adding one, changing its role or password, removing it.
//! The rules (names, password length, the last admin, sessions ended) are `crate::accounts`'s, the same the
//! `agent users` command applies; every change is recorded there with the account of the session that made it.

use shared::api::{AccountList, Me, NewAccount, PasswordChange, Role, RoleChange};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::problem::Problem;
use super::{State, session_with, with_state};
use crate::accounts;
use crate::db::Db;

/// This module's paths and the methods each answers, for the `Allow` header of a 405.
pub const PATHS: &[(&str, &str)] = &[
    ("/api/v1/accounts", "GET, POST"),
    ("/api/v1/accounts/{name}", "DELETE"),
    ("/api/v1/accounts/{name}/role", "PUT"),
    ("/api/v1/accounts/{name}/password", "PUT"),
];

/// How many entries of the account audit the list carries.
const CHANGES_SHOWN: u32 = 50;

/// Largest JSON body accepted (a name, a role and a password).
const MAX_BODY: u64 = 16 * 1024;

/// The routes of this module.
pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    list(state.clone())
        .or(add(state.clone()))
        .or(remove(state.clone()))
        .or(change_role(state.clone()))
        .or(set_password(state))
}

/// Runs an account function on a blocking thread: it takes the database lock and may hash a password (Argon2 is
/// deliberately slow).
async fn blocking<T: Send + 'static>(
    state: &State,
    f: impl FnOnce(&Db) -> crate::Result<T> + Send + 'static,
) -> Result<T, Rejection> {
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || f(&db))
        .await
        .map_err(Problem::internal)?
        .map_err(|e| Problem::from(e).into())
}

/// GET /api/v1/accounts
pub fn list(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "accounts")
        .and(warp::get())
        .and(session_with(state.clone(), Role::Admin))
        .and(with_state(state))
        .and_then(list_accounts)
}

async fn list_accounts(_me: Me, state: State) -> Result<impl Reply, Rejection> {
    let list = blocking(&state, |db| {
        Ok(AccountList {
            accounts: accounts::list(db)?,
            changes: accounts::changes(db, CHANGES_SHOWN)?,
        })
    })
    .await?;
    Ok(warp::reply::json(&list))
}

/// POST /api/v1/accounts
pub fn add(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "accounts")
        .and(warp::post())
        .and(session_with(state.clone(), Role::Admin))
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::json())
        .and(with_state(state))
        .and_then(add_account)
}

async fn add_account(me: Me, new: NewAccount, state: State) -> Result<impl Reply, Rejection> {
    let name = new.username.clone();
    blocking(&state, move |db| {
        accounts::create(db, &me.username, &new.username, new.role, &new.password)
    })
    .await?;
    let added = account(&state, name).await?;
    Ok(warp::reply::with_status(
        warp::reply::json(&added),
        StatusCode::CREATED,
    ))
}

/// The account `name` as listed; 404 when there is none.
async fn account(state: &State, name: String) -> Result<shared::api::AccountView, Rejection> {
    let listed = blocking(state, accounts::list).await?;
    listed
        .into_iter()
        .find(|a| a.username == name)
        .ok_or_else(|| Problem::not_found(format!("account `{name}`: no such account")).into())
}

/// DELETE /api/v1/accounts/{name}
pub fn remove(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "accounts" / String)
        .and(warp::delete())
        .and(session_with(state.clone(), Role::Admin))
        .and(with_state(state))
        .and_then(remove_account)
}

async fn remove_account(name: String, me: Me, state: State) -> Result<impl Reply, Rejection> {
    blocking(&state, move |db| accounts::remove(db, &me.username, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// PUT /api/v1/accounts/{name}/role
pub fn change_role(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "accounts" / String / "role")
        .and(warp::put())
        .and(session_with(state.clone(), Role::Admin))
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::json())
        .and(with_state(state))
        .and_then(give_role)
}

async fn give_role(
    name: String,
    me: Me,
    change: RoleChange,
    state: State,
) -> Result<impl Reply, Rejection> {
    let n = name.clone();
    blocking(&state, move |db| {
        accounts::set_role(db, &me.username, &n, change.role)
    })
    .await?;
    Ok(warp::reply::json(&account(&state, name).await?))
}

/// PUT /api/v1/accounts/{name}/password
pub fn set_password(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "accounts" / String / "password")
        .and(warp::put())
        .and(session_with(state.clone(), Role::Admin))
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::json())
        .and(with_state(state))
        .and_then(new_password)
}

async fn new_password(
    name: String,
    me: Me,
    change: PasswordChange,
    state: State,
) -> Result<impl Reply, Rejection> {
    blocking(&state, move |db| {
        accounts::set_password(db, &me.username, &name, &change.password)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
