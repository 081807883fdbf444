//! MQTT publishing against a real broker: `mosquitto` on 127.0.0.1 with a free port and a
//! temporary config, watched by a real MQTT subscriber. Availability (retained `online`, the
//! Last Will `offline` when the node dies, `offline` on a clean stop), event notices with the
//! webhook body, per-camera stats, and reconnection after the broker restarts with notices
//! committed during the outage delivered. Skipped (passing, with a note) only when the
//! `mosquitto` binary is not installed (`scripts/setup.sh --test` installs it).

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use vigil::events::{Event as VEvent, EventKind, EventUpdate, Phase};
use vigil::push::mqtt::{self, MqttConfig};
use vigil::service::{commit_update, CameraStatus, EventBus, EventIds, SharedCameras};
use vigil::store::Store;

fn mosquitto_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d: PathBuf| d.join("mosquitto"))
        .find(|p| p.is_file())
}

macro_rules! need_broker {
    () => {
        match mosquitto_bin() {
            Some(b) => b,
            None => {
                eprintln!("SKIP: the mosquitto binary is not installed (scripts/setup.sh --test installs it)");
                return;
            }
        }
    };
}

use common::{free_port, json};

struct Broker {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start(bin: &PathBuf, port: u16) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("mosquitto.log")).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting mosquitto");
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "mosquitto did not listen on {port}: {}",
                std::fs::read_to_string(dir.path().join("mosquitto.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker {
            child,
            port,
            _dir: dir,
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills the child process when dropped (a failed assertion must not leave `vigil serve`
/// running).
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A test subscriber: every PUBLISH it receives as (topic, payload, retain).
struct Sub {
    rx: mpsc::UnboundedReceiver<(String, Vec<u8>, bool)>,
    task: tokio::task::JoinHandle<()>,
}

impl Sub {
    async fn start(port: u16, filter: &str) -> Sub {
        let id = format!("test-sub-{}", rand::random::<u32>());
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5));
        let (client, mut el) = AsyncClient::new(o, 16);
        client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let _client = client; // keeps the request channel open
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic.clone(), p.payload.to_vec(), p.retain));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Sub { rx, task }
    }

    /// The next message on `topic` whose payload satisfies `want` (others are skipped).
    async fn expect(
        &mut self,
        topic: &str,
        want: impl Fn(&[u8]) -> bool,
        within: Duration,
    ) -> (Vec<u8>, bool) {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((t, p, r))) => {
                    if t == topic && want(&p) {
                        return (p, r);
                    }
                    seen.push(format!("{t}: {}", String::from_utf8_lossy(&p)));
                }
                _ => panic!(
                    "no matching message on {topic} within {within:?}; saw {:?}",
                    seen
                ),
            }
        }
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn is(s: &'static str) -> impl Fn(&[u8]) -> bool {
    move |p| p == s.as_bytes()
}

fn event_update(seq: u64, phase: Phase) -> EventUpdate {
    let mut e = VEvent::new(seq, EventKind::FallingObject, "east", seq as f64, 0.8);
    e.end_s = seq as f64 + 1.5;
    EventUpdate {
        phase,
        event: e,
        pictures: Vec::new(),
    }
}

const T: Duration = Duration::from_secs(15);

