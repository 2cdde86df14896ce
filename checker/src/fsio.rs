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

/// Appends one line to a JSON Lines file with a single `write` on an O_APPEND descriptor, then
/// syncs it, so concurrent appenders never interleave within a line and a crash loses at most
/// the line being written.
pub fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line.trim_end_matches('\n'));
    buf.push('\n');
    f.write_all(buf.as_bytes())?;
    f.sync_data()
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
