//! SM4 encryption of evidence at rest (`[evidence] encrypt = "sm4"`).
//!
//! Clips, snapshots and trajectory pictures are sealed when written and opened again only by
//! the API's evidence download, which serves the plaintext (HTTP Range offsets are plaintext
//! offsets). A file that does not start with the magic is served as it is, so turning
//! encryption on (or off, with the key still configured) leaves older evidence readable.
//!
//! File layout (integers big-endian):
//!
//! ```text
//! header  32 B   "VGL-SM4" | version (2) | key id (8 B) | IV (16 B)
//! chunk i        ciphertext of plaintext bytes [i·64 KiB, (i+1)·64 KiB) | tag (32 B)
//! ```
//!
//! - Cipher: SM4 in CTR mode with a 128-bit big-endian counter starting at a random per-file IV.
//!   CTR turns a plaintext offset into a keystream position, so a Range read decrypts only the
//!   chunks it touches. Every file has its own random IV, so keystreams never repeat across
//!   files under one key (2^-64 collision odds after 2^32 files).
//! - Integrity: each chunk carries an HMAC-SM3 tag over
//!   `header | context length (u32) | context | chunk index (u64) | final flag (u8) | ciphertext`,
//!   where the context is where the file belongs: `<camera>/<event folder>/<file>` (the last
//!   three components of its path; event folders are unique for the life of a data directory).
//!   A sealed file copied over another event's file, or renamed, fails its first tag even when
//!   someone also rewrote the index's SHA-256. Version 1 files (no context) stay readable. Per-chunk tags (rather than one
//!   tag over the whole file) let every read be verified, Range reads included, at the cost of
//!   32 bytes per 64 KiB (0.05 %) and reading at most one extra partial chunk at each end of a
//!   range. The header binds the IV and key id, the index stops chunks being reordered or moved
//!   between files, and the final flag stops truncation at a chunk boundary. A ranged read that
//!   does not reach the last chunk cannot notice that the file was truncated after it; a full
//!   download always checks the last chunk.
//! - Keys: one 128-bit master key (32 hex digits). Separate cipher and MAC keys and an 8-byte
//!   key id are derived from it with HMAC-SM3 under fixed labels; the key id in the header turns
//!   "wrong key" into its own error instead of a tag failure.
//!
//! The evidence index's `sha256` and `bytes` describe the file at rest (the ciphertext): they
//! can be checked on disk without the key, and a download's body is the plaintext.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use hmac::{Hmac, Mac};
use sm3::Sm3;

type Sm4Ctr = ctr::Ctr128BE<sm4::Sm4>;
type HmacSm3 = Hmac<Sm3>;

/// File magic: the first 7 bytes of every sealed file.
pub const MAGIC: &[u8; 7] = b"VGL-SM4";
/// Format version written after the magic.
pub const VERSION: u8 = 2;
/// The first format, without the context in its tags; still opened.
const VERSION_1: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: u64 = 32;
/// Plaintext bytes per authenticated chunk.
pub const CHUNK: u64 = 64 * 1024;
/// Tag bytes after each chunk.
pub const TAG_LEN: u64 = 32;

#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error("evidence key: {0}")]
    Key(String),
    #[error("encrypted evidence but no key is configured ([evidence] key_file / key_env)")]
    NoKey,
    #[error("not an encrypted evidence file")]
    NotSealed,
    #[error("encrypted evidence format version {0} is not supported")]
    Version(u8),
    #[error("evidence was encrypted with a different key")]
    WrongKey,
    #[error("evidence integrity check failed at chunk {0} (tampered, truncated or moved from another event)")]
    Tampered(u64),
    #[error("malformed encrypted evidence: {0}")]
    Malformed(String),
    #[error("range {start}+{len} is outside the {plain_len}-byte evidence")]
    Range {
        start: u64,
        len: u64,
        plain_len: u64,
    },
    #[error("evidence i/o {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl CryptError {
    fn io(path: &Path) -> impl Fn(std::io::Error) -> CryptError + '_ {
        move |source| CryptError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// An evidence key: derived cipher and MAC keys and the key id. Never printed.
#[derive(Clone)]
pub struct EvidenceKey {
    enc: [u8; 16],
    mac: [u8; 32],
    id: [u8; 8],
}

