//! Fitting a facade calibration from points an installer placed on a camera's picture (the
//! console's calibration page, `POST /api/v1/cameras/{name}/calibration`): facade coordinates
//! given as floor / column or metres, the homography fitted, the error of every point, and
//! warnings about what makes a calibration wrong (collinear points, lens distortion, points
//! above the roof). Pure: no I/O.

use serde::{Deserialize, Serialize};

use super::coverage::{self, FacadeGrid};
use super::falling::physics::{CalibError, Homography};
use crate::config::{CalibPoint, FacadeConfig};

/// Largest reprojection error (px) before the fit is called suspicious.
pub const MAX_ERROR_PX: f64 = 3.0;

/// One placed point: where it is in the picture and where it is on the facade, either in
/// metres (`m`) or as a feature of the building model (`floor` with `at`, and `column` or
/// `x_m` with `side`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacedPoint {
    /// Image position `[x, y]` in analysed pixels.
    pub px: [f64; 2],
    /// Facade position `[along, height]` in metres; alternative to `floor` / `column`.
    #[serde(default)]
    pub m: Option<[f64; 2]>,
    /// Storey (1 = ground floor).
    #[serde(default)]
    pub floor: Option<i32>,
    /// Which height on that floor: `floor` (the slab line at its bottom, default), `sill`
    /// (a window's bottom edge), `window_top`.
    #[serde(default)]
    pub at: Option<String>,
    /// Window column (1-based index of the building model's columns).
    #[serde(default)]
    pub column: Option<u32>,
    /// Position along the facade (m), instead of `column`.
    #[serde(default)]
    pub x_m: Option<f64>,
    /// Which edge of the column's window: `centre` (default), `left`, `right`.
    #[serde(default)]
    pub side: Option<String>,
}

/// A point of the fit.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FittedPoint {
    pub px: [f64; 2],
    /// Facade metres the point was resolved to.
    pub m: [f64; 2],
    /// Where the fitted calibration puts `m` in the picture.
    pub reprojected_px: [f64; 2],
    /// Distance between `px` and `reprojected_px`.
    pub error_px: f64,
}

/// The result of a fit.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Fit {
    pub camera: String,
    pub image_size: [u32; 2],
    pub points: Vec<FittedPoint>,
    pub rms_error_px: f64,
    pub max_error_px: f64,
    pub warnings: Vec<String>,
    /// Lowest and highest floor with a window in view under the new calibration (needs the
    /// building model's windows; `None` when no floor is in view).
    pub floors_visible: Option<[i32; 2]>,
    /// The floor grid the new calibration draws (image px), for a live preview.
    #[schema(value_type = Object)]
    pub grid: FacadeGrid,
    /// The calibration to save (`[camera.facade] calibration`).
    #[schema(value_type = Vec<Object>)]
    pub calibration: Vec<CalibPoint>,
}

