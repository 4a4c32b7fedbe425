//! Stand-in servers on loopback for faults a real server cannot be made to produce on demand.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// A server that answers every request with `status` (`"403 Forbidden"`) and the JSON `body`,
/// then closes the connection. Returns its `http://` URL; it runs until the process ends.
pub fn answering(status: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                // Read the head and as much body as arrives at once; then answer and close.
                let mut buf = vec![0u8; 1 << 20];
                let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
                let _ = stream.read(&mut buf);
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            });
        }
    });
    url
}

/// A server that accepts connections and never answers. Returns its `http://` URL.
pub fn hanging() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.extend(stream.ok());
        }
    });
    url
}
