//! The base revision of a file, read from git (`--base-ref`).

use std::path::{Path, PathBuf};

/// `git show REF:PATH` for a file in a work tree, as text.
pub fn show(reference: &str, path: &Path) -> Result<String, String> {
    let abs = path
        .canonicalize()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = abs.parent().unwrap_or(Path::new("."));
    let top = std::process::Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !top.status.success() {
        return Err(format!("{} is not in a git repository", path.display()));
    }
    let top = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim());
    let rel = abs
        .strip_prefix(&top)
        .map_err(|_| "path outside the repository".to_string())?;
    let out = std::process::Command::new("git")
        .args(["show", &format!("{reference}:{}", rel.display())])
        .current_dir(&top)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git show {reference}:{} failed: {}",
            rel.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
