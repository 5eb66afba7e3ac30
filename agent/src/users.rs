//! `agent users`: adds, lists and removes accounts, sets their passwords and roles, in the data directory of an
//! agent (running or not: the agent reads accounts and roles from the database on every request).
//!
//! A password is never an argument (it would show in `ps` and in the shell's history): it is read from the
//! terminal without echo, typed twice, or from the first line of stdin when stdin is not a terminal.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

use clap::{Args as ClapArgs, Subcommand};
use shared::api::{AccountView, Role};

use crate::accounts::{self, MIN_PASSWORD_CHARS};
use crate::db::Db;
use crate::validate::{EXIT_NOT_OK, EXIT_OK};

/// Longest line read as a password from stdin (a bound on what a pipe can make the command hold).
const MAX_PASSWORD_LINE: u64 = 4096;

/// `agent users`: the accounts of an agent.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Directory of the agent's database, as given to `agent serve`.
    #[arg(long, env = "AGENT_DATA_DIR", default_value = "./.data", global = true)]
    pub data_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// One `agent users` action.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Add an account (its password is read from the terminal, or from stdin's first line).
    Add {
        /// The account's name: 1 to 64 letters, digits, dots, dashes or underscores.
        name: String,
        /// What it may do: viewer, operator or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Set an account's password (read as for `add`); ends all its sessions.
    Passwd {
        /// The account's name.
        name: String,
    },
    /// Remove an account; its sessions end at once.
    Remove {
        /// The account's name.
        name: String,
    },
    /// Change an account's role; its sessions have the new role from their next request.
    Role {
        /// The account's name.
        name: String,
        /// The new role: viewer, operator or admin.
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// List the accounts: name, role, created, last logon (while one of its sessions is open).
    List,
}

/// A role named on the command line.
fn parse_role(word: &str) -> Result<Role, String> {
    word.parse()
        .map_err(|e: shared::api::UnknownRole| e.to_string())
}

/// Runs an `agent users` action; returns the exit status (0 done, 1 refused or failed).
pub fn run(args: Args) -> i32 {
    match act(&args) {
        Ok(said) => {
            println!("{said}");
            EXIT_OK
        }
        Err(message) => {
            eprintln!("agent users: {message}");
            EXIT_NOT_OK
        }
    }
}

/// Does the action; returns what to print.
fn act(args: &Args) -> Result<String, String> {
    let db = open(&args.data_dir)?;
    let text = |e: crate::Error| e.to_string();
    let by = &who();
    match &args.action {
        Action::Add { name, role } => {
            let password = read_password(name)?;
            accounts::create(&db, by, name, *role, &password).map_err(text)?;
            Ok(format!("account `{name}` added with the {role} role"))
        }
        Action::Passwd { name } => {
            let password = read_password(name)?;
            accounts::set_password(&db, by, name, &password).map_err(text)?;
            Ok(format!(
                "password of `{name}` changed; its sessions are ended"
            ))
        }
        Action::Remove { name } => {
            accounts::remove(&db, by, name).map_err(text)?;
            Ok(format!("account `{name}` removed; its sessions are ended"))
        }
        Action::Role { name, role } => {
            let before = accounts::set_role(&db, by, name, *role).map_err(text)?;
            Ok(format!(
                "account `{name}`: role {before} -> {role} (from its next request)"
            ))
        }
        Action::List => Ok(table(&accounts::list(&db).map_err(text)?)),
    }
}

/// Who the account audit names for a change made here: the command line has no account, so the operating
/// system's user (from `USER`, as the shell set it) stands for the person.
fn who() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
    format!("agent users (OS user {user})")
}

/// Opens the database of an agent that has started at least once (a database created here would hold accounts
/// without `admin`, and the agent's first start would then not create it).
fn open(data_dir: &std::path::Path) -> Result<Db, String> {
    let file = data_dir.join("agent.db");
    if !file.is_file() {
        return Err(format!(
            "{}: no agent database here: start `agent serve` with this --data-dir once, or give the right \
             --data-dir (or AGENT_DATA_DIR)",
            file.display()
        ));
    }
    Db::open(data_dir).map_err(|e| e.to_string())
}

/// The accounts as an aligned table.
fn table(accounts: &[AccountView]) -> String {
    let rows: Vec<[String; 4]> = accounts
        .iter()
        .map(|a| {
            [
                a.username.clone(),
                a.role.clone(),
                a.created_at.clone(),
                a.last_logon.clone().unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    let header = ["NAME", "ROLE", "CREATED", "LAST LOGON"].map(String::from);
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    std::iter::once(&header)
        .chain(&rows)
        .map(|r| {
            let line: Vec<String> = (0..4)
                .map(|i| format!("{:w$}", r[i], w = widths[i]))
                .collect();
            line.join("  ").trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The new password of `name`: typed twice without echo on a terminal, else the first line of stdin.
fn read_password(name: &str) -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = prompt_hidden(&format!(
            "New password for `{name}` (at least {MIN_PASSWORD_CHARS} characters): "
        ))?;
        let again = prompt_hidden("Again: ")?;
        if first != again {
            return Err(format!(
                "account `{name}`: the two passwords differ; nothing changed"
            ));
        }
        return Ok(first);
    }
    let mut line = String::new();
    stdin
        .lock()
        .take(MAX_PASSWORD_LINE)
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from stdin: {e}"))?;
    if !line.ends_with('\n') && line.len() as u64 == MAX_PASSWORD_LINE {
        return Err(format!(
            "the password line on stdin is longer than {MAX_PASSWORD_LINE} bytes"
        ));
    }
    if line.is_empty() {
        return Err(format!(
            "account `{name}`: no password on stdin (give it as the first line, or run on a terminal)"
        ));
    }
    Ok(strip_newline(line))
}

/// `line` without its line ending.
fn strip_newline(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

/// Turns the terminal's echo off, prints `prompt` on stderr and reads a line; the echo is restored even on error.
fn prompt_hidden(prompt: &str) -> Result<String, String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};

    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).map_err(|e| format!("reading the terminal's settings: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    // Echo off before the prompt: what is typed after seeing it is never shown.
    tcsetattr(&stdin, SetArg::TCSAFLUSH, &quiet)
        .map_err(|e| format!("turning the terminal's echo off: {e}"))?;
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let read = stdin.lock().take(MAX_PASSWORD_LINE).read_line(&mut line);
    let restored = tcsetattr(&stdin, SetArg::TCSAFLUSH, &saved);
    read.map_err(|e| format!("reading the password: {e}"))?;
    restored.map_err(|e| format!("turning the terminal's echo back on: {e}"))?;
    Ok(strip_newline(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_loses_its_ending_only() {
        assert_eq!(strip_newline("a b \r\n".into()), "a b ");
        assert_eq!(strip_newline("pw\n".into()), "pw");
        assert_eq!(strip_newline("pw".into()), "pw");
    }
}
