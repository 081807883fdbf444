//! Evidence files of an event (clip, snapshot, trajectory picture): whole or one byte range,
//! checked against the indexed SHA-256, decrypted when sealed; downloads audited.

use std::io::{Read, Seek, SeekFrom};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::extract::{blocking, event_id, require, ApiResult};
use super::{ApiError, AppState, ErrorBody};
use crate::audit::{self, AuditEntry};
use crate::auth::{Action, Principal};
use crate::store::EvidenceKind;

/// A satisfiable single byte range, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// Parse a `Range` header against a file of `len` bytes. `Ok(None)`: serve the whole file
/// (no header, another unit, or several ranges — allowed by RFC 9110). `Err(())`:
/// unsatisfiable or malformed byte range (416).
#[allow(clippy::result_unit_err)]
pub fn parse_range(h: Option<&str>, len: u64) -> Result<Option<ByteRange>, ()> {
    let Some(h) = h else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || len == 0 {
            return Err(());
        }
        ByteRange {
            start: len.saturating_sub(n),
            end: len - 1,
        }
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end: u64 = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>().map_err(|_| ())?.min(len.saturating_sub(1))
        };
        if start >= len || (!b.is_empty() && b.parse::<u64>().map_err(|_| ())? < start) {
            return Err(());
        }
        ByteRange { start, end }
    };
    Ok(Some(r))
}

/// Evidence clip (operator+; refusals audited).
#[utoipa::path(get, path = "/events/{id}/clip.mp4", tag = "evidence",
    params(("id" = i64, Path, minimum = 1, description = "event id"),
        ("Range" = Option<String>, Header, description = "one byte range, e.g. `bytes=0-1023`"),
        ("access_token" = Option<String>, Query, description = "bearer token for clients that cannot set headers (`<video>`); same role checks and audit")),
    responses((status = 200, description = "whole file", content_type = "video/mp4", body = Vec<u8>),
        (status = 206, description = "one byte range (Content-Range)", content_type = "video/mp4", body = Vec<u8>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 416, body = ErrorBody)))]
pub(crate) async fn clip(
    state: State<AppState>,
    p: Principal,
    id: Path<String>,
    h: HeaderMap,
) -> ApiResult<Response> {
    evidence(state, p, id, h, EvidenceKind::Clip, "video/mp4").await
}

/// Annotated snapshot (operator+).
#[utoipa::path(get, path = "/events/{id}/snapshot.jpg", tag = "evidence",
    params(("id" = i64, Path, minimum = 1, description = "event id"),
        ("Range" = Option<String>, Header, description = "one byte range, e.g. `bytes=0-1023`"),
        ("access_token" = Option<String>, Query, description = "bearer token for `<img>`")),
    responses((status = 200, description = "whole file", content_type = "image/jpeg", body = Vec<u8>),
        (status = 206, description = "one byte range (Content-Range)", content_type = "image/jpeg", body = Vec<u8>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 416, body = ErrorBody)))]
pub(crate) async fn snapshot(
    state: State<AppState>,
    p: Principal,
    id: Path<String>,
    h: HeaderMap,
) -> ApiResult<Response> {
    evidence(state, p, id, h, EvidenceKind::Snapshot, "image/jpeg").await
}

/// Trajectory picture (operator+).
#[utoipa::path(get, path = "/events/{id}/trajectory.png", tag = "evidence",
    params(("id" = i64, Path, minimum = 1, description = "event id"),
        ("Range" = Option<String>, Header, description = "one byte range, e.g. `bytes=0-1023`"),
        ("access_token" = Option<String>, Query, description = "bearer token for `<img>`")),
    responses((status = 200, description = "whole file", content_type = "image/png", body = Vec<u8>),
        (status = 206, description = "one byte range (Content-Range)", content_type = "image/png", body = Vec<u8>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 416, body = ErrorBody)))]
pub(crate) async fn trajectory(
    state: State<AppState>,
    p: Principal,
    id: Path<String>,
    h: HeaderMap,
) -> ApiResult<Response> {
    evidence(state, p, id, h, EvidenceKind::Trajectory, "image/png").await
}

/// Largest single response body read into memory; longer ranges are cut (the client asks
/// for the rest).
const MAX_CHUNK: u64 = 64 * 1024 * 1024;

