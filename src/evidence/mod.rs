//! Evidence: clips remuxed from the packet ring, snapshots and annotated pictures.

pub mod clip;
pub mod crypt;
pub mod draw;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("evidence {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("clip {path}: {reason}")]
    Mux { path: PathBuf, reason: String },
    #[error("clip: no packets cover {from_s:.2}..{to_s:.2} s")]
    Empty { from_s: f64, to_s: f64 },
    #[error("picture {path}: {reason}")]
    Encode { path: PathBuf, reason: String },
}

/// Write via a temporary file and move it into place, so a crash or full disk never leaves a
/// half file under the final name. An existing file is never replaced: evidence that was
/// indexed (and hashed) once must stay what it was.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    let io = |e: std::io::Error| EvidenceError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("part");
    let res = (|| {
        use std::io::Write;
        let mut f = private_file(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(())
    })()
    .and_then(|()| publish_new(&tmp, path));
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Create (or truncate) a file only its owner can read: evidence shows people's faces.
pub fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Move a finished temporary file to its final name, refusing to replace an existing file
/// (`AlreadyExists`). A hard link makes the check and the move one step; on filesystems
/// without hard links it falls back to a checked rename.
pub fn publish_new(tmp: &std::path::Path, path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::hard_link(tmp, path) {
        Ok(()) => std::fs::remove_file(tmp),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists; evidence is never overwritten", path.display()),
        )),
        Err(_) => {
            if path.exists() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("{} exists; evidence is never overwritten", path.display()),
                ));
            }
            std::fs::rename(tmp, path)
        }
    }
}

/// Claim a new, empty evidence folder for one event under `parent`. The name carries the
/// wall-clock time (UTC, ms) besides `stem`, because per-run event numbers and media times
/// start again after every restart; the folder is created exclusively, so two events (or two
/// runs) can never share one, whatever their names would have been.
pub fn claim_event_dir(
    parent: &std::path::Path,
    stem: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PathBuf, EvidenceError> {
    let io = |e: std::io::Error| EvidenceError::Io {
        path: parent.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(parent).map_err(io)?;
    let base = format!("{stem}-{}", now.format("%Y%m%dT%H%M%S%.3fZ"));
    for n in 0..1000u32 {
        let name = if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let dir = parent.join(name);
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        match b.create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e)),
        }
    }
    Err(EvidenceError::Io {
        path: parent.join(base),
        reason: "no free evidence folder name".into(),
    })
}
