//! The one place that finds ONNX Runtime and builds `ort` sessions.
//!
//! ONNX Runtime is loaded at run time (`ort` feature `load-dynamic`): vigil looks for
//! `libonnxruntime.so` in `$ORT_DYLIB_PATH`, then `$VIGIL_ORT_DIR`, then the project-local
//! `.ort/` folder that `scripts/setup.sh` fills (searched from the working directory and from
//! the executable's location upwards). A missing library is a clear error, never a panic.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error(
        "ONNX Runtime library not found (tried: {tried}). Run `bash scripts/setup.sh` or set ORT_DYLIB_PATH to libonnxruntime.so"
    )]
    LibraryNotFound { tried: String },
    #[error("cannot load ONNX Runtime from {path}: {reason}")]
    LibraryLoad { path: PathBuf, reason: String },
    #[error("model {path}: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("inference failed: {0}")]
    Run(String),
}

pub use crate::config::elevator::Provider;

#[derive(Clone, Debug)]
pub struct SessionOptions {
    pub provider: Provider,
    /// Intra-op threads (0 = ONNX Runtime default).
    pub threads: usize,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            provider: Provider::Cpu,
            threads: 1,
        }
    }
}

const LIB_NAME: &str = "libonnxruntime.so";

/// Candidate library paths, in search order.
fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        out.push(PathBuf::from(p));
    }
    if let Some(d) = std::env::var_os("VIGIL_ORT_DIR") {
        out.push(PathBuf::from(d).join(LIB_NAME));
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            roots.push(dir.to_path_buf());
        }
    }
    // The crate root at build time: covers `cargo test` binaries and benches.
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for root in roots {
        for anc in root.ancestors().take(5) {
            out.push(anc.join(".ort").join(LIB_NAME));
        }
    }
    out
}

/// Locate the ONNX Runtime shared library.
pub fn find_library() -> Result<PathBuf, InferError> {
    let cands = candidates();
    for c in &cands {
        if c.is_file() {
            return Ok(c.clone());
        }
    }
    Err(InferError::LibraryNotFound {
        tried: cands
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// The process-wide ONNX Runtime environment (loads the library on first use).
pub fn environment() -> Result<&'static ort::environment::Environment, InferError> {
    let res = ENV.get_or_init(|| {
        let path = find_library().map_err(|e| e.to_string())?;
        tracing::debug!(path = %path.display(), "loading ONNX Runtime");
        let builder = ort::init_from(&path)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?;
        builder
            .with_name("vigil")
            .with_telemetry(false)
            .build()
            .map_err(|e| format!("cannot create ONNX Runtime environment: {e}"))
    });
    res.as_ref().map_err(|reason| InferError::LibraryLoad {
        path: find_library().unwrap_or_default(),
        reason: reason.clone(),
    })
}

/// Build a session for `model`, on the requested provider (CPU fallback with a warning).
pub fn session(model: &Path, opts: &SessionOptions) -> Result<ort::session::Session, InferError> {
    let env = environment()?;
    if !model.is_file() {
        return Err(InferError::Model {
            path: model.to_path_buf(),
            reason: "file not found (run `bash scripts/setup.sh` for the default models)".into(),
        });
    }
    let merr = |e: String| InferError::Model {
        path: model.to_path_buf(),
        reason: e,
    };
    let mut builder = ort::session::Session::builder(env).map_err(|e| merr(e.to_string()))?;
    if opts.threads > 0 {
        builder = builder
            .with_intra_threads(opts.threads)
            .map_err(|e| merr(e.to_string()))?;
    }
    builder = builder
        .with_inter_threads(1)
        .map_err(|e| merr(e.to_string()))?;
    if opts.provider == Provider::Cuda {
        let cuda = ort::ep::CUDA::default().build().error_on_failure();
        match builder.with_execution_providers([cuda]) {
            Ok(b) => {
                tracing::info!(model = %model.display(), "using the CUDA execution provider");
                builder = b;
            }
            Err(e) => {
                tracing::warn!(model = %model.display(), error = %e, "CUDA execution provider unavailable; falling back to CPU");
                builder = e.recover();
            }
        }
    }
    builder
        .commit_from_file(model)
        .map_err(|e| merr(e.to_string()))
}
