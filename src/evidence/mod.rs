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

/// Write via a temporary file and rename, so a crash or full disk never leaves a half file
/// under the final name.
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
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}
