//! Pictures of `vigil coverage --out DIR`: per camera, the facade's floor grid and each window's
//! opening (projected through the calibration) over a snapshot of the camera, coloured by the
//! smallest object seen there, masks hatched; per building, an elevation (floors × columns)
//! coloured by the best camera. The geometry comes from `analytics::coverage`; this module
//! only draws and reads the snapshot.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{Rgb, RgbImage};

use crate::analytics::coverage::{
    self, BuildingVerdict, CameraCoverage, SizeClass, FIRST_FLOOR, MIN_RELIABLE_PX,
};
use crate::config::{CameraConfig, Config, FacadeConfig};
use crate::evidence::draw;
use crate::ingest::{Counters, IngestOptions, MediaSource};

pub const GREEN: Rgb<u8> = Rgb([30, 200, 60]);
pub const YELLOW: Rgb<u8> = Rgb([245, 215, 30]);
pub const ORANGE: Rgb<u8> = Rgb([255, 130, 0]);
pub const RED: Rgb<u8> = Rgb([225, 30, 30]);
pub const GREY: Rgb<u8> = Rgb([150, 150, 150]);
pub const MASK: Rgb<u8> = Rgb([230, 60, 220]);
/// Background of the elevation drawing.
pub const PAPER: Rgb<u8> = Rgb([250, 250, 246]);

/// The colour of a size class.
pub fn colour(k: SizeClass) -> Rgb<u8> {
    match k {
        SizeClass::Cm5 => GREEN,
        SizeClass::Cm10 => YELLOW,
        SizeClass::Cm30 => ORANGE,
        SizeClass::NotCovered => RED,
    }
}

const LEGEND: [(SizeClass, &str); 4] = [
    (SizeClass::Cm5, "5 CM SEEN"),
    (SizeClass::Cm10, "10 CM SEEN"),
    (SizeClass::Cm30, "30 CM SEEN"),
    (SizeClass::NotCovered, "NOT COVERED / MASKED"),
];

/// What the camera picture was drawn on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backdrop {
    /// The first decodable frame of the camera's source.
    Snapshot,
    /// The source could not be read: a plain drawing of the facade plane.
    Rendered,
}

/// The first decodable frame of a camera's source at the analysed size, or `None` (logged)
/// when it cannot be read.
pub fn snapshot(cfg: &Config, cam: &CameraConfig, width: u32, height: u32) -> Option<RgbImage> {
    let url = if cam.is_network() {
        cam.source.clone()
    } else {
        cfg.resolve(&cam.source).to_string_lossy().to_string()
    };
    let opts = IngestOptions {
        analysis_size: Some((width, height)),
        want_rgb: true,
        io_timeout_s: cam.io_timeout_s.min(10.0),
        ring_s: 1.0,
        ..IngestOptions::default()
    };
    let mut ms = match MediaSource::open(&url, &opts, Arc::new(Counters::default())) {
        Ok(ms) => ms,
        Err(e) => {
            tracing::warn!(camera = %cam.name, error = %e, "no snapshot: a rendered view instead");
            return None;
        }
    };
    // A stream may start with undecodable packets (joined mid-GOP): try a few frames.
    for _ in 0..100 {
        match ms.next_frame() {
            Ok(Some(f)) if f.width == width && f.height == height && f.rgb.is_some() => {
                return Some(f.to_rgb_image());
            }
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(camera = %cam.name, error = %e, "no snapshot: a rendered view instead");
                return None;
            }
        }
    }
    tracing::warn!(camera = %cam.name, "no decodable frame: a rendered view instead");
    None
}

fn pts(c: &[[f64; 2]]) -> Vec<(f64, f64)> {
    c.iter().map(|p| (p[0], p[1])).collect()
}

fn scale_for(width: u32) -> u32 {
    if width >= 960 {
        2
    } else {
        1
    }
}

