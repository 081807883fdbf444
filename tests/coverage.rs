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
        let ppm = w["px_per_m"].as_f64().unwrap();
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
    let (code, out, err) = run(&[
        "analyze",
        clip.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
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
}
