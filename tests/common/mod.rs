//! Helpers shared by the integration tests (`mod common;`): a free loopback port, an HTTP agent,
//! and a real `vigil serve` child process for end-to-end tests (clips from `vigil synth`, a
//! config file, the bootstrapped admin password, a clean SIGTERM stop).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

/// `vigil synth facade` into `dir`; returns the clip path.
pub fn synth_facade(dir: &Path, name: &str, seed: u64, extra: &[&str]) -> PathBuf {
    let seed = seed.to_string();
    let mut args = vec![
        "synth",
        "facade",
        "--seed",
        &seed,
        "--out",
        dir.to_str().expect("utf-8 path"),
        "--name",
        name,
    ];
    args.extend_from_slice(extra);
    let out = Command::new(VIGIL)
        .args(&args)
        .env("VIGIL_LOG", "warn")
        .output()
        .expect("run vigil synth");
    assert!(
        out.status.success(),
        "vigil synth failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join(format!("{name}.mp4"))
}

/// The `[camera.facade]` table `vigil synth` wrote for a clip (calibration included), without
/// its header line.
pub fn synth_facade_table(dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join(format!("{name}.toml"))).expect("synth toml");
    match text.split_once("[camera.facade]") {
        Some((_, rest)) => rest.trim().to_string(),
        None => String::new(),
    }
}

/// A JSON body; panics with the text when it is not JSON.
pub fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(b)))
}

/// Poll `f` every 50 ms until it holds; panics after two minutes (a hang guard only).
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !f() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The API router on a loopback port in its own runtime (`workers` threads), in this
/// process. Returns the runtime (keep it alive) and the base URL `http://…/api/v1`.
pub fn serve_api(state: vigil::api::AppState, workers: usize) -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}/api/v1", listener.local_addr().expect("addr"));
    rt.spawn(async move { axum::serve(listener, vigil::api::router(state)).await });
    (rt, base)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub struct Server {
    child: Option<Child>,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub addr: String,
    pub log: PathBuf,
    pub admin_password: String,
    pub admin_token: String,
    agent: ureq::Agent,
}

pub fn agent() -> ureq::Agent {
    // Only guards against a hung test; nothing asserts on time.
    ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(60))
        .timeout_connect(Duration::from_secs(10))
        .build()
}

impl Server {
    /// Write `config` to `dir/vigil.toml` (its `data_dir` should be `data`), start `vigil serve`
    /// on a free port, and log in as the bootstrapped admin.
    pub fn start(dir: &Path, config: &str) -> Server {
        Server::start_with_env(dir, config, &[])
    }

    /// [`Server::start`] with extra environment variables for `vigil serve`.
    pub fn start_with_env(dir: &Path, config: &str, env: &[(&str, &str)]) -> Server {
        let cfg = dir.join("vigil.toml");
        std::fs::write(&cfg, config).expect("write config");
        let addr = format!("127.0.0.1:{}", free_port());
        let log = dir.join("serve.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(VIGIL)
            .args(["serve", "--config"])
            .arg(&cfg)
            .args(["--addr", &addr])
            .env("VIGIL_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn vigil serve");
        let mut s = Server {
            child: Some(child),
            dir: dir.to_path_buf(),
            config: cfg,
            addr,
            log,
            admin_password: String::new(),
            admin_token: String::new(),
            agent: agent(),
        };
        let pw_file = dir.join("data/initial-admin-password");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(
                Instant::now() < deadline,
                "vigil serve did not come up: {}",
                s.log_text()
            );
            if let Some(Ok(Some(st))) = s.child.as_mut().map(|c| c.try_wait()) {
                panic!("vigil serve exited ({st}): {}", s.log_text());
            }
            std::thread::sleep(Duration::from_millis(200));
            let Ok(pw) = std::fs::read_to_string(&pw_file) else {
                continue;
            };
            if let Some(tok) = s.try_login("admin", pw.trim()) {
                s.admin_password = pw.trim().to_string();
                s.admin_token = tok;
                break;
            }
        }
        s
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn try_login(&self, name: &str, password: &str) -> Option<String> {
        let r = self
            .agent
            .post(&self.url("/api/v1/auth/login"))
            .set("Content-Type", "application/json")
            .send_string(&serde_json::json!({ "name": name, "password": password }).to_string())
            .ok()?;
        let v: serde_json::Value = serde_json::from_str(&r.into_string().ok()?).ok()?;
        v["token"].as_str().map(str::to_string)
    }

    pub fn login(&self, name: &str, password: &str) -> String {
        self.try_login(name, password)
            .unwrap_or_else(|| panic!("cannot log in as {name}"))
    }

    /// (status, body) of a request to `path` (absolute, e.g. `/api/v1/cameras`).
    pub fn req(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        json_body: Option<serde_json::Value>,
    ) -> (u16, Vec<u8>) {
        let mut r = self.agent.request(method, &self.url(path));
        if let Some(t) = token {
            r = r.set("Authorization", &format!("Bearer {t}"));
        }
        let res = match json_body {
            Some(b) => r
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => r.call(),
        };
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}\n{}", self.log_text()),
        };
        let status = resp.status();
        let mut buf = Vec::new();
        use std::io::Read;
        resp.into_reader().read_to_end(&mut buf).expect("read body");
        (status, buf)
    }

    pub fn json(&self, method: &str, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        let (s, b) = self.req(method, path, token, None);
        (
            s,
            serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Create a user through the API as the admin.
    pub fn add_user(&self, name: &str, role: &str, password: &str) {
        let (s, b) = self.req(
            "POST",
            "/api/v1/users",
            Some(&self.admin_token),
            Some(serde_json::json!({ "name": name, "role": role, "password": password })),
        );
        assert_eq!(s, 201, "add user {name}: {}", String::from_utf8_lossy(&b));
    }

    /// Poll `f` every 300 ms until it holds; panics with `what` and the server log after
    /// `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !f() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n--- serve log ---\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{sig} failed");
    }

    /// SIGTERM, then wait (up to 60 s, then SIGKILL). Returns the exit status, if it exited.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failed test still stops its server.
        let _ = self.stop();
    }
}
