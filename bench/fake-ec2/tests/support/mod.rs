//! The fake endpoint for the fake's own tests: started with some flags, killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The fake endpoint (the process, its port), killed when dropped.
pub struct Fake(pub Child, pub u16);

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the fake with `args`, once it prints its port.
pub fn fake(args: &[&str]) -> Fake {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-ec2"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the fake starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the fake prints its port");
    let port = line.trim().parse().expect("a port");
    Fake(child, port)
}
