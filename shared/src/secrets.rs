//! Secrets are never shown (formats.md, "Secrets are never shown"): the one rule, used by every output of the
//! agent and by the console, that decides which values of a configuration are masked.
//!
//! A value is masked by what it is:
//! - a string whose key is secret-like (see [`is_secret_name`]), at any depth, also as a list item;
//! - the `value` of an environment entry (`{name: GITHUB_TOKEN, value: ...}`) whose `name` is secret-like;
//! - inside a multi-line string, the value of every `key: value` or `key=value` line whose key is secret-like;
//! - a string holding a PEM private key, whatever its key.
//!
//! Booleans, numbers and null are never masked: `createSecret: true` tells nothing.

use serde_json::Value as Json;

use crate::keypath::{KeyPath, Segment};

/// What a secret value is shown as.
pub const MASK: &str = "******";

/// Words that make a name secret-like (after splitting camelCase and separators, lowercased; plurals too).
const SECRET_WORDS: [&str; 8] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
    "privatekey",
];

/// Whether a word is one of [`SECRET_WORDS`], or its plural.
fn is_secret_word(word: &str) -> bool {
    let singular = word.strip_suffix('s').unwrap_or(word);
    SECRET_WORDS.contains(&word) || SECRET_WORDS.contains(&singular)
}

/// Last words that make a name point at a secret rather than hold one: `secretName`, `secretKeyRef`,
/// `passwordFile`, `tokenPath`.
const REFERENCE_WORDS: [&str; 9] = [
    "name",
    "names",
    "ref",
    "reference",
    "file",
    "path",
    "enabled",
    "create",
    "annotations",
];

/// First words that make a name a switch or a pointer: `existingSecret`, `createSecret`, `useSecretToken`.
const PREFIX_WORDS: [&str; 5] = ["existing", "create", "use", "enable", "auto"];

/// Whether a key names a secret value: split into words (camelCase, `_`, `-`, `.`, `/`, space), it has one of
/// password, passwd, passphrase, secret, token, credential(s), or the pairs api key / private key; and it does not
/// name a secret object or where one is (`existingSecret`, `secretName`, `passwordKey`, `tokenFile`).
pub fn is_secret_name(name: &str) -> bool {
    let words = words(name);
    let Some(last) = words.last() else {
        return false;
    };
    if PREFIX_WORDS.contains(&words[0].as_str()) || REFERENCE_WORDS.contains(&last.as_str()) {
        return false;
    }
    let pairs = words.windows(2).any(|pair| {
        pair[1] == "key"
            && matches!(pair[0].as_str(), "api" | "private" | "secret" | "access")
            && !(pair[0] == "access" && words.len() == 2)
    });
    // `passwordKey`, `tokenKey`: the key under which a Secret holds the password, not the password.
    let key_of_secret = last == "key"
        && words.len() >= 2
        && is_secret_word(&words[words.len() - 2])
        && words[words.len() - 2] != "secret";
    if key_of_secret {
        return false;
    }
    pairs || words.iter().any(|word| is_secret_word(word))
}

/// The words of a name: `clientSecret` → client, secret; `GITHUB_TOKEN` → github, token; `APIKey` → api, key.
/// ASCII case rules only (key names are ASCII in practice), which keeps Unicode case tables out of the console.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let chars: Vec<char> = name.chars().collect();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        // A new word starts at an upper-case letter after a lower-case one or a digit (`clientSecret`), or at the
        // last capital of a run followed by a lower-case letter (`APIKey` → API, Key).
        let starts_word = c.is_ascii_uppercase()
            && previous.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if starts_word && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Masks, in place, every secret in `value`, which sits at `path` (its last key decides for a scalar).
pub fn mask(path: &KeyPath, value: &mut Json) {
    let key = path.0.iter().rev().find_map(|segment| match segment {
        Segment::Key(key) => Some(key.as_str()),
        Segment::Index(_) => None,
    });
    mask_under(key.is_some_and(is_secret_name), value);
}

/// `value` as shown in a report: a copy with its secrets masked.
pub fn masked(path: &KeyPath, value: &Json) -> Json {
    let mut value = value.clone();
    mask(path, &mut value);
    value
}