impl std::fmt::Debug for EvidenceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EvidenceKey(id {})", hex::encode(self.id))
    }
}

fn prf(key: &[u8], label: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut m = <HmacSm3 as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(label);
    m.finalize().into_bytes().into()
}

impl EvidenceKey {
    pub fn from_bytes(master: [u8; 16]) -> Self {
        let mut enc = [0u8; 16];
        enc.copy_from_slice(&prf(&master, b"vigil evidence sm4-ctr v1")[..16]);
        let mac = prf(&master, b"vigil evidence hmac-sm3 v1");
        let mut id = [0u8; 8];
        id.copy_from_slice(&prf(&master, b"vigil evidence key id v1")[..8]);
        EvidenceKey { enc, mac, id }
    }

    /// 32 hex digits (128 bits); surrounding white space is ignored.
    pub fn from_hex(text: &str) -> Result<Self, CryptError> {
        let t = text.trim();
        if t.len() != 32 {
            return Err(CryptError::Key(format!(
                "must be 32 hex digits (128-bit SM4 key), got {} characters",
                t.chars().count()
            )));
        }
        let bytes = hex::decode(t)
            .map_err(|_| CryptError::Key("must be 32 hex digits (0-9, a-f)".into()))?;
        let mut k = [0u8; 16];
        k.copy_from_slice(&bytes);
        Ok(Self::from_bytes(k))
    }

    /// Hex key id as written in file headers (not secret).
    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    fn cipher(&self, iv: &[u8; 16]) -> Sm4Ctr {
        Sm4Ctr::new(&self.enc.into(), iv.into())
    }

    fn tag(&self, header: &[u8; 32], ctx: &[u8], index: u64, last: bool, ct: &[u8]) -> HmacSm3 {
        let mut m =
            <HmacSm3 as Mac>::new_from_slice(&self.mac).expect("HMAC accepts any key length");
        m.update(header);
        if header[7] != VERSION_1 {
            m.update(&(ctx.len() as u32).to_be_bytes());
            m.update(ctx);
        }
        m.update(&index.to_be_bytes());
        m.update(&[last as u8]);
        m.update(ct);
        m
    }
}

// ---------- key loading ----------

fn cfg_err(field: &str, reason: impl Into<String>) -> CryptError {
    CryptError::Key(format!("evidence.{field}: {}", reason.into()))
}

