//! A facade camera's calibration from points placed on its picture (admin): fit and preview
//! (`dry_run`), or save into the config file (other settings and comments kept), audited and
//! applied by the live reload. An invalid calibration never reaches the running configuration.

use std::path::{Path as FsPath, PathBuf};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{blocking, parse_json, query, require, ApiResult};
use super::{ApiError, AppState, ErrorBody};
use crate::analytics::calibrate::{self, Fit, PlacedPoint};
use crate::audit::{self, AuditEntry};
use crate::auth::{Action, Principal};
use crate::config::{CalibPoint, CameraConfig, CameraKind, Config};
use crate::service::{ConfigReloader, ReloadReport};

/// The running configuration's facade camera `name`: 501 when the configuration is not
/// available, 404 for an unknown camera, 422 (`why`) for a camera of another kind.
fn running_facade(
    reloader: &dyn ConfigReloader,
    name: &str,
    why: &str,
) -> Result<CameraConfig, ApiError> {
    let cfg = reloader.current().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            "the running configuration is not available",
        )
    })?;
    let cam = cfg
        .cameras
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no camera '{name}'")))?;
    if cam.kind != CameraKind::Facade {
        return Err(invalid(format!(
            "camera '{name}': kind: {why}, this one is {:?}",
            cam.kind
        )));
    }
    Ok(cam)
}

/// Points placed on the camera's picture.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CalibrationRequest {
    /// At least four points on the facade, not all on one line.
    points: Vec<PlacedPoint>,
    /// The picture's size in analysed pixels `[width, height]`; default: the camera's
    /// `analysis_size`.
    #[serde(default)]
    image_size: Option<[u32; 2]>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CoverageQuery {
    /// Picture width in analysed pixels (default: the camera's `analysis_size`, else the
    /// size of its latest frame).
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
}

/// What a facade camera covers under its running calibration: every window of the building
/// model with its corners in the picture, whether it is in view (inside the picture, outside
/// every mask), the apparent size of 5 / 10 / 30 cm objects there and its size class
/// (`cm5`, `cm10`, `cm30`, `not_covered`), and the floors in view — the data of
/// `vigil coverage` for one camera (operator+; what the console's coverage view draws).
#[utoipa::path(get, path = "/cameras/{name}/coverage", tag = "cameras",
    params(("name" = String, Path, description = "camera name"), CoverageQuery),
    responses((status = 200, body = serde_json::Value),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 501, body = ErrorBody)))]
pub(crate) async fn get_coverage(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    q: Result<Query<CoverageQuery>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    require(&state, &p, Action::ViewCameras, "cameras").await?;
    let q = query(q)?;
    let Some(reloader) = state.reloader.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            "coverage needs the running configuration (vigil serve)",
        ));
    };
    let thumb = state.cameras.thumbnail(&name);
    blocking(move || {
        let cam = running_facade(reloader.as_ref(), &name, "coverage is for facade cameras")?;
        let size = match (q.width, q.height, cam.analysis_size, &thumb) {
            (Some(w), Some(h), _, _) => [w, h],
            (_, _, Some(s), _) => s,
            (_, _, None, Some(t)) if t.full_size[0] > 0 => t.full_size,
            _ => {
                return Err(invalid(format!(
                    "camera '{name}': width/height: the picture size is not known yet"
                )))
            }
        };
        if !(16..=16384).contains(&size[0]) || !(16..=16384).contains(&size[1]) {
            return Err(invalid(format!(
                "camera '{name}': width/height: {}×{} is not a picture size",
                size[0], size[1]
            )));
        }
        let facade = cam.facade.clone().unwrap_or_default();
        let plan = crate::analytics::coverage::plan_camera(&name, &facade, size[0], size[1])
            .map_err(|e| invalid(e.to_string()))?;
        let classes: Vec<_> = plan.windows.iter().map(|w| w.size_class()).collect();
        let mut v = serde_json::to_value(&plan).map_err(|e| ApiError::internal(e.to_string()))?;
        if let Some(ws) = v["windows"].as_array_mut() {
            for (w, k) in ws.iter_mut().zip(classes) {
                w["size_class"] = serde_json::to_value(k).unwrap_or_default();
            }
        }
        v["masks"] = serde_json::to_value(&facade.masks).unwrap_or_default();
        Ok(Json(v))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CalibrationQuery {
    /// Fit and report only (live preview); nothing is written.
    #[serde(default)]
    dry_run: bool,
}

/// The fit, and whether it was saved and applied.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CalibrationResult {
    #[serde(flatten)]
    fit: Fit,
    /// Written to the config file and reloaded.
    saved: bool,
    /// The reload that applied it (saved only).
    #[serde(skip_serializing_if = "Option::is_none")]
    reload: Option<ReloadReport>,
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_calibration", msg)
}

/// Fit a facade camera's calibration from ≥ 4 points placed on its picture, each with its
/// facade position as floor / column (`floor`, `at`, `column` or `x_m`, `side`) or metres
/// (`m`). Answers every point's reprojection error, warnings (lens distortion, a floor count
/// that disagrees) and the floors then in view. With `dry_run=true` nothing changes; otherwise
/// (admin, audited) the calibration is written into the config file, other settings and
/// comments kept, and applied by the live reload. Bad points are 422 naming the camera and the
/// field; the running configuration is never replaced by an invalid one.
#[utoipa::path(post, path = "/cameras/{name}/calibration", tag = "cameras",
    params(("name" = String, Path, description = "camera name"), CalibrationQuery),
    request_body = CalibrationRequest,
    responses((status = 200, body = CalibrationResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 501, body = ErrorBody)))]
