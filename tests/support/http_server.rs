//! A small HTTP/1.1 server on 127.0.0.1 for the tests, on std `TcpListener`: one
//! request per connection (`Connection: close`), canned responses by path, and a log
//! of every request it received.
//!
//! Routes:
//!
//! | path | answer |
//! |---|---|
//! | `/hello` | 200 `hello from the test server`, header `X-Test: yes` |
//! | `/missing` | 404 `not found` |
//! | `/echo` | 200, body `METHOD PATH\n` + request headers `name: value\n` (sorted) + `\n` + request body |
//! | `/status/<code>` | that status, body `status <code>` |
//! | `/bytes/<n>` | 200, `Content-Length: n`, n bytes `x` |
//! | `/stream/<n>` | 200, no length, n bytes `x`, then the connection closes |
//! | `/claims/<n>` | 200, `Content-Length: n` but only 10 bytes, then 5 s of silence |
//! | `/slow/<ms>` | waits ms milliseconds, then 200 `slow` |
//! | `/trickle/<n>` | 200, `Content-Length: n`, then one byte `x` per second |
//! | `/redirect/out` | 302 to `http://evil.test/stolen` |
//! | `/redirect/hello` | 302 to `/hello` |
//! | `/redirect/loop` | 302 to itself |
//! | `/redirect/file` | 302 to `file:///etc/passwd` |
//! | `/redirect/see-other` | 303 to `/echo` |
//! | `/redirect/keep` | 307 to `/echo` |
//! | `/files/<name>` | 200 with the bytes registered under name, else 404 |
//! | `/guarded/<name>` | like `/files/`, but only for POST with `authorization: Bearer letmein`, else 401 |
//! | `/redirect-file/<name>` | 302 to `/files/<name>` |
#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Headers, names lowercase.
    pub headers: BTreeMap<String, String>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// The running server. It lives until the test process ends.
pub struct TestServer {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    log: Arc<Mutex<Vec<Received>>>,
}

/// What the handler threads share.
#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Vec<Received>>>,
    files: Arc<BTreeMap<String, Vec<u8>>>,
}

impl TestServer {
    /// Starts a server with no files.
    pub fn start() -> TestServer {
        TestServer::with_files(BTreeMap::new())
    }

    /// Starts a server that serves `files` under `/files/<name>`.
    pub fn with_files(files: BTreeMap<String, Vec<u8>>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test port on 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let shared = Shared {
            log: Arc::new(Mutex::new(Vec::new())),
            files: Arc::new(files),
        };
        let log = shared.log.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                thread::spawn(move || {
                    let _ = handle(stream, &shared);
                });
            }
        });
        TestServer { port, log }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `http://localhost:<port><path>`.
    pub fn localhost_url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// The paths of every request received so far.
    pub fn paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.path).collect()
    }
}

/// Reads one request and answers it.
fn handle(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let request = read_request(&mut reader)?;
    if let Ok(mut log) = shared.log.lock() {
        log.push(request.clone());
    }
    respond(stream, &request, shared)
}

/// Parses the request line, headers and a `Content-Length` body.
fn read_request(reader: &mut impl BufRead) -> std::io::Result<Received> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Received {
        method,
        path,
        headers,
        body,
    })
}

/// A complete response: status, extra headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn redirect(status: u16, location: &str) -> Answer {
        Answer::new(status, "redirecting").header("Location", location)
    }
}

/// Writes the answer for `request`.
fn respond(mut stream: TcpStream, request: &Received, shared: &Shared) -> std::io::Result<()> {
    let path = request.path.as_str();
    let number = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|n| n.parse::<u64>().ok())
    };
    if let Some(n) = number("/stream/") {
        write_head(&mut stream, 200, &[], None)?;
        return write_bytes(&mut stream, n);
    }
    if let Some(n) = number("/claims/") {
        write_head(&mut stream, 200, &[], Some(n))?;
        stream.write_all(b"0123456789")?;
        stream.flush()?;
        thread::sleep(Duration::from_secs(5));
        return Ok(());
    }
    if let Some(n) = number("/trickle/") {
        write_head(&mut stream, 200, &[], Some(n))?;
        for _ in 0..n {
            stream.write_all(b"x")?;
            stream.flush()?;
            thread::sleep(Duration::from_secs(1));
        }
        return Ok(());
    }
    if let Some(n) = number("/bytes/") {
        write_head(&mut stream, 200, &[], Some(n))?;
        return write_bytes(&mut stream, n);
    }
    if let Some(ms) = number("/slow/") {
        thread::sleep(Duration::from_millis(ms));
    }
    let answer = canned(request, shared);
    write_head(
        &mut stream,
        answer.status,
        &answer.headers,
        Some(answer.body.len() as u64),
    )?;
    stream.write_all(&answer.body)?;
    stream.flush()
}

/// The answers that fit in memory.
fn canned(request: &Received, shared: &Shared) -> Answer {
    let path = request.path.as_str();
    if let Some(code) = path
        .strip_prefix("/status/")
        .and_then(|c| c.parse::<u16>().ok())
    {
        return Answer::new(code, format!("status {code}"));
    }
    if path.starts_with("/slow/") {
        return Answer::new(200, "slow");
    }
    if let Some(name) = path.strip_prefix("/files/") {
        return file(shared, name);
    }
    if let Some(name) = path.strip_prefix("/guarded/") {
        let authorized = request.method == "POST"
            && request.headers.get("authorization").map(String::as_str) == Some("Bearer letmein");
        if !authorized {
            return Answer::new(401, "unauthorized");
        }
        return file(shared, name);
    }
    if let Some(name) = path.strip_prefix("/redirect-file/") {
        return Answer::redirect(302, &format!("/files/{name}"));
    }
    match path {
        "/hello" => Answer::new(200, "hello from the test server")
            .header("X-Test", "yes")
            .header("Content-Type", "text/plain"),
        "/missing" => Answer::new(404, "not found"),
        "/echo" => Answer::new(200, echo(request)),
        "/redirect/out" => Answer::redirect(302, "http://evil.test/stolen"),
        "/redirect/hello" => Answer::redirect(302, "/hello"),
        "/redirect/loop" => Answer::redirect(302, "/redirect/loop"),
        "/redirect/file" => Answer::redirect(302, "file:///etc/passwd"),
        "/redirect/see-other" => Answer::redirect(303, "/echo"),
        "/redirect/keep" => Answer::redirect(307, "/echo"),
        _ => Answer::new(404, "no such route"),
    }
}

/// A registered file, or 404.
fn file(shared: &Shared, name: &str) -> Answer {
    match shared.files.get(name) {
        Some(bytes) => Answer::new(200, bytes.clone()).header("Content-Type", "application/wasm"),
        None => Answer::new(404, "no such file"),
    }
}

/// The `/echo` body: method, path, headers, blank line, body.
fn echo(request: &Received) -> Vec<u8> {
    let mut text = format!("{} {}\n", request.method, request.path);
    for (name, value) in &request.headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text.push('\n');
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(&request.body);
    bytes
}

/// Writes the status line and headers.
fn write_head(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    length: Option<u64>,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
        reason(status)
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(length) = length {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())
}

/// Writes n bytes `x` in chunks (stops quietly when the client hangs up).
fn write_bytes(stream: &mut TcpStream, n: u64) -> std::io::Result<()> {
    let chunk = [b'x'; 8192];
    let mut left = n;
    while left > 0 {
        let size = left.min(chunk.len() as u64) as usize;
        stream.write_all(&chunk[..size])?;
        left -= size as u64;
    }
    stream.flush()
}

/// A reason phrase for the status line.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}
