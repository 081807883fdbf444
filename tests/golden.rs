//! Golden outputs: `vigil analyze` on seeded synthetic clips prints exactly the recorded alarms
//! (`testdata/golden/`). Re-record on purpose with `VIGIL_BLESS=1 cargo test --test golden`.

use std::path::{Path, PathBuf};
use std::process::Command;

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/golden")
}

struct Case {
    name: String,
    synth: Vec<String>,
}

fn cases() -> Vec<Case> {
    let path = golden_dir().join("cases.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, args) = l
                .split_once('|')
                .unwrap_or_else(|| panic!("cases.txt: no '|' in {l:?}"));
            Case {
                name: name.trim().to_string(),
                synth: args.split_whitespace().map(String::from).collect(),
            }
        })
        .collect()
}

fn run(args: &[&str]) -> String {
    let out = Command::new(VIGIL)
        .args(args)
        .env("VIGIL_LOG", "warn")
        .output()
        .expect("run vigil");
    assert!(
        out.status.success(),
        "vigil {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Equal JSON, numbers to 1e-6 relative (ONNX Runtime may pick other kernels on other CPUs).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0),
            _ => x == y,
        },
        (V::Array(x), V::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn parse(lines: &str, what: &str) -> Vec<serde_json::Value> {
    lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: not JSON: {l}: {e}")))
        .collect()
}

fn check(dir: &Path, case: &Case, bless: bool) -> Option<String> {
    let mut args: Vec<&str> = vec!["synth"];
    args.extend(case.synth.iter().map(String::as_str));
    let out = dir.to_str().expect("utf-8 temp dir");
    args.extend(["--out", out, "--name", &case.name]);
    run(&args);
    let clip = dir.join(format!("{}.mp4", case.name));
    let cfg = dir.join(format!("{}.toml", case.name));
    let got = run(&[
        "analyze",
        clip.to_str().expect("utf-8"),
        "--config",
        cfg.to_str().expect("utf-8"),
    ]);
    let expected_path = golden_dir().join(format!("{}.jsonl", case.name));
    if bless {
        std::fs::write(&expected_path, &got).expect("write golden file");
        eprintln!(
            "blessed {} ({} events)",
            expected_path.display(),
            got.lines().count()
        );
        return None;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (record it with VIGIL_BLESS=1 cargo test --test golden)",
            expected_path.display()
        )
    });
    let (g, e) = (parse(&got, "got"), parse(&expected, "expected"));
    let equal = g.len() == e.len() && g.iter().zip(&e).all(|(a, b)| same(a, b));
    (!equal).then(|| {
        format!(
            "{}: analyze output differs from {}\n--- expected\n{expected}--- got\n{got}",
            case.name,
            expected_path.display()
        )
    })
}

#[test]
fn analyze_prints_the_recorded_alarms() {
    let bless = std::env::var_os("VIGIL_BLESS").is_some_and(|v| v == "1");
    let has_detector = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models/yolox_nano.onnx")
        .is_file();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let cases = cases();
    assert!(!cases.is_empty(), "no golden cases");
    for case in &cases {
        if case.synth.first().is_some_and(|k| k == "elevator") && !has_detector {
            eprintln!(
                "SKIP {}: models/yolox_nano.onnx missing (run scripts/setup.sh)",
                case.name
            );
            continue;
        }
        failures.extend(check(dir.path(), case, bless));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