pub(crate) async fn post_calibration(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    q: Result<Query<CalibrationQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<CalibrationResult>> {
    require(&state, &p, Action::ManageConfig, "config").await?;
    let q = query(q)?;
    let req: CalibrationRequest =
        parse_json(&headers, body, false)?.ok_or_else(|| ApiError::bad_request("empty body"))?;
    let Some(reloader) = state.reloader.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            "calibration needs a file-backed configuration (vigil serve)",
        ));
    };
    let store = state.store.clone();
    blocking(move || {
        let cam = running_facade(
            reloader.as_ref(),
            &name,
            "a calibration is for facade cameras",
        )?;
        let [w, h] = match (req.image_size, cam.analysis_size) {
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => {
                return Err(invalid(format!(
                    "camera '{name}': image_size: give the picture's size [width, height] \
                     (the camera has no analysis_size)"
                )))
            }
        };
        if !(16..=16384).contains(&w) || !(16..=16384).contains(&h) {
            return Err(invalid(format!(
                "camera '{name}': image_size: {w}×{h} is not a picture size"
            )));
        }
        let facade = cam.facade.clone().unwrap_or_default();
        let fit = calibrate::fit(&name, &facade, &req.points, w, h)
            .map_err(|e| invalid(e.to_string()))?;
        if q.dry_run {
            return Ok(Json(CalibrationResult {
                fit,
                saved: false,
                reload: None,
            }));
        }
        let path = reloader.config_path().ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "not_implemented",
                "the configuration is not read from a file here",
            )
        })?;
        let before = std::fs::read_to_string(&path)
            .map_err(|e| ApiError::internal(format!("cannot read {}: {e}", path.display())))?;
        let after = with_calibration(&before, &name, &fit.calibration)
            .map_err(|e| invalid(format!("camera '{name}': {e}")))?;
        write_checked(&path, &after).map_err(|e| invalid(format!("camera '{name}': {e}")))?;
        let detail = serde_json::json!({
            "camera": name,
            "points": fit.points.len(),
            "rms_error_px": fit.rms_error_px,
            "max_error_px": fit.max_error_px,
            "floors_visible": fit.floors_visible,
            "warnings": fit.warnings,
        });
        let res = reloader.reload();
        let ok = res.is_ok();
        let entry = AuditEntry::new(
            &p.name,
            p.role.as_str(),
            "camera.calibration",
            &format!("camera:{name}"),
        )
        .detail(serde_json::json!({ "ok": ok, "fit": detail }));
        match res {
            Ok(rep) => {
                audit::append(&store, &entry)?;
                tracing::info!(user = %p.name, camera = %name, max_error_px = fit.max_error_px, "calibration saved and applied");
                Ok(Json(CalibrationResult {
                    fit,
                    saved: true,
                    reload: Some(rep),
                }))
            }
            Err(e) => {
                // Put the file back: the running configuration stays what it was.
                if let Err(w) = write_checked(&path, &before) {
                    tracing::error!(error = %w, "cannot restore the config file after a failed reload");
                }
                audit::append(
                    &store,
                    &entry.detail(serde_json::json!({ "ok": false, "error": e.to_string() })),
                )?;
                Err(invalid(format!(
                    "camera '{name}': the new calibration was not applied: {e}"
                )))
            }
        }
    })
    .await
}