/// Poll `cond` until it holds (panics after [`T`]).
async fn wait_until(cond: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < T, "condition not reached within {T:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_status_events_and_stats_then_offline_on_clean_stop() {
    let bin = need_broker!();
    let broker = Broker::start(&bin, free_port());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("vigil.db")).unwrap();
    let bus = EventBus::new(64);
    let cams = SharedCameras::default();
    cams.set(CameraStatus {
        name: "east".into(),
        kind: "facade".into(),
        online: true,
        input_fps: 25.0,
        analysed_fps: 12.5,
        ..Default::default()
    });
    let mut cfg = MqttConfig::new("127.0.0.1", broker.port);
    cfg.stats_interval_s = 1.0;
    let h = mqtt::spawn(cfg, Some("estate-7"), store.clone(), &bus, Arc::new(cams)).unwrap();
    assert_eq!(h.prefix(), "vigil/estate-7");
    let mut sub = Sub::start(broker.port, "vigil/estate-7/#").await;

    // Availability: "online", retained (a broker sets the retain flag only on delivery to a
    // new subscription, so a second subscriber checks that).
    sub.expect("vigil/estate-7/status", is("online"), T).await;
    let mut late = Sub::start(broker.port, "vigil/estate-7/status").await;
    let (_, retained) = late.expect("vigil/estate-7/status", is("online"), T).await;
    assert!(retained, "status must be retained");

    // An event, committed to the store: new then end, with the webhook/SSE body.
    let mut ids = EventIds::new();
    let id = commit_update(&store, &bus, &mut ids, &event_update(1, Phase::New)).unwrap();
    let (p, retained) = sub.expect("vigil/estate-7/events/east", |_| true, T).await;
    assert!(!retained);
    let v = json(&p);
    assert_eq!(v["phase"], "new");
    assert_eq!(v["event"]["id"], id);
    assert_eq!(v["event"]["camera"], "east");
    assert_eq!(v["event"]["kind"], "falling_object");
    // Byte for byte the outbox payload that webhooks get.
    let outbox = store.outbox_after(0, 10).unwrap();
    assert_eq!(p, outbox[0].payload.as_bytes());
    commit_update(&store, &bus, &mut ids, &event_update(1, Phase::End)).unwrap();
    let (p, _) = sub.expect("vigil/estate-7/events/east", |_| true, T).await;
    let v = json(&p);
    assert_eq!(
        (v["phase"].as_str(), v["event"]["id"].as_i64()),
        (Some("end"), Some(id))
    );

    // Stats: retained, the camera's API object.
    sub.expect("vigil/estate-7/cameras/east/stats", |_| true, T)
        .await;
    let mut late = Sub::start(broker.port, "vigil/estate-7/cameras/+/stats").await;
    let (p, retained) = late
        .expect("vigil/estate-7/cameras/east/stats", |_| true, T)
        .await;
    assert!(retained);
    let v = json(&p);
    assert_eq!(
        (v["name"].as_str(), v["online"].as_bool()),
        (Some("east"), Some(true))
    );
    assert_eq!(v["input_fps"].as_f64(), Some(25.0));

    // The cursor follows once the broker acknowledged (what /metrics shows as the
    // subscriber's queue depth).
    let stats = h.stats();
    wait_until(|| stats.events_published.load(Ordering::Relaxed) == 2).await;
    let depths = store.outbox_depths().unwrap();
    let (_, pending, _, delivered) = depths
        .iter()
        .find(|d| d.0.starts_with("mqtt:"))
        .expect("mqtt cursor");
    assert_eq!((*pending, *delivered), (0, 2));
    assert!(stats.stats_published.load(Ordering::Relaxed) >= 1);

    // A clean stop publishes "offline" itself (no Last Will involved).
    h.shutdown().await;
    sub.expect("vigil/estate-7/status", is("offline"), T).await;
    let mut late = Sub::start(broker.port, "vigil/estate-7/status").await;
    let (_, retained) = late.expect("vigil/estate-7/status", is("offline"), T).await;
    assert!(retained);
    assert!(!stats.connected.load(Ordering::Relaxed));
}

