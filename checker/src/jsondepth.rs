//! How deep JSON nests, measured without parsing it: a byte scanner (strings and escapes
//! skipped, brackets counted) that stops at the first container past a limit and says where it
//! is (line, column, JSON pointer). Every JSON input is held to [`MAX_DEPTH`] before a parser
//! that recurses sees it: a `Reservations` item nested 20,000 deep overflowed the stack while a
//! diagnostic was being located (exit 134).
//!
//! The scanner is incremental ([`Scanner::feed`]), so a fleet file is checked as it streams
//! through its reader ([`Guarded`]), never read twice.

/// The deepest nesting any input may have. serde_json stops at 128; nothing checker reads
/// (describe-instances output, contracts, pools, snapshots) comes near 64.
pub const MAX_DEPTH: usize = 128;

/// Where the nesting went past the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// The JSON pointer of the container that opened past the limit.
    pub pointer: String,
    /// The limit.
    pub limit: usize,
}

impl std::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the JSON nests more than {} levels deep here (line {}, column {}, at {})",
            self.limit,
            self.line,
            self.column,
            if self.pointer.is_empty() {
                "/"
            } else {
                &self.pointer
            }
        )
    }
}

impl std::error::Error for TooDeep {}

enum Frame {
    Array(usize),
    Object(Option<String>),
}

/// The scanner's state between chunks.
pub struct Scanner {
    limit: usize,
    stack: Vec<Frame>,
    in_string: bool,
    escaped: bool,
    expect_key: bool,
    /// The raw bytes of the key being read (quotes included), when one is.
    key: Option<Vec<u8>>,
    line: usize,
    column: usize,
}

impl Scanner {
    /// A scanner that stops past `limit` levels.
    pub fn new(limit: usize) -> Scanner {
        Scanner {
            limit,
            stack: Vec::new(),
            in_string: false,
            escaped: false,
            expect_key: false,
            key: None,
            line: 1,
            column: 0,
        }
    }

    fn pointer(&self) -> String {
        let mut p = String::new();
        for f in &self.stack {
            p.push('/');
            match f {
                Frame::Array(n) => p.push_str(&n.to_string()),
                Frame::Object(k) => p.push_str(
                    &k.as_deref()
                        .unwrap_or("")
                        .replace('~', "~0")
                        .replace('/', "~1"),
                ),
            }
        }
        p
    }

    /// Reads `chunk`, the next bytes of the text.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), TooDeep> {
        for &b in chunk {
            if b == b'\n' {
                self.line += 1;
                self.column = 0;
            } else if b & 0xC0 != 0x80 {
                self.column += 1;
            }
            if self.in_string {
                if let Some(k) = &mut self.key {
                    k.push(b);
                }
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if let Some(raw) = self.key.take() {
                        let key = serde_json::from_slice::<String>(&raw)
                            .unwrap_or_else(|_| String::from_utf8_lossy(&raw).into_owned());
                        if let Some(Frame::Object(k)) = self.stack.last_mut() {
                            *k = Some(key);
                        }
                    }
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    if std::mem::take(&mut self.expect_key) {
                        self.key = Some(vec![b'"']);
                    }
                }
                b'[' | b'{' => {
                    if self.stack.len() >= self.limit {
                        return Err(TooDeep {
                            line: self.line,
                            column: self.column,
                            pointer: self.pointer(),
                            limit: self.limit,
                        });
                    }
                    self.stack.push(if b == b'[' {
                        Frame::Array(0)
                    } else {
                        Frame::Object(None)
                    });
                    self.expect_key = b == b'{';
                }
                b']' | b'}' => {
                    self.stack.pop();
                    self.expect_key = false;
                }
                b',' => match self.stack.last_mut() {
                    Some(Frame::Array(n)) => *n += 1,
                    Some(Frame::Object(_)) => self.expect_key = true,
                    None => {}
                },
                _ => {}
            }
        }
        Ok(())
    }
}

/// Checks a whole text.
pub fn check(text: &[u8]) -> Result<(), TooDeep> {
    Scanner::new(MAX_DEPTH).feed(text)
}

/// Where a [`Guarded`] reader found the nesting too deep, once it has.
pub type Tripped = std::sync::Arc<std::sync::OnceLock<TooDeep>>;

/// A reader that checks the depth of what passes through it; past the limit it fails with an
/// `InvalidData` error, and its [`Tripped`] says where.
pub struct Guarded<R> {
    inner: R,
    scanner: Scanner,
    tripped: Tripped,
}

impl<R> Guarded<R> {
    /// Guards `inner`; the second value says where it tripped, if it does.
    pub fn new(inner: R) -> (Guarded<R>, Tripped) {
        let tripped = Tripped::default();
        let g = Guarded {
            inner,
            scanner: Scanner::new(MAX_DEPTH),
            tripped: tripped.clone(),
        };
        (g, tripped)
    }
}

impl<R: std::io::Read> std::io::Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = self.scanner.feed(&buf[..n]) {
            let message = e.to_string();
            let _ = self.tripped.set(e);
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                message,
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_container_past_the_limit_is_located_with_its_pointer() {
        let mut s = Scanner::new(3);
        let text = b"{\"a\": [1, {\"k\\\"/x\": \"[[[\"}],\n \"b\": [[{\"c\": [[]]}]]}";
        let e = s.feed(text).expect_err("too deep");
        assert_eq!(e.pointer, "/b/0/0");
        assert_eq!((e.line, e.column), (2, 9));
        assert!(check(text).is_ok());
        assert!(check(&b"[".repeat(20_000)).is_err());
        // Fed in pieces, the same answer.
        let mut s = Scanner::new(3);
        let r = text.chunks(3).try_for_each(|c| s.feed(c));
        assert_eq!(r.expect_err("too deep").pointer, "/b/0/0");
    }
}