/// Load the configured key: from `key_file` (relative paths against `base_dir`, the config
/// file's directory) or the environment variable `key_env` (`[evidence]`, checked by the config).
/// `Ok(None)` when neither is set. Errors name the field and never contain key material.
pub fn load_key(
    key_file: Option<&Path>,
    key_env: Option<&str>,
    base_dir: &Path,
) -> Result<Option<EvidenceKey>, CryptError> {
    if let Some(p) = key_file {
        let path = if p.is_absolute() || base_dir.as_os_str().is_empty() {
            p.to_path_buf()
        } else {
            base_dir.join(p)
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| cfg_err("key_file", format!("cannot read {}: {e}", path.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(m) = std::fs::metadata(&path) {
                if m.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(file = %path.display(), "evidence key file is readable by group or others; chmod 600 it");
                }
            }
        }
        let key = EvidenceKey::from_hex(&text)
            .map_err(|e| cfg_err("key_file", format!("{}: {e}", path.display())))?;
        return Ok(Some(key));
    }
    if let Some(var) = key_env {
        let text = std::env::var(var)
            .map_err(|_| cfg_err("key_env", format!("environment variable {var} is not set")))?;
        let key =
            EvidenceKey::from_hex(&text).map_err(|e| cfg_err("key_env", format!("{var}: {e}")))?;
        return Ok(Some(key));
    }
    Ok(None)
}

// ---------- sealing ----------

/// Where a file at `path` belongs, as bound into its tags: the last three path components
/// (`<camera>/<event folder>/<file>`), `/`-joined, so the binding survives moving the whole
/// evidence tree but not moving a file between events.
pub fn context_of(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .rev()
        .take(3)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

fn header(key: &EvidenceKey, iv: &[u8; 16]) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[..7].copy_from_slice(MAGIC);
    h[7] = VERSION;
    h[8..16].copy_from_slice(&key.id);
    h[16..32].copy_from_slice(iv);
    h
}

fn random_iv() -> [u8; 16] {
    use rand::RngCore;
    let mut iv = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    iv
}

/// Bytes a sealed file of `plain_len` plaintext bytes takes.
pub fn sealed_len(plain_len: u64) -> u64 {
    let chunks = plain_len.div_ceil(CHUNK).max(1);
    HEADER_LEN + plain_len + chunks * TAG_LEN
}

/// Streaming sealer: feed plaintext with `write`, then `finish`.
struct Sealer<W: Write> {
    out: W,
    key: Arc<EvidenceKey>,
    header: [u8; 32],
    ctx: Vec<u8>,
    cipher: Sm4Ctr,
    buf: Vec<u8>,
    index: u64,
}

impl<W: Write> Sealer<W> {
    fn new(mut out: W, key: Arc<EvidenceKey>, ctx: &str) -> std::io::Result<Self> {
        let iv = random_iv();
        let header = header(&key, &iv);
        out.write_all(&header)?;
        let cipher = key.cipher(&iv);
        Ok(Sealer {
            out,
            key,
            header,
            ctx: ctx.as_bytes().to_vec(),
            cipher,
            buf: Vec::with_capacity(CHUNK as usize),
            index: 0,
        })
    }

    fn emit(&mut self, last: bool) -> std::io::Result<()> {
        self.cipher.apply_keystream(&mut self.buf);
        let tag = self
            .key
            .tag(&self.header, &self.ctx, self.index, last, &self.buf)
            .finalize()
            .into_bytes();
        self.out.write_all(&self.buf)?;
        self.out.write_all(&tag)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            // A full chunk is emitted only once more data follows, so the last one is flagged.
            if self.buf.len() as u64 == CHUNK {
                self.emit(false)?;
            }
            let room = CHUNK as usize - self.buf.len();
            let n = room.min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<W> {
        self.emit(true)?;
        Ok(self.out)
    }
}

/// Seal `plain` in memory with an empty context (see [`seal_for`]).
pub fn seal(key: &Arc<EvidenceKey>, plain: &[u8]) -> Vec<u8> {
    seal_for(key, "", plain)
}

/// Seal `plain` in memory for the place `ctx` ([`context_of`] the file's final path).
pub fn seal_for(key: &Arc<EvidenceKey>, ctx: &str, plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sealed_len(plain.len() as u64) as usize);
    let res = Sealer::new(&mut out, key.clone(), ctx)
        .and_then(|mut s| s.write(plain).map(|_| s))
        .and_then(|s| s.finish());
    // Writing into a Vec cannot fail.
    debug_assert!(res.is_ok());
    out
}

/// Seal the file at `path` in place for its own place ([`context_of`] `path`).
pub fn seal_file(key: &Arc<EvidenceKey>, path: &Path) -> Result<(), CryptError> {
    seal_file_for(key, path, &context_of(path))
}

/// Seal the file at `path` in place: written to a sibling temporary file (owner-only), synced,
/// renamed over. `ctx` is the context of the name it will be published under.
pub fn seal_file_for(key: &Arc<EvidenceKey>, path: &Path, ctx: &str) -> Result<(), CryptError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".sealing");
    let tmp = path.with_file_name(tmp_name);
    let res = (|| -> Result<(), CryptError> {
        let mut src = std::fs::File::open(path).map_err(CryptError::io(path))?;
        let dst = super::private_file(&tmp).map_err(CryptError::io(&tmp))?;
        let mut s = Sealer::new(std::io::BufWriter::new(dst), key.clone(), ctx)
            .map_err(CryptError::io(&tmp))?;
        let mut buf = vec![0u8; CHUNK as usize];
        loop {
            let n = src.read(&mut buf).map_err(CryptError::io(path))?;
            if n == 0 {
                break;
            }
            s.write(&buf[..n]).map_err(CryptError::io(&tmp))?;
        }
        let w = s.finish().map_err(CryptError::io(&tmp))?;
        let f = w
            .into_inner()
            .map_err(|e| CryptError::io(&tmp)(e.into_error()))?;
        f.sync_all().map_err(CryptError::io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(CryptError::io(path))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

// ---------- opening ----------

/// A sealed file's parsed header and layout; reads go through [`Sealed::read_range`].
#[derive(Debug)]
pub struct Sealed {
    header: [u8; 32],
    ctx: Vec<u8>,
    key: Arc<EvidenceKey>,
    plain_len: u64,
    chunks: u64,
}

/// True when `bytes` starts like a sealed file.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] == MAGIC
}

impl Sealed {
    /// [`Sealed::detect_for`] with an empty context (files sealed with [`seal`]).
    pub fn detect_with<R: Read + Seek>(
        r: &mut R,
        key: Option<Arc<EvidenceKey>>,
    ) -> Result<Option<Sealed>, CryptError> {
        Self::detect_for(r, key, "")
    }

    /// Look at the start of `r`: `Ok(None)` for a plaintext file, otherwise the layout, opened
    /// with `key` (`None`: a sealed file is an error, [`CryptError::NoKey`]) for the place
    /// `ctx`; a file sealed for another place fails its first tag on read.
    pub fn detect_for<R: Read + Seek>(
        r: &mut R,
        key: Option<Arc<EvidenceKey>>,
        ctx: &str,
    ) -> Result<Option<Sealed>, CryptError> {
        let io = CryptError::io(Path::new("<evidence>"));
        let file_len = r.seek(SeekFrom::End(0)).map_err(&io)?;
        r.seek(SeekFrom::Start(0)).map_err(&io)?;
        let mut header = [0u8; 32];
        let mut got = 0usize;
        while got < header.len() {
            let n = r.read(&mut header[got..]).map_err(&io)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        if !is_sealed(&header[..got]) {
            return Ok(None);
        }
        if got < header.len() {
            return Err(CryptError::Malformed("short header".into()));
        }
        if header[7] != VERSION && header[7] != VERSION_1 {
            return Err(CryptError::Version(header[7]));
        }
        let key = key.ok_or(CryptError::NoKey)?;
        if header[8..16] != key.id {
            return Err(CryptError::WrongKey);
        }
        // Layout from the length: full blocks of CHUNK+TAG, then a last partial one (or an
        // empty last chunk for an empty file).
        let rest = file_len - HEADER_LEN;
        let block = CHUNK + TAG_LEN;
        let (full, rem) = (rest / block, rest % block);
        let (chunks, plain_len) = if rem == 0 {
            if full == 0 {
                return Err(CryptError::Malformed("no chunks".into()));
            }
            (full, full * CHUNK)
        } else {
            if rem < TAG_LEN || (rem == TAG_LEN && full > 0) {
                return Err(CryptError::Malformed(format!(
                    "length {file_len} does not fit the chunk layout"
                )));
            }
            (full + 1, full * CHUNK + rem - TAG_LEN)
        };
        Ok(Some(Sealed {
            header,
            ctx: ctx.as_bytes().to_vec(),
            key,
            plain_len,
            chunks,
        }))
    }

    /// Plaintext length.
    pub fn plain_len(&self) -> u64 {
        self.plain_len
    }

    fn chunk_plain_len(&self, i: u64) -> u64 {
        if i + 1 < self.chunks {
            CHUNK
        } else {
            self.plain_len - i * CHUNK
        }
    }

    /// Plaintext bytes `start .. start+len`, every chunk they touch verified before use.
    pub fn read_range<R: Read + Seek>(
        &self,
        r: &mut R,
        start: u64,
        len: u64,
    ) -> Result<Vec<u8>, CryptError> {
        let bad_range = || CryptError::Range {
            start,
            len,
            plain_len: self.plain_len,
        };
        let end = start.checked_add(len).ok_or_else(bad_range)?;
        if end > self.plain_len {
            return Err(bad_range());
        }
        let io = CryptError::io(Path::new("<evidence>"));
        let mut out = Vec::with_capacity(len as usize);
        // An empty read of an empty file still checks its only chunk.
        let (first, last) = if len == 0 {
            (start / CHUNK, start / CHUNK)
        } else {
            (start / CHUNK, (end - 1) / CHUNK)
        };
        let last = last.min(self.chunks - 1);
        let mut ct = Vec::with_capacity(CHUNK as usize);
        let mut tag = [0u8; TAG_LEN as usize];
        for i in first..=last {
            let n = self.chunk_plain_len(i);
            r.seek(SeekFrom::Start(HEADER_LEN + i * (CHUNK + TAG_LEN)))
                .map_err(&io)?;
            ct.resize(n as usize, 0);
            r.read_exact(&mut ct).map_err(&io)?;
            r.read_exact(&mut tag).map_err(&io)?;
            self.key
                .tag(&self.header, &self.ctx, i, i + 1 == self.chunks, &ct)
                .verify_slice(&tag)
                .map_err(|_| CryptError::Tampered(i))?;
            let mut iv = [0u8; 16];
            iv.copy_from_slice(&self.header[16..32]);
            let mut c = self.key.cipher(&iv);
            c.seek(i * CHUNK);
            c.apply_keystream(&mut ct);
            let lo = start.saturating_sub(i * CHUNK).min(n) as usize;
            let hi = (end - i * CHUNK).min(n) as usize;
            if lo < hi {
                out.extend_from_slice(&ct[lo..hi]);
            }
        }
        Ok(out)
    }

    /// The whole plaintext, every chunk verified (truncation included).
    pub fn read_all<R: Read + Seek>(&self, r: &mut R) -> Result<Vec<u8>, CryptError> {
        let mut out = Vec::with_capacity(self.plain_len as usize);
        let mut off = 0;
        // Chunk by chunk so the last chunk's final flag is always checked, even when empty.
        loop {
            let n = (self.plain_len - off).min(CHUNK * 16);
            out.extend(self.read_range(r, off, n)?);
            off += n;
            if off >= self.plain_len {
                break;
            }
        }
        Ok(out)
    }
}

/// Open sealed bytes in memory with `key` and an empty context (whole-file verification).
pub fn open(key: &Arc<EvidenceKey>, sealed: &[u8]) -> Result<Vec<u8>, CryptError> {
    open_for(key, "", sealed)
}

/// Open sealed bytes in memory for the place `ctx` (whole-file verification).
pub fn open_for(key: &Arc<EvidenceKey>, ctx: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptError> {
    let mut c = std::io::Cursor::new(sealed);
    let s = Sealed::detect_for(&mut c, Some(key.clone()), ctx)?.ok_or(CryptError::NotSealed)?;
    s.read_all(&mut c)
}

/// Read a whole evidence file as plaintext: sealed files are opened with `key` for the place
/// they are at ([`context_of`] `path`), plaintext files are returned as they are.
pub fn read_evidence(path: &Path, key: Option<Arc<EvidenceKey>>) -> Result<Vec<u8>, CryptError> {
    let mut f = std::fs::File::open(path).map_err(CryptError::io(path))?;
    match Sealed::detect_for(&mut f, key, &context_of(path))? {
        Some(s) => s.read_all(&mut f),
        None => std::fs::read(path).map_err(CryptError::io(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Arc<EvidenceKey> {
        Arc::new(EvidenceKey::from_bytes([b; 16]))
    }

    #[test]
    fn layout_lengths() {
        let k = key(1);
        for n in [
            0usize,
            1,
            15,
            16,
            CHUNK as usize - 1,
            CHUNK as usize,
            CHUNK as usize + 1,
            3 * CHUNK as usize,
        ] {
            let plain: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let s = seal(&k, &plain);
            assert_eq!(s.len() as u64, sealed_len(n as u64), "n={n}");
            assert_eq!(open(&k, &s).unwrap(), plain, "n={n}");
        }
    }

    #[test]
    fn key_hex_checks() {
        assert!(EvidenceKey::from_hex("00112233445566778899aabbccddeeff").is_ok());
        assert!(EvidenceKey::from_hex(" 00112233445566778899AABBCCDDEEFF\n").is_ok());
        assert!(EvidenceKey::from_hex("0011").is_err());
        assert!(EvidenceKey::from_hex("zz112233445566778899aabbccddeeff").is_err());
        let k = EvidenceKey::from_hex("00112233445566778899aabbccddeeff").unwrap();
        assert!(!format!("{k:?}").contains("0011223344"));
    }

    #[test]
    fn truncation_at_chunk_boundary_is_detected() {
        let k = key(2);
        let plain = vec![5u8; 2 * CHUNK as usize + 10];
        let s = seal(&k, &plain);
        let cut = &s[..(HEADER_LEN + CHUNK + TAG_LEN) as usize];
        assert!(matches!(open(&k, cut), Err(CryptError::Tampered(0))));
    }
}