/// A plain view when there is no snapshot: a dark picture with the facade plane (its extent,
/// ground to roof) drawn in grey.
pub fn rendered_view(facade: &FacadeConfig, plan: &CameraCoverage) -> RgbImage {
    let [w, h] = plan.image_size;
    let mut img = RgbImage::from_pixel(w, h, Rgb([38, 42, 50]));
    let top = plan.windows.iter().map(|v| v.floor).max().unwrap_or(1);
    if let Ok(g) = coverage::facade_grid(&plan.camera, facade, w, h, top) {
        if let (Some(lo), Some(hi)) = (g.floor_lines.first(), g.floor_lines.last()) {
            let poly = [
                (lo.1[0], lo.1[1]),
                (lo.2[0], lo.2[1]),
                (hi.2[0], hi.2[1]),
                (hi.1[0], hi.1[1]),
            ];
            draw::fill_polygon_blend(&mut img, &poly, Rgb([120, 120, 126]), 1.0);
        }
    }
    let s = scale_for(w);
    draw::draw_label(
        &mut img,
        4,
        h as i64 - 12 * s as i64 - 4,
        "RENDERED VIEW (NO SNAPSHOT)",
        draw::WHITE,
        s,
    );
    img
}

/// The camera picture: floor lines, each window's opening filled and outlined by its class
/// (windows only partly in the picture outlined in grey), masks hatched, floor numbers, a
/// legend.
pub fn camera_picture(mut img: RgbImage, facade: &FacadeConfig, plan: &CameraCoverage) -> RgbImage {
    let [w, h] = plan.image_size;
    let s = scale_for(w);
    let top = plan.windows.iter().map(|v| v.floor).max().unwrap_or(1);
    if let Ok(g) = coverage::facade_grid(&plan.camera, facade, w, h, top) {
        for (_, a, b) in &g.floor_lines {
            draw::draw_line(
                &mut img,
                (a[0], a[1]),
                (b[0], b[1]),
                Rgb([235, 235, 235]),
                1,
            );
        }
    }
    for m in &facade.masks {
        let p = pts(m);
        draw::hatch_polygon(&mut img, &p, MASK, 8);
        draw::draw_polygon(&mut img, &p, MASK, 2);
    }
    for v in &plan.windows {
        let p = pts(&v.corners_px);
        if v.in_image {
            let c = colour(v.size_class());
            draw::fill_polygon_blend(&mut img, &p, c, 0.55);
            draw::draw_polygon(&mut img, &p, c, 1);
        } else {
            draw::draw_polygon(&mut img, &p, GREY, 1);
        }
    }
    // Floor numbers left of each floor's leftmost window in the picture.
    let mut floors: Vec<i32> = plan
        .windows
        .iter()
        .filter(|v| v.in_image)
        .map(|v| v.floor)
        .collect();
    floors.dedup();
    for f in floors {
        let left = plan
            .windows
            .iter()
            .filter(|v| v.floor == f && v.in_image)
            .map(|v| v.corners_px)
            .min_by(|a, b| a[0][0].total_cmp(&b[0][0]));
        if let Some(c) = left {
            let txt = format!("F{f}");
            let (tw, th) = draw::text_size(&txt, s);
            let x = c[0][0] - tw as f64 - 6.0 * s as f64;
            let y = (c[0][1] + c[3][1]) / 2.0 - th as f64 / 2.0;
            draw::draw_label(&mut img, x as i64, y as i64, &txt, draw::WHITE, s);
        }
    }
    let head = format!(
        "{}  COVERAGE  (SMALLEST OBJECT SEEN AT {MIN_RELIABLE_PX} PX)",
        plan.camera
    );
    draw::draw_label(&mut img, 4, 4, &head, draw::WHITE, s);
    legend(&mut img, s, true);
    img
}

