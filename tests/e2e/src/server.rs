//! A small threaded HTTP/1.1 server for tests: serves the built app (with
//! the single-page-app fallback a static host is configured with), or
//! answers from a handler, and records every request it receives.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// A request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path with query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn query_pairs(&self) -> HashMap<String, String> {
        let query = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        form_urlencoded::parse(query.as_bytes()).into_owned().collect()
    }

    pub fn form_pairs(&self) -> HashMap<String, String> {
        form_urlencoded::parse(self.body.as_bytes()).into_owned().collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response to send.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response { status, content_type: "application/json".into(), body: value.to_string().into_bytes() }
    }

    pub fn text(status: u16, body: &str) -> Response {
        Response { status, content_type: "text/plain".into(), body: body.as_bytes().to_vec() }
    }
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// A running server on 127.0.0.1; stops when the test process ends. A
/// clone sees the same server (another's handler may wait on its requests).
#[derive(Clone)]
pub struct TestServer {
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    connections: Arc<AtomicUsize>,
}

impl TestServer {
    /// Starts a server that answers every request with `handler`. CORS is
    /// open, as a SMART server's token and FHIR endpoints are to apps.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let recorded = requests.clone();
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = connections.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                accepted.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let recorded = recorded.clone();
                thread::spawn(move || serve(stream, &handler, &recorded));
            }
        });
        TestServer { port, requests, connections }
    }

    /// Serves a built app directory the way a static host with an SPA
    /// rewrite does; `overrides` replace (Some) or remove (None) files.
    pub fn static_app(dir: &Path, overrides: HashMap<String, Option<Response>>) -> TestServer {
        let dir = dir.to_path_buf();
        TestServer::start(move |request| {
            let path = request.path().to_string();
            if let Some(answer) = overrides.get(&path) {
                return answer.clone().unwrap_or_else(|| Response::text(404, "not found"));
            }
            static_file(&dir, &path)
        })
    }

    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// How many connections were opened to it so far, whether or not a
    /// request came on them (a browser's preconnect sends none).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A file from a built app directory, with the SPA fallback.
pub fn static_file(dir: &Path, path: &str) -> Response {
    let relative = path.trim_start_matches('/');
    if relative.split('/').any(|segment| segment == "..") {
        return Response::text(400, "bad path");
    }
    let mut file: PathBuf = dir.join(relative);
    // The SPA fallback: a path that is not a file is the app's route.
    if relative.is_empty() || !file.is_file() {
        if Path::new(relative).extension().is_some() {
            return Response::text(404, "not found");
        }
        file = dir.join("index.html");
    }
    match std::fs::read(&file) {
        Ok(body) => Response { status: 200, content_type: smart_sandbox::static_app::content_type(&file).into(), body },
        Err(_) => Response::text(404, "not found"),
    }
}

fn serve(stream: TcpStream, handler: &Handler, recorded: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let request = Request { method, target, headers, body: String::from_utf8_lossy(&body).into_owned() };
    let response = if request.method == "OPTIONS" { Response::text(204, "") } else { handler(&request) };
    recorded.lock().unwrap().push(request);
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\n\
         Access-Control-Allow-Headers: *\r\nAccess-Control-Allow-Methods: GET, POST, OPTIONS\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&response.body);
    let _ = stream.flush();
}
