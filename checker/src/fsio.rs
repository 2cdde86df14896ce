//! File output that never leaves a half-written file: write a temporary file beside the
//! target, flush it to disk, then rename it over the target. A failure at any point leaves the
//! previous file untouched and removes the temporary one.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Writes through `fill` into a temporary file beside `path`, then renames it over `path`.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut b = tempfile::Builder::new();
    b.prefix(".checker-").suffix(".tmp");
    // Created as a new file would be: 0666 less the user's umask (tempfile's default is 0600,
    // which made every report and snapshot private to its writer).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = b.tempfile_in(dir)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes a command's output: to the file (atomically), or to stdout. A closed stdout pipe
/// (`| head`) is the reader's choice, not a failure.
pub fn write_output(text: &str, output: Option<&Path>) -> crate::Result<()> {
    match output {
        Some(path) => write_atomic(path, text.as_bytes()).map_err(|source| crate::Error::Write {
            path: path.to_path_buf(),
            source,
        }),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(source) => Err(crate::Error::Write {
                    path: "stdout".into(),
                    source,
                }),
            }
        }
    }
}

/// Appends `text` (one or more lines) whole or not at all: under an exclusive lock on the file
/// (every checker appender takes it), a write that fails half-way (a full disk, a file size
/// limit) is cut back to where the file ended, so no reader ever sees half a line; a file that
/// ended in a torn line gets a newline first, so this text starts a line of its own.
pub fn append_whole(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    f.lock()?;
    let start = f.metadata()?.len();
    let mut buf = String::with_capacity(text.len() + 2);
    if start > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(start - 1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            buf.push('\n');
        }
    }
    buf.push_str(text.trim_end_matches('\n'));
    buf.push('\n');
    let written = f.write_all(buf.as_bytes()).and_then(|()| f.sync_data());
    if let Err(e) = written {
        // Best effort: cut back what was written of this text (the lock keeps other appenders
        // out, so the end of the file is ours).
        let _ = f.set_len(start).and_then(|()| f.sync_data());
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_fails_half_way_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("snapshot.json");
        std::fs::write(&target, b"old and complete").unwrap();
        let err = write_atomic_with(&target, |f| {
            f.write_all(b"{\"half\": ")?;
            Err(std::io::Error::other("killed half-way"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"old and complete");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "temporary file left behind: {left:?}");
        write_atomic(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }
}