fn mask_under(secret_key: bool, value: &mut Json) {
    match value {
        Json::String(text) => {
            if secret_key || text.contains("PRIVATE KEY-----") {
                *text = MASK.to_string();
            } else if text.contains('\n')
                && let Some(lines) = masked_lines(text)
            {
                *text = lines;
            }
        }
        // A list takes the name of its key: `passwords: [a, b]` are two secrets.
        Json::Array(items) => items
            .iter_mut()
            .for_each(|item| mask_under(secret_key, item)),
        Json::Object(map) => {
            let env_secret =
                matches!(map.get("name"), Some(Json::String(name)) if is_secret_name(name));
            for (key, child) in map.iter_mut() {
                mask_under(is_secret_name(key) || (env_secret && key == "value"), child);
            }
        }
        Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
}

/// A block string with the values of its secret-like `key: value` / `key=value` lines masked, when it has any.
fn masked_lines(text: &str) -> Option<String> {
    let mut changed = false;
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let split = line
            .find(": ")
            .map(|at| (at, at + 2))
            .or_else(|| line.find('=').map(|at| (at, at + 1)));
        match split {
            Some((key_end, value_start))
                if value_start < line.len()
                    && is_secret_name(
                        line[..key_end].trim().trim_matches(['"', '\'', '-', ' ']),
                    ) =>
            {
                out.push_str(&line[..value_start]);
                out.push_str(MASK);
                changed = true;
            }
            _ => out.push_str(line),
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_split_into_words() {
        assert_eq!(words("clientSecret"), ["client", "secret"]);
        assert_eq!(words("GITHUB_TOKEN"), ["github", "token"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("oidc.config"), ["oidc", "config"]);
        assert_eq!(words("x-api-key"), ["x", "api", "key"]);
    }

    #[test]
    fn secret_names_by_their_words() {
        for name in [
            "password",
            "postgresPassword",
            "adminPassword",
            "clientSecret",
            "GITHUB_TOKEN",
            "apiKey",
            "api_key",
            "API_KEY",
            "privateKey",
            "credentials",
            "secretKey",
            "secretAccessKey",
            "redis-password",
            "jwtSecret",
        ] {
            assert!(is_secret_name(name), "{name} is secret");
        }
        for name in [
            "key",
            "labelKey",
            "instanceLabelKey",
            "imagePullPolicy",
            "existingSecret",
            "existingSecretPasswordKey",
            "secretName",
            "secretKeyRef",
            "passwordKey",
            "createSecret",
            "tokenFile",
            "host",
            "monkey",
            "accessKey",
        ] {
            assert!(!is_secret_name(name), "{name} is not secret");
        }
    }

    #[test]
    fn masks_by_what_a_value_is() {
        let mut value = json!({
            "auth": { "password": "p1", "existingSecret": "my-secret", "enabled": true },
            "createSecret": true,
            "port": 5432,
            "extraDeploy": [{ "kind": "Secret", "stringData": { "password": "p2" } }],
            "env": [{ "name": "GITHUB_TOKEN", "value": "t1" }, { "name": "LOG_LEVEL", "value": "debug" }],
            "passwords": ["p3", "p4"],
            "oidc.config": "name: SSO\nclientID: argo\nclientSecret: s1\n",
            "tls": { "key": "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n" },
            "application": { "instanceLabelKey": "argocd.argoproj.io/instance" },
        });
        mask(&KeyPath::root(), &mut value);
        let shown = value.to_string();
        for secret in ["p1", "p2", "p3", "p4", "t1", "s1", "abc"] {
            assert!(
                !shown.contains(&format!("\"{secret}"))
                    && !shown.contains(&format!(" {secret}\\n")),
                "{secret}: {shown}"
            );
        }
        assert_eq!(value["auth"]["existingSecret"], "my-secret");
        assert_eq!(value["createSecret"], true);
        assert_eq!(value["port"], 5432);
        assert_eq!(value["env"][1]["value"], "debug");
        assert_eq!(
            value["oidc.config"],
            "name: SSO\nclientID: argo\nclientSecret: ******\n"
        );
        assert_eq!(
            value["application"]["instanceLabelKey"],
            "argocd.argoproj.io/instance"
        );
        let mut list_item = json!("p5");
        mask(&KeyPath::parse("db.passwords[1]").unwrap(), &mut list_item);
        assert_eq!(list_item, MASK);
    }
}
