//! Test servers on 127.0.0.1 for what httpmock cannot do: answer in sequence, cut a
//! response short, or drop a connection after reading the request.

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted answer.
pub enum Answer {
    /// A complete response: status, content type, body.
    Full(u16, &'static str, String),
    /// Headers of a 200 event stream, then `body`, then the connection closes (a stream
    /// cut wherever `body` ends).
    EventStream(String),
    /// Read the request, then close without answering.
    Drop,
}

/// Serves `answers` in order, one connection each (every response closes its
/// connection). Returns the base URL and a count of requests read.
pub async fn scripted(answers: Vec<Answer>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        for answer in answers {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            if !read_request(&mut socket).await {
                return;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let (head, body) = match answer {
                Answer::Full(status, content_type, body) => (
                    format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    ),
                    body,
                ),
                Answer::EventStream(body) => (
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n".to_owned(),
                    body,
                ),
                Answer::Drop => (String::new(), String::new()),
            };
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (format!("http://{address}"), requests)
}

/// An upstream that hands every connection to `handler` with the request head it read
/// (request line and headers), keeping each head. Returns the base URL and the heads.
pub async fn serve<F, Fut>(handler: F) -> (String, Arc<Mutex<Vec<String>>>)
where
    F: Fn(String, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (seen, handler) = (seen.clone(), handler.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut socket).await else {
                    return;
                };
                seen.lock().unwrap().push(head.clone());
                handler(head, socket).await;
            });
        }
    });
    (format!("http://{address}"), heads)
}

/// Writes `text` and closes the connection.
pub async fn answer(mut socket: TcpStream, text: String) {
    let _ = socket.write_all(text.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// A `200` chunked JSON array that never ends (until the peer stops reading).
pub async fn endless_json(_head: String, mut socket: TcpStream) {
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "0,".repeat(32 * 1024));
    let _ = socket.write_all(b"1\r\n[\r\n").await;
    while socket.write_all(chunk.as_bytes()).await.is_ok() {}
}

/// Reads one whole request; false if the peer left.
async fn read_request(socket: &mut TcpStream) -> bool {
    read_head(socket).await.is_some()
}

/// Reads one whole request (headers and `content-length` body) and returns its head.
async fn read_head(socket: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    let line = line.to_ascii_lowercase();
                    line.strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return Some(text[..end].to_owned());
            }
        }
    }
}