/// The legend box in the bottom-right corner.
fn legend(img: &mut RgbImage, s: u32, with_mask: bool) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let line = 11 * s as i64;
    let rows = LEGEND.len() as i64 + i64::from(with_mask);
    let (tw, _) = draw::text_size("NOT COVERED / MASKED", s);
    let bw = tw as i64 + 22 * s as i64;
    let bh = rows * line + 8 * s as i64;
    let (x0, y0) = (w - bw - 6, h - bh - 6);
    draw::fill_rect_blend(img, x0, y0, bw as u32, bh as u32, draw::BLACK, 0.65);
    let sw = 8 * s as i64;
    for (i, (k, label)) in LEGEND.iter().enumerate() {
        let y = y0 + 4 * s as i64 + i as i64 * line;
        draw::fill_rect_blend(img, x0 + 4, y, sw as u32, sw as u32, colour(*k), 1.0);
        draw::draw_text(img, x0 + 8 + sw, y, label, draw::WHITE, s);
    }
    if with_mask {
        let y = y0 + 4 * s as i64 + LEGEND.len() as i64 * line;
        let sq = [
            ((x0 + 4) as f64, y as f64),
            ((x0 + 4 + sw) as f64, y as f64),
            ((x0 + 4 + sw) as f64, (y + sw) as f64),
            ((x0 + 4) as f64, (y + sw) as f64),
        ];
        draw::hatch_polygon(img, &sq, MASK, 4);
        draw::draw_text(img, x0 + 8 + sw, y, "MASK", draw::WHITE, s);
    }
}

/// Where the elevation drawing puts each window: floors bottom-up, columns left to right.
#[derive(Clone, Copy, Debug)]
pub struct ElevationLayout {
    pub floors: u32,
    pub columns: u32,
}

impl ElevationLayout {
    pub const CELL_W: u32 = 44;
    pub const CELL_H: u32 = 18;
    const LEFT: u32 = 48;
    const TOP: u32 = 34;
    const BOTTOM: u32 = 100;

    pub fn size(&self) -> (u32, u32) {
        (
            (Self::LEFT + self.columns * Self::CELL_W + 16).max(300),
            Self::TOP + self.floors * Self::CELL_H + Self::BOTTOM,
        )
    }

    /// Top-left corner of the cell of `floor` (1-based) and column `index` (1-based).
    pub fn cell(&self, floor: u32, column: u32) -> (u32, u32) {
        (
            Self::LEFT + (column - 1) * Self::CELL_W,
            Self::TOP + (self.floors - floor) * Self::CELL_H,
        )
    }

    /// The centre pixel of a cell.
    pub fn centre(&self, floor: u32, column: u32) -> (u32, u32) {
        let (x, y) = self.cell(floor, column);
        (x + Self::CELL_W / 2, y + Self::CELL_H / 2)
    }
}

