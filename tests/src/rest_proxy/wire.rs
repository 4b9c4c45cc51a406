//! Just enough HTTP/1.1 server to stand in for a REST proxy: requests with
//! `Content-Length` or chunked bodies, keep-alive, `Expect: 100-continue`,
//! and the ways a real server's answer can go wrong on the wire (never
//! coming, stopping half way with a reset).
//!
//! Hand-written on `std::net` with a thread per connection, so that a test
//! controls every byte and every moment of the answer; what the answer says
//! is decided elsewhere (see `route`).

use core::sync::atomic::Ordering;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

use super::http::{Reply, Request, Response};
use super::route;
use super::state::Shared;

/// Longest request line or header line accepted.
const MAX_LINE: usize = 16 * 1024;
/// Most header lines accepted.
const MAX_HEADERS: usize = 100;
/// Largest request body read at all (a flavor's own cap is smaller).
pub(crate) const HARD_BODY_CAP: usize = 64 * 1024 * 1024;

/// Accepts connections until the server stops.
pub(crate) fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        // Tracked so that stopping the server can close it; untracked when
        // it ends so its descriptor closes (and a reset really resets).
        let tracked = stream.try_clone().ok().map(|clone| shared.track(clone));
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            // A connection that ends in an I/O error simply ends.
            let _ = serve_connection(stream, &shared);
            if let Some(id) = tracked {
                shared.untrack(id);
            }
        });
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader, &mut writer) {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(Refusal(response)) => {
                let _ = writer.write_all(&response.to_bytes());
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        match route::handle(shared, &request) {
            Reply::Send(response) if !close => writer.write_all(&response.to_bytes())?,
            Reply::Send(response) => {
                writer.write_all(&response.to_bytes())?;
                writer.shutdown(Shutdown::Both)?;
                return Ok(());
            }
            Reply::ResetMidway(response) => {
                let bytes = response.to_bytes();
                writer.write_all(&bytes[..bytes.len() / 2])?;
                writer.flush()?;
                reset(&writer);
                return Ok(());
            }
            Reply::Hang => {
                shared.wait_until_stopped();
                return Ok(());
            }
        }
    }
}

/// Closes with a TCP reset (RST) instead of an orderly FIN.
fn reset(stream: &TcpStream) {
    let socket = socket2::SockRef::from(stream);
    let _ = socket.set_linger(Some(core::time::Duration::ZERO));
    let _ = stream.shutdown(Shutdown::Read);
}

/// A request that cannot be read: answer this, then close.
struct Refusal(Response);

fn refuse(status: u16, message: &str) -> Refusal {
    let body = serde_json::json!({ "error_code": status, "message": message });
    Refusal(Response::new(
        status,
        "application/json",
        body.to_string().into_bytes(),
    ))
}

/// Reads one request; `Ok(None)` when the client closed the connection.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Result<Option<Request>, Refusal> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(refuse(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(refuse(400, "only HTTP/1.x is spoken here"));
    }
    let path = target.split('?').next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return Err(refuse(400, "connection closed inside the headers"));
        };
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(refuse(400, "too many headers"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(refuse(400, "malformed header line"));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method: method.to_owned(),
        path,
        headers,
        body: Vec::new(),
    };
    if request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let _ = writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    request.body = if chunked {
        read_chunked(reader)?
    } else {
        match request.header("content-length").map(str::parse::<usize>) {
            None => Vec::new(),
            Some(Ok(len)) if len <= HARD_BODY_CAP => {
                let mut body = vec![0; len];
                reader
                    .read_exact(&mut body)
                    .map_err(|_| refuse(400, "body shorter than Content-Length"))?;
                body
            }
            Some(Ok(_)) => return Err(refuse(413, "Request Entity Too Large")),
            Some(Err(_)) => return Err(refuse(400, "malformed Content-Length")),
        }
    };
    Ok(Some(request))
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, Refusal> {
    let mut body = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return Err(refuse(400, "connection closed inside a chunked body"));
        };
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| refuse(400, "malformed chunk size"))?;
        if size == 0 {
            // Trailer section, up to an empty line.
            while let Some(line) = read_line(reader)? {
                if line.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        if body.len() + size > HARD_BODY_CAP {
            return Err(refuse(413, "Request Entity Too Large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(|_| refuse(400, "chunk shorter than its size"))?;
        let mut crlf = [0u8; 2];
        reader
            .read_exact(&mut crlf)
            .map_err(|_| refuse(400, "chunk without CRLF"))?;
    }
}

/// One CRLF-terminated line without its terminator; `None` at a clean EOF.
fn read_line(reader: &mut BufReader<TcpStream>) -> Result<Option<String>, Refusal> {
    let mut line = Vec::new();
    let mut limited = reader.take(MAX_LINE as u64 + 2);
    match limited.read_until(b'\n', &mut line) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(_) => return Ok(None),
    }
    if line.last() != Some(&b'\n') {
        return Err(refuse(400, "line too long or cut off"));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| refuse(400, "header is not UTF-8"))
}
