//! Where the operator goes when a session ends, and back again after logging on.

/// Where the console lives; the agent serves it here.
pub const BASE: &str = "/opsconsole/v2";

/// A page's full path, for links and the address bar.
pub fn page(path: &str) -> String {
    format!("{BASE}{path}")
}

/// The logon page's path for an operator who was at `here` (a path inside the console, with its query).
pub fn login_path(here: &str) -> String {
    match safe_next(Some(here)) {
        Some(next) if next != "/" && !next.starts_with("/login") => {
            format!("{BASE}/login?next={}", encode_query(&next))
        }
        _ => format!("{BASE}/login"),
    }
}

/// The page to return to after logging on: only a path inside the console, never another site
/// (`//evil.example`, `https://…`), so that a crafted link cannot send the operator elsewhere.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let inside = next.strip_prefix(BASE).unwrap_or(next);
    let ok = inside.starts_with('/') && !inside.starts_with("//") && !inside.contains('\\');
    ok.then(|| inside.to_string())
}

/// Percent-encodes a query value (RFC 3986 unreserved characters and `/` kept).
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Decodes a percent-encoded query value; malformed escapes are kept as written.
pub fn decode_query(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_session_returns_to_the_page_the_operator_was_on() {
        let login = login_path("/upgrades/7?x=1");
        assert_eq!(login, "/opsconsole/v2/login?next=/upgrades/7%3Fx%3D1");
        let next = login.split_once("next=").map(|(_, n)| decode_query(n));
        assert_eq!(
            safe_next(next.as_deref()).as_deref(),
            Some("/upgrades/7?x=1")
        );
    }

    #[test]
    fn next_never_leaves_the_console() {
        assert_eq!(safe_next(Some("//evil.example/x")), None);
        assert_eq!(safe_next(Some("https://evil.example")), None);
        assert_eq!(safe_next(Some("/\\evil.example")), None);
        assert_eq!(
            safe_next(Some("/opsconsole/v2/upgrade")).as_deref(),
            Some("/upgrade")
        );
    }

    #[test]
    fn the_records_page_needs_no_next() {
        assert_eq!(login_path("/"), "/opsconsole/v2/login");
        assert_eq!(login_path("/login?next=/x"), "/opsconsole/v2/login");
    }
}