/// Bad input, naming the field (`points[2].floor`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("camera '{camera}': {field}: {reason}")]
pub struct CalibrateError {
    pub camera: String,
    pub field: String,
    pub reason: String,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Resolve a point's facade position in metres.
fn resolve(
    camera: &str,
    facade: &FacadeConfig,
    i: usize,
    p: &PlacedPoint,
) -> Result<[f64; 2], CalibrateError> {
    let err = |f: &str, r: String| CalibrateError {
        camera: camera.into(),
        field: format!("points[{i}].{f}"),
        reason: r,
    };
    if let Some(m) = p.m {
        if p.floor.is_some() || p.column.is_some() || p.x_m.is_some() {
            return Err(err("m", "give either m or floor/column, not both".into()));
        }
        if !(m[0].is_finite() && m[1].is_finite()) {
            return Err(err("m", "not finite numbers".into()));
        }
        return Ok(m);
    }
    let model = &facade.model;
    let fh = facade.floor_height_m;
    let Some(floor) = p.floor else {
        return Err(err("floor", "a point needs m = [x, h] or a floor".into()));
    };
    if floor < 1 {
        return Err(err("floor", format!("floors start at 1, got {floor}")));
    }
    let top = model.storeys.map(|n| n as i32 + 1);
    if let Some(t) = top {
        if floor > t {
            return Err(err(
                "floor",
                format!(
                    "floor {floor} is above the roof of the {}-storey building model \
                     (floor {t} is the roof line)",
                    t - 1
                ),
            ));
        }
    }
    let base = (floor - 1) as f64 * fh;
    let h = match p.at.as_deref().unwrap_or("floor") {
        "floor" => base,
        "sill" => base + model.sill(),
        "window_top" => base + model.sill() + model.window_h(),
        other => {
            return Err(err(
                "at",
                format!("'{other}' is not one of floor, sill, window_top"),
            ))
        }
    };
    let x = match (p.column, p.x_m) {
        (Some(_), Some(_)) => return Err(err("column", "give column or x_m, not both".into())),
        (None, Some(x)) if x.is_finite() => x,
        (None, Some(_)) => return Err(err("x_m", "not a finite number".into())),
        (Some(c), None) => {
            let cols = model.columns();
            if cols.is_empty() {
                return Err(err(
                    "column",
                    "the camera's building model has no columns ([camera.facade.building] \
                     columns or facade_x_m)"
                        .into(),
                ));
            }
            match cols.iter().find(|k| k.index == c) {
                Some(k) => k.x_m,
                None => {
                    return Err(err(
                        "column",
                        format!("column {c} is not one of 1..={}", cols.len()),
                    ))
                }
            }
        }
        (None, None) => return Err(err("column", "a floor point needs column or x_m".into())),
    };
    let half = model.window_w() / 2.0;
    let x = match p.side.as_deref().unwrap_or("centre") {
        "centre" | "center" => x,
        "left" => x - half,
        "right" => x + half,
        other => {
            return Err(err(
                "side",
                format!("'{other}' is not one of centre, left, right"),
            ))
        }
    };
    Ok([x, h])
}

/// Twice the area of triangle abc over the square of its longest side: 0 on a line.
fn flatness(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    let area2 = ((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])).abs();
    let d = |p: [f64; 2], q: [f64; 2]| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
    area2 / d(a, b).max(d(b, c)).max(d(a, c)).max(1e-12)
}

/// Smallest over largest spread of a point set (0: all on one line).
fn spread_ratio(pts: &[[f64; 2]]) -> f64 {
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p[0]).sum::<f64>() / n,
        pts.iter().map(|p| p[1]).sum::<f64>() / n,
    );
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for p in pts {
        sxx += (p[0] - mx).powi(2);
        syy += (p[1] - my).powi(2);
        sxy += (p[0] - mx) * (p[1] - my);
    }
    let tr = sxx + syy;
    let det = sxx * syy - sxy * sxy;
    let disc = (tr * tr / 4.0 - det).max(0.0).sqrt();
    let (l1, l2) = (tr / 2.0 + disc, tr / 2.0 - disc);
    if l1 <= 0.0 {
        0.0
    } else {
        (l2.max(0.0) / l1).sqrt()
    }
}