/// `vigil serve` as a child process: killed with SIGKILL, the broker publishes its Last Will;
/// stopped with SIGTERM, it says `offline` itself and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_process_last_will_and_graceful_offline() {
    let bin = need_broker!();
    let broker = Broker::start(&bin, free_port());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "[node]\nname = \"lwt-node\"\ndata_dir = \"data\"\n\n[mqtt]\nhost = \"127.0.0.1\"\nport = {}\nkeep_alive_s = 5\n",
            broker.port
        ),
    )
    .unwrap();
    let mut sub = Sub::start(broker.port, "vigil/lwt-node/status").await;
    let spawn = || {
        Command::new(common::VIGIL)
            .args(["serve", "--addr", "127.0.0.1:0", "--config"])
            .arg(&cfg)
            .env("VIGIL_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(Reap)
            .unwrap()
    };

    // Killed: nothing is sent by the process, the broker publishes the will.
    let mut child = spawn();
    sub.expect("vigil/lwt-node/status", is("online"), T).await;
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    sub.expect("vigil/lwt-node/status", is("offline"), T).await;
    // The will is retained: a fresh subscriber gets "offline".
    let mut late = Sub::start(broker.port, "vigil/lwt-node/status").await;
    let (_, retained) = late.expect("vigil/lwt-node/status", is("offline"), T).await;
    assert!(retained, "the will is retained");

    // Graceful: SIGTERM, "offline" from the node, exit 0.
    let mut child = spawn();
    sub.expect("vigil/lwt-node/status", is("online"), T).await;
    let st = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    sub.expect("vigil/lwt-node/status", is("offline"), T).await;
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < T, "serve did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_broker_restarts_and_delivers_what_was_committed_meanwhile() {
    let bin = need_broker!();
    let port = free_port();
    let mut broker = Broker::start(&bin, port);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("vigil.db")).unwrap();
    let bus = EventBus::new(64);
    let mut cfg = MqttConfig::new("127.0.0.1", port);
    cfg.topic_prefix = Some("site/a".into());
    cfg.reconnect_max_s = 1.0;
    cfg.stats_interval_s = 0.0;
    let h = mqtt::spawn(
        cfg,
        None,
        store.clone(),
        &bus,
        Arc::new(SharedCameras::default()),
    )
    .unwrap();
    let stats = h.stats();
    let mut sub = Sub::start(port, "site/a/#").await;
    sub.expect("site/a/status", is("online"), T).await;
    let mut ids = EventIds::new();
    commit_update(&store, &bus, &mut ids, &event_update(1, Phase::New)).unwrap();
    sub.expect("site/a/events/east", |_| true, T).await;
    wait_until(|| stats.events_published.load(Ordering::Relaxed) == 1).await;
    drop(sub);

    // Broker gone (no persistence: its retained messages go with it).
    broker.kill();
    let t0 = Instant::now();
    while stats.connected.load(Ordering::Relaxed) {
        assert!(
            t0.elapsed() < T,
            "the publisher did not notice the broker is gone"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Committed during the outage: stays in the outbox, the camera path is not held up.
    let t_commit = Instant::now();
    let id2 = commit_update(&store, &bus, &mut ids, &event_update(2, Phase::New)).unwrap();
    assert!(t_commit.elapsed() < Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(stats.failures.load(Ordering::Relaxed) >= 1);
    let pending = |s: &Store| {
        s.outbox_depths()
            .unwrap()
            .into_iter()
            .find(|d| d.0.starts_with("mqtt:"))
            .map(|d| d.1)
            .unwrap()
    };
    assert_eq!(pending(&store), 1);

    // Broker back on the same port: the publisher reconnects, re-announces "online" (the
    // restarted broker has no retained messages) and delivers the notice from the outage.
    let _broker = Broker::start(&bin, port);
    let t0 = Instant::now();
    while pending(&store) != 0 {
        assert!(
            t0.elapsed() < T,
            "outage notice not delivered after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stats.connects.load(Ordering::Relaxed) >= 2);
    let mut sub = Sub::start(port, "site/a/#").await;
    let (_, retained) = sub.expect("site/a/status", is("online"), T).await;
    assert!(retained, "re-announced after the restart");
    // And goes on publishing.
    let id3 = commit_update(&store, &bus, &mut ids, &event_update(3, Phase::New)).unwrap();
    let (p, _) = sub.expect("site/a/events/east", |_| true, T).await;
    assert_eq!(json(&p)["event"]["id"], id3);
    assert!(id3 > id2);
    wait_until(|| stats.events_published.load(Ordering::Relaxed) == 3).await;
    h.shutdown().await;
}

#[test]
fn config_section_parses_and_validates() {
    let c = vigil::config::Config::parse(
        "[node]\nname = \"n1\"\n[mqtt]\nhost = \"10.0.0.5\"\nqos = 2\nusername = \"u\"\npassword = \"p\"\n",
    )
    .unwrap();
    let m = c.mqtt.unwrap();
    assert_eq!((m.port, m.qos, m.keep_alive_s), (1883, 2, 30));
    assert_eq!(m.prefix(c.node.name.as_deref()), "vigil/n1");
    let e = vigil::config::Config::parse("[mqtt]\nhost = \"h\"\nqos = 5\n").unwrap_err();
    assert!(e.to_string().contains("mqtt.qos"), "{e}");
    assert!(vigil::config::Config::parse("[mqtt]\nhost = \"h\"\nbogus = 1\n").is_err());
    assert!(vigil::config::Config::parse("[node]\nname = \"a/b\"\n").is_err());
}
