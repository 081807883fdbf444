//! `vigil coverage` on a generated tower camera: the picture size read from the clip, floors in
//! view from the calibration, object sizes, masks, a window-level origin on the alarm, and clear
//! errors for bad building models.

mod common;

use std::process::Command;

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(VIGIL)
        .args(args)
        .env("VIGIL_LOG", "warn")
        .output()
        .expect("run vigil");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn coverage_of_a_generated_tower_camera() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = common::synth_facade(dir.path(), "tower", 3, &["--duration", "2"]);
    let facade = common::synth_facade_table(dir.path(), "tower");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("tower.truth.json")).expect("truth"))
            .expect("truth json");
    let storeys = truth["floors"].as_u64().expect("floors");
    let fh = truth["floor_height_m"].as_f64().expect("floor height");
    let config = |extra: &str| {
        format!(
            "[[camera]]\nname = \"tower\"\nkind = \"facade\"\nsource = \"{}\"\n[camera.facade]\n{facade}\n\
             [camera.facade.building]\nname = \"T3\"\nstoreys = {storeys}\nfacade_x_m = [-20.0, 20.0]\n{extra}",
            clip.display()
        )
    };
    let cfg = dir.path().join("cov.toml");
    std::fs::write(&cfg, config("")).expect("write");
    let (code, out, err) = run(&["coverage", "--config", cfg.to_str().unwrap(), "--json"]);
    // A 30-storey tower seen from one camera does not meet the standard: exit 1, JSON still out.
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not meet the standard"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let cam = &v["cameras"][0];
    assert_eq!(
        cam["image_size"],
        serde_json::json!([1280, 720]),
        "size read from the clip"
    );
    // Floors in view follow from the calibration: every calibration point's height lies in
    // the picture, so the floors between the lowest and highest calibrated heights are seen.
    let heights: Vec<f64> = facade
        .lines()
        .filter_map(|l| l.split("m = [").nth(1))
        .filter_map(|r| r.split(',').nth(1))
        .filter_map(|h| h.trim().trim_end_matches(['}', ']', ' ', ',']).parse().ok())
        .collect();
    assert!(heights.len() >= 4, "{facade}");
    let lo = heights.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = heights.iter().cloned().fold(0.0, f64::max);
    let floors: Vec<i64> = cam["floors_in_view"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_i64().unwrap())
        .collect();
    let inner_lo = (lo / fh).ceil() as i64 + 1;
    let inner_hi = (hi / fh).floor() as i64 - 1;
    for f in inner_lo..=inner_hi {
        assert!(
            floors.contains(&f),
            "floor {f} between calibrated heights {lo}..{hi} m not in view: {floors:?}"
        );
    }
    assert!(
        !floors.contains(&(storeys as i64)),
        "the roof floor is not in this picture"
    );
    // Sizes are consistent: a 30 cm object is 3× a 10 cm one, and the smallest reliable
    // object is 3 px / px-per-metre.
    for w in cam["windows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["in_view"] == true)
    {
        let px = w["object_px"].as_array().unwrap();
        let (p10, p30) = (px[1].as_f64().unwrap(), px[2].as_f64().unwrap());
        assert!((p30 - 3.0 * p10).abs() < 0.05, "{w}");
        let ppm = w["object_px_per_m"].as_f64().unwrap();
        assert!(
            (w["min_object_m"].as_f64().unwrap() - 3.0 / ppm).abs() < 0.01,
            "{w}"
        );
    }
    let b = &v["buildings"][0];
    assert_eq!(b["verdict"], "not met");
    assert!(b["uncovered"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u.as_str().unwrap().starts_with("3-")));

    // A mask over the whole picture: nothing in view.
    std::fs::write(
        &cfg,
        config("").replace(
            "[camera.facade.building]",
            "masks = [[[0.0, 0.0], [1280.0, 0.0], [1280.0, 720.0], [0.0, 720.0]]]\n[camera.facade.building]",
        ),
    )
    .expect("write");
    let (_, out, err) = run(&["coverage", "--config", cfg.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(v["cameras"][0]["floors_in_view"], serde_json::json!([]));

    // Bad building models are config errors naming the field.
    for (extra, field) in [
        (
            "[[camera.facade.building.columns]]\nx_m = 99.0\n",
            "columns[0].x_m",
        ),
        ("window_h_m = 4.0\n", "window_h_m"),
    ] {
        std::fs::write(&cfg, config(extra)).expect("write");
        let (code, _, err) = run(&["coverage", "--config", cfg.to_str().unwrap()]);
        assert_ne!(code, 0);
        assert!(err.contains(field), "{field}: {err}");
    }
    let (code, _, err) = run(&[
        "coverage",
        "--config",
        cfg.to_str().unwrap(),
        "--size",
        "12",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("WIDTHxHEIGHT"), "{err}");
}

/// With a building model, every alarm names its window ("<floor>-<column>") besides the floor.
#[test]
fn alarms_name_the_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = common::synth_facade(dir.path(), "tower", 3, &["--duration", "8", "--drops", "2"]);
    let facade = common::synth_facade_table(dir.path(), "tower");
    let cfg = dir.path().join("w.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[camera]]\nname = \"tower\"\nkind = \"facade\"\nsource = \"{}\"\n[camera.facade]\n{facade}\n\
             [camera.facade.building]\nstoreys = 30\nfacade_x_m = [-40.0, 40.0]\ncolumn_spacing_m = 4.0\n",
            clip.display()
        ),
    )
    .expect("write");
    let ev_dir = dir.path().join("evidence");
    let (code, out, err) = run(&[
        "analyze",
        clip.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--evidence-dir",
        ev_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let events: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let located: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["origin"]["floor"].is_i64())
        .collect();
    assert!(!located.is_empty(), "no located alarm: {out}");
    for e in located {
        let o = &e["origin"];
        let floor = o["floor"].as_i64().unwrap();
        let window = o["window"]
            .as_str()
            .unwrap_or_else(|| panic!("no window: {o}"));
        assert!(window.starts_with(&format!("{floor}-")), "{o}");
        let col = o["column"].as_u64().unwrap();
        assert_eq!(o["column_name"].as_str().unwrap(), format!("{col:02}"));
        // The nearest of columns 4 m apart is at most 2 m away.
        assert!(
            o["window_distance_m"].as_f64().unwrap() <= 2.0 + 1e-6,
            "{o}"
        );
    }
    // Each trajectory picture outlines its window: the opening projected through the
    // calibration, in the window colour, on its left, right and bottom edges.
    let config = vigil::config::Config::load(&cfg).expect("config");
    let facade = config.cameras[0].facade.clone().expect("facade");
    let hom = vigil::analytics::coverage::homography("tower", &facade, 1280, 720).expect("hom");
    let mut checked = 0;
    for entry in std::fs::read_dir(ev_dir.join("tower")).expect("evidence dir") {
        let d = entry.expect("entry").path();
        let Ok(text) = std::fs::read_to_string(d.join("event.json")) else {
            continue;
        };
        let e: serde_json::Value = serde_json::from_str(&text).expect("event.json");
        let o = &e["origin"];
        let (Some(floor), Some(x)) = (o["floor"].as_i64(), o["facade_x_m"].as_f64()) else {
            continue;
        };
        let col = facade.model.locate(x, floor as i32).expect("window").column;
        let m = facade
            .model
            .opening_m(col.x_m, floor as i32, facade.floor_height_m);
        let c: Vec<(f64, f64)> = m
            .iter()
            .map(|p| hom.to_image(p[0], p[1]).expect("in front"))
            .collect();
        let img = image::open(d.join("trajectory.png"))
            .expect("trajectory picture")
            .to_rgb8();
        let near = |x: f64, y: f64| {
            (-2..=2).any(|dy: i64| {
                (-2..=2).any(|dx: i64| {
                    let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
                    px >= 0
                        && py >= 0
                        && (px as u32) < img.width()
                        && (py as u32) < img.height()
                        && *img.get_pixel(px as u32, py as u32)
                            == vigil::analytics::falling::picture::WINDOW
                })
            })
        };
        let mid = |a: (f64, f64), b: (f64, f64)| ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        for (a, b) in [(c[0], c[1]), (c[1], c[2]), (c[3], c[0])] {
            let p = mid(a, b);
            assert!(
                near(p.0, p.1),
                "{}: window edge at {p:?} not outlined",
                d.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no located event with a picture");
}

/// A generated tower camera's config with a building model of the scene's true storeys and
/// extent (default columns every 3.6 m, default 1.5 × 1.5 m openings).
fn scene_config(
    dir: &std::path::Path,
    name: &str,
    truth: &vigil::synth::truth::FacadeTruth,
    extra: &str,
) -> std::path::PathBuf {
    let facade = common::synth_facade_table(dir, name);
    let cfg = dir.join(format!("{name}.cov.toml"));
    std::fs::write(
        &cfg,
        format!(
            "[[camera]]\nname = \"{name}\"\nkind = \"facade\"\nsource = \"{name}.mp4\"\n[camera.facade]\n{facade}\n{extra}\
             [camera.facade.building]\nname = \"B-{name}\"\nstoreys = {}\nfacade_x_m = [{:.3}, {:.3}]\n",
            truth.floors, truth.facade_x_m[0], truth.facade_x_m[1]
        ),
    )
    .expect("write");
    cfg
}

fn read_truth(dir: &std::path::Path, name: &str) -> vigil::synth::truth::FacadeTruth {
    serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.truth.json"))).expect("truth"))
        .expect("truth json")
}

/// `--out`: a picture per camera (the grid over the clip's first frame) and an elevation per
/// building; decoded, the colours at windows follow the plan.
#[test]
fn coverage_pictures_follow_the_plan() {
    use vigil::cli::coverage_picture::{ElevationLayout, GREY, RED, YELLOW};
    let dir = tempfile::tempdir().expect("tempdir");
    // Close to a 20-storey tower: low floors seen well, the top out of the picture.
    common::synth_facade(
        dir.path(),
        "near",
        5,
        &["--duration", "1", "--distance", "20", "--floors", "20"],
    );
    let truth = read_truth(dir.path(), "near");
    let mask = "masks = [[[900.0, 300.0], [1280.0, 300.0], [1280.0, 720.0], [900.0, 720.0]]]\n";
    let cfg = scene_config(dir.path(), "near", &truth, mask);
    let out = dir.path().join("pics");
    let (code, stdout, err) = run(&[
        "coverage",
        "--config",
        cfg.to_str().unwrap(),
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "not met: {err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let pics = v["pictures"].as_array().expect("pictures listed");
    assert_eq!(pics.len(), 2, "{pics:?}");
    assert_eq!(pics[0]["backdrop"], "snapshot", "{pics:?}");
    let cam_png = out.join("camera-near.png");
    let bld_png = out.join("building-B-near.png");
    let cam = image::open(&cam_png)
        .expect("camera picture decodes")
        .to_rgb8();
    assert_eq!(cam.dimensions(), (1280, 720));
    let windows = v["cameras"][0]["windows"].as_array().unwrap().clone();
    let centre = |w: &serde_json::Value| -> (u32, u32) {
        let c = w["corners_px"].as_array().unwrap();
        let (mut x, mut y) = (0.0, 0.0);
        for p in c {
            x += p[0].as_f64().unwrap() / 4.0;
            y += p[1].as_f64().unwrap() / 4.0;
        }
        (x.round() as u32, y.round() as u32)
    };
    let covered: Vec<&serde_json::Value> = windows
        .iter()
        .filter(|w| w["in_view"] == true && w["object_px"][1].as_f64().unwrap() >= 3.0)
        .collect();
    assert!(!covered.is_empty(), "the scene should have covered windows");
    let masked: Vec<&serde_json::Value> = windows
        .iter()
        .filter(|w| w["in_image"] == true && w["masked"] == true)
        .collect();
    assert!(!masked.is_empty(), "the mask should hide windows");
    // A covered window is tinted green (5 cm seen) or yellow (10 cm): the grey wall under it
    // turns strongly green or yellow; a masked one red.
    for w in &covered {
        let (x, y) = centre(w);
        let p = cam.get_pixel(x, y).0.map(i32::from);
        let (r, g, b) = (p[0], p[1], p[2]);
        if w["object_px"][0].as_f64().unwrap() >= 3.0 {
            assert!(g - r > 50 && g - b > 50, "{} green? {p:?}", w["label"]);
        } else {
            assert!(r - b > 50 && g - b > 50, "{} yellow? {p:?}", w["label"]);
        }
    }
    for w in &masked {
        let (x, y) = centre(w);
        let p = cam.get_pixel(x, y).0.map(i32::from);
        // Either the red fill or a hatch line (magenta) of the mask.
        assert!(p[0] - p[1] > 50, "{} red? {p:?}", w["label"]);
    }
    // The elevation: exact colours per cell.
    let bld = image::open(&bld_png).expect("elevation decodes").to_rgb8();
    let lay = ElevationLayout {
        floors: truth.floors,
        columns: windows
            .iter()
            .map(|w| w["column"].as_u64().unwrap() as u32)
            .max()
            .unwrap(),
    };
    assert_eq!(bld.dimensions(), lay.size());
    let cell = |floor: u32, col: u32| {
        let (x, y) = lay.centre(floor, col);
        *bld.get_pixel(x, y)
    };
    let yellow_cell = covered
        .iter()
        .find(|w| w["object_px"][0].as_f64().unwrap() < 3.0)
        .expect("a window where only 10 cm is seen");
    assert_eq!(
        cell(
            yellow_cell["floor"].as_u64().unwrap() as u32,
            yellow_cell["column"].as_u64().unwrap() as u32
        ),
        YELLOW
    );
    // The top floor is outside the picture: not covered, red; floor 1 is not required: grey-ish.
    assert!(!v["cameras"][0]["floors_in_view"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(truth.floors)));
    assert_eq!(cell(truth.floors, 1), RED);
    assert_ne!(cell(1, 1), RED);
    assert_ne!(cell(1, 1), GREY);
    assert_eq!(cell(1, 1).0[0], cell(1, 1).0[1], "floor 1 grey");

    // A source that cannot be read: the grid over a rendered view (--size given).
    let broken = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("source = \"near.mp4\"", "source = \"gone.mp4\"");
    std::fs::write(&cfg, broken).unwrap();
    let out2 = dir.path().join("pics2");
    let (_, stdout, err) = run(&[
        "coverage",
        "--config",
        cfg.to_str().unwrap(),
        "--size",
        "1280x720",
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert!(stdout.contains("(Rendered)"), "{stdout}{err}");
    let cam2 = image::open(out2.join("camera-near.png"))
        .expect("decodes")
        .to_rgb8();
    let (x, y) = centre(covered[0]);
    let p = cam2.get_pixel(x, y).0.map(i32::from);
    assert!(p[1] - p[2] > 50, "tinted on the rendered view too: {p:?}");
}

/// The plan against the generator's exact geometry: predicted floors in view against the
/// floors whose opening the true camera (pinhole + lens) shows whole, and the predicted
/// apparent size of each drop at release against the size the generator rendered.
#[test]
fn coverage_matches_synth_truth() {
    use vigil::analytics::coverage;
    use vigil::synth::{camera::Camera, lens::Lens};
    let dir = tempfile::tempdir().expect("tempdir");
    let scenes: [(&str, u64, &[&str]); 5] = [
        ("near", 5, &["--distance", "20", "--floors", "20"]),
        ("mid", 3, &[]),
        ("far", 11, &["--distance", "55", "--floors", "33"]),
        (
            "bent",
            6,
            &["--distance", "40", "--floors", "28", "--look", "varied"],
        ),
        (
            "bent2",
            20,
            &["--distance", "40", "--floors", "28", "--look", "varied"],
        ),
    ];
    let mut report = Vec::new();
    let mut size_errs: Vec<(String, f64, f64)> = Vec::new();
    for (name, seed, extra) in scenes {
        let mut args = vec!["--duration", "1", "--drops", "4"];
        args.extend_from_slice(extra);
        common::synth_facade(dir.path(), name, seed, &args);
        let truth = read_truth(dir.path(), name);
        let cfg_path = scene_config(dir.path(), name, &truth, "");
        let cfg = vigil::config::Config::load(&cfg_path).expect("config");
        let facade = cfg.cameras[0].facade.clone().expect("facade");
        let (w, h) = (truth.width, truth.height);
        let plan = coverage::plan_camera(name, &facade, w, h).expect("plan");
        let c = &truth.camera;
        let cam = Camera::new(
            w,
            h,
            c.position_m,
            c.pitch_deg,
            c.yaw_deg,
            c.roll_deg,
            c.hfov_deg,
        );
        let lens = Lens::new(w, h, truth.look.barrel_k);
        let model = &facade.model;
        let fh = facade.floor_height_m;
        let (ww, wh, sill) = (model.window_w(), model.window_h(), model.sill());
        let mut truth_floors: Vec<i32> = Vec::new();
        for f in 1..=truth.floors as i32 {
            let y0 = (f - 1) as f64 * fh + sill;
            let seen = model.columns().iter().any(|col| {
                // The opening's outline, 9 samples per edge (the lens bends edges).
                (0..=8).all(|i| {
                    let u = i as f64 / 8.0;
                    let x0 = col.x_m - ww / 2.0;
                    [
                        [x0 + u * ww, y0],
                        [x0 + u * ww, y0 + wh],
                        [x0, y0 + u * wh],
                        [x0 + ww, y0 + u * wh],
                    ]
                    .iter()
                    .all(|p| match cam.project([p[0], p[1], 0.0]) {
                        Some((px, py, _)) => {
                            let (x, y) = lens.distort(px, py);
                            x >= 0.0 && y >= 0.0 && x < w as f64 && y < h as f64
                        }
                        None => false,
                    })
                })
            });
            if seen {
                truth_floors.push(f);
            }
        }
        let hom = coverage::homography(name, &facade, w, h).expect("homography");
        for d in &truth.drops {
            if !d.release_in_frame {
                continue;
            }
            let pred =
                d.size_m * coverage::object_px_per_m_at(&hom, w, h, d.release_m[0], d.release_m[1]);
            size_errs.push((name.to_string(), pred, d.size_px));
        }
        report.push((
            name,
            truth.look.barrel_k,
            plan.floors_in_view.clone(),
            truth_floors,
        ));
    }
    for (name, k, pred, tr) in &report {
        eprintln!(
            "{name}: barrel k {k:.3}: floors in view predicted {:?}..{:?} ({}), truth {:?}..{:?} ({})",
            pred.first(),
            pred.last(),
            pred.len(),
            tr.first(),
            tr.last(),
            tr.len()
        );
    }
    for (name, p, t) in &size_errs {
        eprintln!(
            "{name}: size at release predicted {p:.2} px, rendered {t:.2} px ({:+.1} %)",
            (p / t - 1.0) * 100.0
        );
    }
    for (name, _, pred, tr) in &report {
        assert!(!tr.is_empty(), "{name}: no floor in the true view");
        // Target ±0 floors, also through barrel distortion (k ≈ 0.045 here): exact.
        assert_eq!(pred, tr, "{name}: predicted floors vs truth");
    }
    assert!(size_errs.len() >= 8, "{size_errs:?}");
    for (name, p, t) in &size_errs {
        assert!(
            (p / t - 1.0).abs() <= 0.10,
            "{name}: {p:.2} px vs {t:.2} px"
        );
    }
}
