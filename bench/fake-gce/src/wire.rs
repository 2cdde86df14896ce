//! The receive-only clients' side of HTTP/1.1, shared by both clouds: reading one response off
//! a kept-alive connection, and finding a page token in it without parsing the rest.

use tokio::io::{AsyncBufReadExt, AsyncReadExt};

/// The body of the next response on `stream`, read whole (its headers up to the blank line,
/// then `content-length` bytes).
pub async fn read_body(
    stream: &mut tokio::io::BufReader<tokio::net::TcpStream>,
) -> std::io::Result<Vec<u8>> {
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut out = vec![0u8; len];
    stream.read_exact(&mut out).await?;
    Ok(out)
}

/// The string value after `"key":"` (the last one), without parsing the rest.
pub fn find(body: &[u8], key: &str) -> Option<String> {
    let key = format!("\"{key}\":\"");
    let k = key.as_bytes();
    body.windows(k.len()).rposition(|w| w == k).map(|at| {
        let rest = &body[at + k.len()..];
        let end = rest.iter().position(|b| *b == b'"').unwrap_or(0);
        String::from_utf8_lossy(&rest[..end]).into_owned()
    })
}