async fn evidence(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    kind: EvidenceKind,
    mime: &'static str,
) -> ApiResult<Response> {
    let id = event_id(&id)?;
    let target = format!("event/{id}/{}", kind.as_str());
    require(&state, &p, Action::DownloadEvidence, &target).await?;
    let range_h = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string());
    let store = state.store.clone();
    let guards = state.guards.clone();
    let key = state.evidence_key.clone();
    let require_sealed = state.require_sealed;
    blocking(move || {
        if store.get_event(id)?.is_none() {
            return Err(ApiError::not_found(format!("no event {id}")));
        }
        let ev = store
            .evidence(id, kind)?
            .ok_or_else(|| ApiError::not_found(format!("event {id} has no {}", kind.as_str())))?;
        if ev.gone {
            return Err(ApiError::new(
                StatusCode::GONE,
                "gone",
                "evidence removed by retention",
            ));
        }
        // The file must still be what was indexed: a replaced, swapped (another event's) or
        // truncated file is refused, never served.
        match guards.matches_index(std::path::Path::new(&ev.path), &ev.sha256) {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(path = %ev.path, event = id, "evidence does not match its indexed SHA-256");
                let e = AuditEntry::new(&p.name, p.role.as_str(), "evidence.tampered", &target)
                    .detail(serde_json::json!({ "indexed_sha256": ev.sha256 }));
                audit::append(&store, &e)?;
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "evidence_tampered",
                    "the evidence file no longer matches its indexed checksum",
                ));
            }
            Err(_) => {
                return Err(ApiError::new(StatusCode::GONE, "gone", "evidence file missing"))
            }
        }
        let mut f = std::fs::File::open(&ev.path)
            .map_err(|_| ApiError::new(StatusCode::GONE, "gone", "evidence file missing"))?;
        // SM4-sealed evidence is served decrypted: length and ranges are plaintext offsets, and
        // every chunk read is verified (HMAC-SM3) first. Plaintext files are served as stored.
        let sealed_err = |e: crate::evidence::crypt::CryptError| {
            use crate::evidence::crypt::CryptError as C;
            tracing::error!(path = %ev.path, error = %e, "cannot read encrypted evidence");
            let code = match e {
                C::Tampered(_) | C::Malformed(_) => "evidence_corrupt",
                C::NoKey | C::WrongKey | C::Version(_) | C::Key(_) => "evidence_key",
                _ => "internal",
            };
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, e.to_string())
        };
        // Sealed for this place: a file sealed for another event fails its first tag.
        let ctx = crate::evidence::crypt::context_of(std::path::Path::new(&ev.path));
        let sealed = crate::evidence::crypt::Sealed::detect_for(&mut f, key, &ctx)
            .map_err(sealed_err)?;
        if sealed.is_none() && require_sealed {
            tracing::error!(path = %ev.path, event = id, "unsealed evidence while encryption is on");
            let e = AuditEntry::new(&p.name, p.role.as_str(), "evidence.tampered", &target)
                .detail(serde_json::json!({ "reason": "not sealed" }));
            audit::append(&store, &e)?;
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "evidence_tampered",
                "the evidence file is not sealed, but evidence encryption is on \
                 ([evidence] allow_unsealed = true serves files from before it was turned on)",
            ));
        }
        let len = match &sealed {
            Some(s) => s.plain_len(),
            None => f
                .metadata()
                .map(|m| m.len())
                .map_err(|e| ApiError::internal(e.to_string()))?,
        };
        let range = parse_range(range_h.as_deref(), len);
        let Ok(range) = range else {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "bad_range",
                "range not satisfiable",
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        };
        let (start, end) = match range {
            Some(r) => (r.start, r.end.min(r.start + MAX_CHUNK - 1)),
            None => (0, len.saturating_sub(1)),
        };
        if range.is_none() && len > MAX_CHUNK {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "evidence too large for one response; use Range requests",
            ));
        }
        let n = if len == 0 { 0 } else { end - start + 1 };
        let buf = match &sealed {
            Some(s) => s.read_range(&mut f, start, n).map_err(sealed_err)?,
            None => {
                let mut buf = vec![0u8; n as usize];
                f.seek(SeekFrom::Start(start))
                    .and_then(|_| f.read_exact(&mut buf))
                    .map_err(|e| ApiError::internal(format!("read evidence: {e}")))?;
                buf
            }
        };
        // One record per download session, whatever ranges a player asks for.
        if guards.new_download(&p.name, id, kind.as_str(), std::time::Instant::now()) {
            let e = AuditEntry::new(&p.name, p.role.as_str(), "evidence.download", &target)
                .detail(serde_json::json!({ "sha256": ev.sha256, "bytes": ev.bytes }));
            audit::append(&store, &e)?;
        }
        let mut resp = Response::new(Body::from(buf));
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Ok(v) = HeaderValue::from_str(&ev.sha256) {
            // The index's checksum is of the file at rest, so it is the body's only when the
            // file is not sealed.
            let name = if sealed.is_some() {
                "x-stored-sha256"
            } else {
                "x-content-sha256"
            };
            h.insert(name, v);
        }
        if range.is_some() {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
        }
        Ok(resp)
    })
    .await
}