/// The elevation drawing of one building: every window of every floor, filled with its best
/// class over the building's cameras; floors below [`FIRST_FLOOR`] grey (not required), windows
/// no camera plans for (outside every view) red.
pub fn elevation(cams: &[&CameraCoverage], verdict: &BuildingVerdict) -> RgbImage {
    let cells = coverage::building_cells(cams);
    let floors = verdict
        .storeys
        .map(|n| n as i32)
        .unwrap_or_else(|| cells.iter().map(|c| c.0).max().unwrap_or(1))
        .max(1) as u32;
    let mut cols: Vec<(u32, String)> = cells.iter().map(|c| (c.1, c.2.clone())).collect();
    cols.sort();
    cols.dedup();
    let ncols = cols.iter().map(|c| c.0).max().unwrap_or(1).max(1);
    let lay = ElevationLayout {
        floors,
        columns: ncols,
    };
    let (w, h) = lay.size();
    let mut img = RgbImage::from_pixel(w, h, PAPER);
    for f in 1..=floors {
        for c in 1..=ncols {
            let k = cells
                .iter()
                .find(|e| e.0 == f as i32 && e.1 == c)
                .map(|e| e.3)
                .unwrap_or(SizeClass::NotCovered);
            let fill = if (f as i32) < FIRST_FLOOR {
                Rgb([205, 205, 205])
            } else {
                colour(k)
            };
            let (x, y) = lay.cell(f, c);
            draw::fill_rect_blend(
                &mut img,
                x as i64 + 3,
                y as i64 + 2,
                ElevationLayout::CELL_W - 6,
                ElevationLayout::CELL_H - 4,
                fill,
                1.0,
            );
        }
        let (_, y) = lay.cell(f, 1);
        let txt = f.to_string();
        let (tw, _) = draw::text_size(&txt, 1);
        draw::draw_text(
            &mut img,
            (ElevationLayout::LEFT - tw - 6) as i64,
            y as i64 + 5,
            &txt,
            draw::BLACK,
            1,
        );
    }
    // Slab lines and the outline of the facade.
    let (x0, _) = lay.cell(1, 1);
    let x1 = x0 + ncols * ElevationLayout::CELL_W;
    for f in 0..=floors {
        let y = (ElevationLayout::TOP + f * ElevationLayout::CELL_H) as f64;
        draw::draw_line(&mut img, (x0 as f64, y), (x1 as f64, y), GREY, 1);
    }
    let ground = (ElevationLayout::TOP + floors * ElevationLayout::CELL_H) as f64;
    draw::draw_line(
        &mut img,
        (x0 as f64, ground),
        (x1 as f64, ground),
        draw::BLACK,
        2,
    );
    for (i, name) in &cols {
        let (x, _) = lay.cell(1, *i);
        let (tw, _) = draw::text_size(name, 1);
        let cx = x as i64 + (ElevationLayout::CELL_W as i64 - tw as i64) / 2;
        draw::draw_text(&mut img, cx, ground as i64 + 6, name, draw::BLACK, 1);
    }
    let title = format!(
        "BUILDING {}: {} ({} OF {} WINDOWS FROM FLOOR {FIRST_FLOOR} COVERED)",
        verdict.building,
        verdict.verdict.to_uppercase(),
        verdict.windows_covered,
        verdict.windows_required
    );
    draw::draw_text(&mut img, 8, 10, &title, draw::BLACK, 1);
    let cams_txt = format!("CAMERAS: {}", verdict.cameras.join(", "));
    draw::draw_text(&mut img, 8, 20, &cams_txt, draw::BLACK, 1);
    // Legend under the drawing.
    let ly = ground as i64 + 22;
    let mut items: Vec<(Rgb<u8>, &str)> = LEGEND.iter().map(|(k, l)| (colour(*k), *l)).collect();
    items.push((Rgb([205, 205, 205]), "BELOW FLOOR 3 (NOT REQUIRED)"));
    for (i, (c, label)) in items.iter().enumerate() {
        let y = ly + i as i64 * 12;
        draw::fill_rect_blend(&mut img, 8, y, 9, 9, *c, 1.0);
        draw::draw_text(&mut img, 22, y + 1, label, draw::BLACK, 1);
    }
    img
}

/// A file name from a camera or building name (anything but ASCII letters, digits, `-`, `_`
/// becomes `_`).
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A written picture.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Written {
    pub path: PathBuf,
    /// `camera` or `building`.
    pub kind: &'static str,
    pub name: String,
    /// Camera pictures: what the grid was drawn on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backdrop: Option<Backdrop>,
}

/// Write the camera pictures and the building elevations into `dir`.
pub fn write_all(
    dir: &Path,
    cfg: &Config,
    plans: &[CameraCoverage],
    verdicts: &[BuildingVerdict],
) -> anyhow::Result<Vec<Written>> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let save = |path: &Path, img: &RgbImage| -> anyhow::Result<()> {
        img.save_with_format(path, image::ImageFormat::Png)
            .with_context(|| format!("cannot write {}", path.display()))
    };
    let mut out = Vec::new();
    for p in plans {
        let Some(cam) = cfg.cameras.iter().find(|c| c.name == p.camera) else {
            continue;
        };
        let facade = cam.facade.clone().unwrap_or_default();
        let [w, h] = p.image_size;
        let (base, backdrop) = match snapshot(cfg, cam, w, h) {
            Some(img) => (img, Backdrop::Snapshot),
            None => (rendered_view(&facade, p), Backdrop::Rendered),
        };
        let img = camera_picture(base, &facade, p);
        let path = dir.join(format!("camera-{}.png", file_stem(&p.camera)));
        save(&path, &img)?;
        out.push(Written {
            path,
            kind: "camera",
            name: p.camera.clone(),
            backdrop: Some(backdrop),
        });
    }
    for v in verdicts {
        let group: Vec<&CameraCoverage> =
            plans.iter().filter(|p| p.building == v.building).collect();
        let img = elevation(&group, v);
        let path = dir.join(format!("building-{}.png", file_stem(&v.building)));
        save(&path, &img)?;
        out.push(Written {
            path,
            kind: "building",
            name: v.building.clone(),
            backdrop: None,
        });
    }
    Ok(out)
}