/// The config text with `[camera.facade] calibration` of camera `name` replaced; everything
/// else (other settings, comments, order) kept.
pub fn with_calibration(text: &str, name: &str, points: &[CalibPoint]) -> Result<String, String> {
    use toml_edit::{value, Array, DocumentMut, InlineTable, Item, Value};
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("the config file does not parse: {e}"))?;
    let cams = doc
        .get_mut("camera")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or("the config file has no [[camera]] tables")?;
    let cam = cams
        .iter_mut()
        .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
        .ok_or_else(|| format!("no [[camera]] named '{name}' in the config file"))?;
    if !cam.contains_key("facade") {
        let mut t = toml_edit::Table::new();
        t.set_implicit(false);
        cam.insert("facade", Item::Table(t));
    }
    let facade = cam
        .get_mut("facade")
        .and_then(Item::as_table_like_mut)
        .ok_or("camera.facade is not a table")?;
    let mut arr = Array::new();
    for p in points {
        let mut it = InlineTable::new();
        let pair = |a: [f64; 2]| {
            let mut v = Array::new();
            v.push(a[0]);
            v.push(a[1]);
            Value::Array(v)
        };
        it.insert("px", pair(p.px));
        it.insert("m", pair(p.m));
        let mut v = Value::InlineTable(it);
        v.decor_mut().set_prefix("\n  ");
        arr.push_formatted(v);
    }
    arr.set_trailing("\n");
    arr.set_trailing_comma(true);
    let mut item = value(arr);
    if let Some(v) = item.as_value_mut() {
        v.decor_mut().set_prefix(" ");
    }
    // Replaced in place, so the key keeps its comment.
    match facade.get_mut("calibration") {
        Some(slot) => *slot = item,
        None => {
            facade.insert("calibration", item);
        }
    }
    Ok(doc.to_string())
}

/// Write `text` to `path` only when it is a valid configuration: through a temporary file next
/// to it (relative paths resolve the same), checked by the same loader `vigil serve` uses,
/// then moved into place.
fn write_checked(path: &FsPath, text: &str) -> Result<(), String> {
    let dir = path.parent().unwrap_or_else(|| FsPath::new("."));
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_else(|| "vigil.toml".into());
    let tmp: PathBuf = dir.join(format!(".{file}.calibration.tmp"));
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    if let Err(e) = Config::load(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("the new configuration would be invalid: {e}"));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot replace {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writing_the_calibration_keeps_the_rest() {
        let text = "# site config\n[node]\ndata_dir = \"data\" # keep me\n\n[[camera]]\nname = \"a\"\n\
                    kind = \"facade\"\nsource = \"a.mp4\"\n\n[[camera]]\nname = \"b\"\nkind = \"facade\"\n\
                    source = \"b.mp4\"\n[camera.facade]\n# the storey height\nfloor_height_m = 3.1\n\
                    # measured on site\ncalibration = [{ px = [0.0, 0.0], m = [1.0, 2.0] }]\n";
        let pts: Vec<CalibPoint> = (0..4)
            .map(|i| CalibPoint {
                px: [i as f64 * 10.0, 5.0 + i as f64],
                m: [i as f64, 2.5],
            })
            .collect();
        let out = with_calibration(text, "b", &pts).unwrap();
        assert!(
            out.contains("# site config") && out.contains("# keep me"),
            "{out}"
        );
        assert!(
            out.contains("# the storey height\nfloor_height_m = 3.1"),
            "{out}"
        );
        assert!(out.contains("# measured on site\ncalibration = ["), "{out}");
        let v: toml::Value = toml::from_str(&out).unwrap();
        let cams = v["camera"].as_array().unwrap();
        assert!(cams[0].get("facade").is_none(), "camera a untouched");
        let cal = cams[1]["facade"]["calibration"].as_array().unwrap();
        assert_eq!(cal.len(), 4);
        assert_eq!(cal[3]["px"][0].as_float(), Some(30.0));
        // A camera without a facade table gets one.
        let out = with_calibration(text, "a", &pts).unwrap();
        let v: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(
            v["camera"][0]["facade"]["calibration"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
        assert!(with_calibration(text, "zz", &pts)
            .unwrap_err()
            .contains("zz"));
    }
}
