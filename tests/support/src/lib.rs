//! A plain HTTP/1.1 client for tests against local servers (the sandbox,
//! nginx): one request per connection, no TLS, no redirect followed, so a
//! test sees exactly what the server answered. Shared by the sandbox's
//! protocol tests and the end-to-end harness (which depends on the sandbox,
//! so the sandbox's tests cannot use the harness itself).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;

/// An HTTP answer, header names in lower case.
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The body as JSON; a test fails with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("HTTP {} is not JSON ({e}): {}", self.status, self.body))
    }
}

/// Sends one request to an `http://` URL on this machine and reads the
/// whole answer.
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not an http:// URL: {url}"));
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(host.replace("localhost", "127.0.0.1"))
        .unwrap_or_else(|e| panic!("cannot connect to {host}: {e}"));
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    parse_reply(&String::from_utf8_lossy(&raw))
}

fn parse_reply(raw: &str) -> Reply {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply { status, headers, body: body.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_headers_and_body() {
        let reply = parse_reply("HTTP/1.1 302 Found\r\nLocation: /x?a=1\r\nX-Two: a: b\r\n\r\n{\"ok\": true}");
        assert_eq!(reply.status, 302);
        assert_eq!(reply.header("location"), Some("/x?a=1"));
        assert_eq!(reply.header("X-Two"), Some("a: b"));
        assert_eq!(reply.json()["ok"], true);
        assert_eq!(parse_reply("garbage").status, 0);
    }
}
