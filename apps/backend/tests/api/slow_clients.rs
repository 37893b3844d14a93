//! Clients that hold a connection without finishing their request: the server lets go
//! of them instead of keeping a task and a socket for each.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app_with;

/// Everything the server sends until it closes the connection; `None` if it is still open
/// after `patience` (far longer than the limit the test set).
async fn until_closed(stream: &mut TcpStream, patience: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(patience, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&received).into_owned())
}

fn host_port(address: &str) -> &str {
    address.trim_start_matches("http://")
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = spawn_app_with(&[("HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let mut stream = TcpStream::connect(host_port(&app.address)).await.unwrap();

    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let answer = until_closed(&mut stream, Duration::from_secs(20)).await;

    let answer = answer.expect("the server still holds the connection");
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn a_message_whose_body_stops_arriving_gets_a_json_408() {
    let app = spawn_app_with(&[("REQUEST_TIMEOUT_SECS", "1")]).await;
    let guest = app
        .client
        .post(app.url("/api/auth/guest"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let cookie = guest.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session: serde_json::Value = guest.json().await.unwrap();
    let csrf = session["csrf_token"].as_str().unwrap();
    let mut stream = TcpStream::connect(host_port(&app.address)).await.unwrap();

    // The streaming endpoint has no overall time limit (replies take long); a body that
    // stalls must still end the request.
    let head = format!(
        "POST /api/ai/message HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"content\": \"I",
        host_port(&app.address)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = until_closed(&mut stream, Duration::from_secs(20)).await;

    let answer = answer.expect("the server still waits for the body");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
}
