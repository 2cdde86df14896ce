//! Names the build: the git commit (and whether the tree was dirty) and the build time, so that
//! a terminated instance can be traced to the binary that decided it (`checker --version`, and
//! `build` in every JSON report). Outside a git checkout the commit is "unknown".

use vergen_gitcl::{BuildBuilder, Emitter, GitclBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let build = BuildBuilder::default().build_timestamp(true).build()?;
    let git = GitclBuilder::default().sha(true).dirty(true).build()?;
    Emitter::default()
        .add_instructions(&build)?
        .add_instructions(&git)?
        .emit()?;
    Ok(())
}
