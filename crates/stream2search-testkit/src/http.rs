//! A minimal blocking HTTP/1.1 client for a server on loopback.
//!
//! It returns the status and the exact body bytes, whatever the status, and sends whatever
//! headers it is given (no `Accept-Encoding`, so the server never compresses its answer).
//! A request whose body the server refuses early (413) is still read: the server answers and
//! discards the rest, and a write that fails because it closed is not an error as long as an
//! answer can be read.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;

/// How long one request may wait for the server before it fails.
const TIMEOUT: Duration = Duration::from_secs(60);

/// An HTTP response: status, headers as sent, and the exact body bytes.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// Header names (lower-cased) and values, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body exactly as sent (after undoing chunked transfer encoding).
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text; panics if it is not UTF-8 (OpenSearch always answers in UTF-8 JSON).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("response body is not UTF-8")
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {:?}", self.text()))
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request to `host:port` and reads the whole response.
///
/// `headers` are sent as given, after `Host` and `Content-Length`.
pub fn request(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n");
    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let sent = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
    match read_response(&mut BufReader::new(&stream)) {
        Ok(response) => Ok(response),
        Err(read_error) => Err(sent.err().unwrap_or(read_error)),
    }
}

/// Gzip-compresses `bytes` (for a `Content-Encoding: gzip` request body).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

fn read_response(reader: &mut impl BufRead) -> io::Result<Response> {
    let status_line = read_line(reader)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(reader)?
    } else if let Some(length) = find("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(format!("bad content-length {length:?}")))?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_line(reader)?;
    }
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before the response was complete",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_body_of_known_length_exactly() {
        let raw = b"HTTP/1.1 201 Created\r\ncontent-length: 4\r\nX-A: b\r\n\r\n{}\r\nextra";
        let response = read_response(&mut &raw[..]).unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(response.body, b"{}\r\n");
        assert_eq!(response.header("x-a"), Some("b"));
    }

    #[test]
    fn joins_chunks_of_a_chunked_body() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let response = read_response(&mut &raw[..]).unwrap();
        assert_eq!(response.body, b"abcde");
    }

    #[test]
    fn an_empty_413_is_a_response_not_an_error() {
        let raw = b"HTTP/1.1 413 Request Entity Too Large\r\ncontent-length: 0\r\n\r\n";
        let response = read_response(&mut &raw[..]).unwrap();
        assert_eq!((response.status, response.body.len()), (413, 0));
    }

    #[test]
    fn gzip_output_starts_with_the_gzip_magic_bytes() {
        assert_eq!(&gzip(b"hello")[..2], &[0x1f, 0x8b]);
    }
}