/// Fit the calibration of a `width` × `height` facade camera from placed points.
pub fn fit(
    camera: &str,
    facade: &FacadeConfig,
    points: &[PlacedPoint],
    width: u32,
    height: u32,
) -> Result<Fit, CalibrateError> {
    let err = |f: &str, r: String| CalibrateError {
        camera: camera.into(),
        field: f.into(),
        reason: r,
    };
    if points.len() < 4 {
        return Err(err(
            "points",
            format!(
                "needs at least 4 points on the facade, got {}",
                points.len()
            ),
        ));
    }
    let (w, h) = (width as f64, height as f64);
    let mut img = Vec::new();
    let mut world = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let [x, y] = p.px;
        if !(x.is_finite() && y.is_finite()) || x < 0.0 || y < 0.0 || x > w || y > h {
            return Err(err(
                &format!("points[{i}].px"),
                format!("[{x}, {y}] is outside the {width}×{height} picture"),
            ));
        }
        img.push(p.px);
        world.push(resolve(camera, facade, i, p)?);
    }
    for (name, set) in [("image", &img), ("facade", &world)] {
        if spread_ratio(set) < 0.02 {
            return Err(err(
                "points",
                format!(
                    "the {name} points lie (nearly) on one line; place them on at least two \
                     floors and two columns"
                ),
            ));
        }
    }
    let mut warnings = Vec::new();
    // Three of four points on a line leave the homography undetermined.
    if points.len() == 4 {
        for (a, b, c) in [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)] {
            if flatness(img[a], img[b], img[c]) < 0.02
                || flatness(world[a], world[b], world[c]) < 0.02
            {
                return Err(err(
                    "points",
                    format!("points {a}, {b} and {c} are collinear: four points need no three on a line"),
                ));
            }
        }
        warnings
            .push("four points fit exactly: add a fifth or more so that errors show".to_string());
    }
    let mut hom = Homography::from_points(&img, &world).map_err(|e| match e {
        CalibError::Collinear(which) => err(
            "points",
            format!("the {which} points are (nearly) collinear"),
        ),
        other => err("points", other.to_string()),
    })?;
    hom.set_image_size(width, height);
    let mut fitted = Vec::new();
    for (p, m) in img.iter().zip(&world) {
        let Some(r) = hom.to_image(m[0], m[1]) else {
            return Err(err(
                "points",
                "a point maps behind the camera: check the floors and columns typed".into(),
            ));
        };
        let e = ((r.0 - p[0]).powi(2) + (r.1 - p[1]).powi(2)).sqrt();
        fitted.push(FittedPoint {
            px: *p,
            m: *m,
            reprojected_px: [round2(r.0), round2(r.1)],
            error_px: round2(e),
        });
    }
    let max = fitted.iter().map(|p| p.error_px).fold(0.0, f64::max);
    let rms = (fitted.iter().map(|p| p.error_px.powi(2)).sum::<f64>() / fitted.len() as f64).sqrt();
    if max > MAX_ERROR_PX {
        let worst = fitted
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.error_px.total_cmp(&b.1.error_px))
            .map_or(0, |(i, _)| i);
        warnings.push(format!(
            "point {worst} is {max:.1} px from where the fit puts it (more than {MAX_ERROR_PX} px): \
             a misplaced point or a typo in its floor/column, or strong lens distortion \
             (wide-angle barrel) that a plane cannot follow"
        ));
    }
    if hom.pose.is_none() {
        warnings.push(
            "no camera pose follows from these points (a straight-on view, or a lens that \
             bends the facade): object sizes are estimated from the facade's scale"
                .to_string(),
        );
    }
    let mut new = facade.clone();
    new.calibration = img
        .iter()
        .zip(&world)
        .map(|(p, m)| CalibPoint {
            px: *p,
            m: [
                (m[0] * 1000.0).round() / 1000.0,
                (m[1] * 1000.0).round() / 1000.0,
            ],
        })
        .collect();
    let plan = coverage::plan_camera(camera, &new, width, height)
        .map_err(|e| err("points", e.to_string()))?;
    let floors_visible = match (plan.floors_in_view.first(), plan.floors_in_view.last()) {
        (Some(a), Some(b)) => Some([*a, *b]),
        _ => None,
    };
    // The floor count against the picture: a building model whose roof the fit puts far
    // below the picture's top while the picture shows facade above it disagrees with the
    // points (or the storeys are wrong).
    if let (Some(n), Some(top)) = (new.model.storeys, hom.to_world(w / 2.0, 0.0)) {
        let roof = n as f64 * new.floor_height_m;
        if floors_visible.is_some_and(|f| f[1] == n as i32)
            && top.1 > roof + 3.0 * new.floor_height_m
        {
            warnings.push(format!(
                "the picture reaches {:.0} m, well above the roof of the {n}-storey model \
                 ({roof:.0} m): check storeys or the floors typed",
                top.1
            ));
        }
    }
    let top = plan.windows.iter().map(|v| v.floor).max().unwrap_or(1);
    let grid = coverage::facade_grid(camera, &new, width, height, top)
        .map_err(|e| err("points", e.to_string()))?;
    Ok(Fit {
        camera: camera.into(),
        image_size: [width, height],
        points: fitted,
        rms_error_px: round2(rms),
        max_error_px: round2(max),
        warnings,
        floors_visible,
        grid,
        calibration: new.calibration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BuildingModel;

    /// A frontal camera, 20 px per metre: x = (px − 640)/20, h = (720 − py)/20 + 5.
    fn facade() -> FacadeConfig {
        FacadeConfig {
            floor_height_m: 3.0,
            calibration: Vec::new(),
            masks: Vec::new(),
            model: BuildingModel {
                storeys: Some(20),
                facade_x_m: Some([-20.0, 20.0]),
                column_spacing_m: Some(4.0),
                ..Default::default()
            },
        }
    }
    fn px_of(x: f64, h: f64) -> [f64; 2] {
        [640.0 + 20.0 * x, 720.0 - 20.0 * (h - 5.0)]
    }

    #[test]
    fn floor_and_column_points_fit_and_errors_show() {
        let f = facade();
        let cols = f.model.columns();
        let mut pts = Vec::new();
        for (floor, col) in [(4, 3), (4, 8), (10, 3), (10, 8), (7, 5)] {
            let x = cols[col as usize - 1].x_m;
            pts.push(PlacedPoint {
                px: px_of(x, (floor - 1) as f64 * 3.0),
                floor: Some(floor),
                column: Some(col),
                ..Default::default()
            });
        }
        let fit = fit("east", &f, &pts, 1280, 720).unwrap();
        assert!(fit.max_error_px < 0.01, "{:?}", fit.points);
        assert!(fit.warnings.iter().all(|w| !w.contains("px from")));
        // Heights 5..41 m: windows of floors 3..13 in view.
        assert_eq!(fit.floors_visible, Some([3, 13]));
        // One point typed a floor too high: a large error on it, warned.
        pts[4].floor = Some(8);
        let fit = super::fit("east", &f, &pts, 1280, 720).unwrap();
        assert!(fit.max_error_px > MAX_ERROR_PX);
        assert!(
            fit.warnings.iter().any(|w| w.contains("px from")),
            "{:?}",
            fit.warnings
        );
    }

    #[test]
    fn bad_points_name_the_field() {
        let f = facade();
        let p = |x: f64, h: f64| PlacedPoint {
            px: px_of(x, h),
            m: Some([x, h]),
            ..Default::default()
        };
        let e = fit(
            "east",
            &f,
            &[p(0.0, 6.0), p(5.0, 6.0), p(5.0, 12.0)],
            1280,
            720,
        )
        .unwrap_err();
        assert_eq!(e.field, "points");
        assert!(e.to_string().contains("east") && e.reason.contains("at least 4"));
        // Collinear.
        let line: Vec<_> = (0..5).map(|i| p(i as f64, 6.0 + i as f64)).collect();
        let e = fit("east", &f, &line, 1280, 720).unwrap_err();
        assert!(e.reason.contains("one line"), "{e}");
        // Outside the picture.
        let mut pts = vec![p(0.0, 6.0), p(5.0, 6.0), p(5.0, 12.0), p(0.0, 12.0)];
        pts[2].px = [1500.0, 100.0];
        let e = fit("east", &f, &pts, 1280, 720).unwrap_err();
        assert_eq!(e.field, "points[2].px");
        // A floor above the roof of the model.
        let e = fit(
            "east",
            &f,
            &[
                p(0.0, 6.0),
                p(5.0, 6.0),
                p(5.0, 12.0),
                PlacedPoint {
                    px: [100.0, 100.0],
                    floor: Some(25),
                    column: Some(1),
                    ..Default::default()
                },
            ],
            1280,
            720,
        )
        .unwrap_err();
        assert_eq!(e.field, "points[3].floor");
        assert!(e.reason.contains("roof"), "{e}");
        // Three of four on a line.
        let e = fit(
            "east",
            &f,
            &[p(0.0, 6.0), p(5.0, 6.0), p(10.0, 6.0), p(0.0, 12.0)],
            1280,
            720,
        )
        .unwrap_err();
        assert!(e.reason.contains("collinear"), "{e}");
        // A column the model does not have.
        let e = fit(
            "east",
            &f,
            &[
                p(0.0, 6.0),
                p(5.0, 6.0),
                p(5.0, 12.0),
                PlacedPoint {
                    px: [100.0, 100.0],
                    floor: Some(5),
                    column: Some(40),
                    ..Default::default()
                },
            ],
            1280,
            720,
        )
        .unwrap_err();
        assert_eq!(e.field, "points[3].column");
    }
}
