//! The node's camera supervisor: one thread per camera running the pipeline on a live source.
//! A failing camera logs, reconnects with backoff and never stops the others.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{CameraConfig, Config};
use crate::events::Event;
use crate::ingest::{Counters, LiveOptions, LiveSource};
use crate::pipeline::{
    build_analytics, finish_analytics, ingest_options, run_analytics, EventAssembler, EventSink,
};

/// What a camera thread reports upward.
#[derive(Clone, Debug)]
pub enum NodeEvent {
    /// An alarm, as soon as it is raised.
    Alarm(Event),
    /// The complete event with its evidence.
    Complete(Event),
}

/// Live per-camera figures for the API and metrics.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CameraLive {
    pub name: String,
    pub kind: String,
    pub state: String,
    pub input_fps: f64,
    pub analysed_fps: f64,
    pub last_error: Option<String>,
}

pub struct CameraHandle {
    pub name: String,
    pub counters: Arc<Counters>,
    pub live: Arc<Mutex<CameraLive>>,
    thread: Option<JoinHandle<()>>,
}

pub struct Node {
    pub cameras: Vec<CameraHandle>,
    stop: Arc<AtomicBool>,
}

struct ChannelSink {
    tx: std::sync::mpsc::Sender<NodeEvent>,
}

impl EventSink for ChannelSink {
    fn on_alarm(&mut self, event: &Event) {
        let _ = self.tx.send(NodeEvent::Alarm(event.clone()));
    }
    fn on_complete(&mut self, event: &Event) {
        let _ = self.tx.send(NodeEvent::Complete(event.clone()));
    }
}

impl Node {
    /// Start every camera. Cameras whose analytics cannot start are reported and skipped.
    pub fn start(
        cfg: &Config,
        evidence_dir: PathBuf,
        tx: std::sync::mpsc::Sender<NodeEvent>,
    ) -> Node {
        let stop = Arc::new(AtomicBool::new(false));
        let mut cameras = Vec::new();
        for cam in &cfg.cameras {
            let counters = Arc::new(Counters::default());
            let live = Arc::new(Mutex::new(CameraLive {
                name: cam.name.clone(),
                kind: format!("{:?}", cam.kind).to_lowercase(),
                state: "starting".into(),
                ..Default::default()
            }));
            let (c, cam2, ctr, lv, st, tx2, ev) = (
                cfg.clone(),
                cam.clone(),
                counters.clone(),
                live.clone(),
                stop.clone(),
                tx.clone(),
                evidence_dir.clone(),
            );
            let thread = std::thread::Builder::new()
                .name(format!("cam-{}", cam.name))
                .spawn(move || run_camera(c, cam2, ctr, lv, st, tx2, ev))
                .ok();
            if thread.is_none() {
                tracing::error!(camera = %cam.name, "cannot spawn camera thread");
            }
            cameras.push(CameraHandle {
                name: cam.name.clone(),
                counters,
                live,
                thread,
            });
        }
        Node { cameras, stop }
    }

    pub fn camera_status(&self) -> HashMap<String, (CameraLive, crate::ingest::CounterSnapshot)> {
        self.cameras
            .iter()
            .map(|c| {
                let live = c.live.lock().map(|l| l.clone()).unwrap_or_default();
                (c.name.clone(), (live, c.counters.snapshot()))
            })
            .collect()
    }

    /// Ask every camera to stop and wait for them (they flush pending clips first).
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in &mut self.cameras {
            if let Some(t) = c.thread.take() {
                let _ = t.join();
            }
        }
    }
}

fn set_state(live: &Mutex<CameraLive>, f: impl FnOnce(&mut CameraLive)) {
    if let Ok(mut l) = live.lock() {
        f(&mut l);
    }
}

fn run_camera(
    cfg: Config,
    cam: CameraConfig,
    counters: Arc<Counters>,
    live: Arc<Mutex<CameraLive>>,
    stop: Arc<AtomicBool>,
    tx: std::sync::mpsc::Sender<NodeEvent>,
    evidence_dir: PathBuf,
) {
    let mut analytics = match build_analytics(&cfg, &cam) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(camera = %cam.name, error = %e, "camera disabled");
            set_state(&live, |l| {
                l.state = "error".into();
                l.last_error = Some(e.to_string());
            });
            return;
        }
    };
    let opts = ingest_options(&cfg, &cam, &analytics);
    let url = if cam.is_network() {
        cam.source.clone()
    } else {
        cfg.resolve(&cam.source).to_string_lossy().to_string()
    };
    let mut source = LiveSource::new(
        &url,
        opts,
        LiveOptions {
            stall_timeout_s: cam.stall_timeout_s,
            reconnect_max_s: cam.reconnect_max_s,
            loop_file: cam.loop_file,
        },
        counters.clone(),
        stop.clone(),
    );
    let mut asm = EventAssembler::new(&cfg, &cam.name, Some(evidence_dir));
    let mut sink = ChannelSink { tx };
    let mut times = vec![Duration::ZERO; analytics.len()];
    let mut window = (Instant::now(), 0u64);
    let mut last_pts = 0.0;
    loop {
        match source.next_frame() {
            Ok(Some(frame)) => {
                last_pts = frame.pts_s;
                run_analytics(&mut analytics, &frame, &mut times, &mut asm, &mut sink);
                asm.flush(frame.pts_s, source.ring(), false, &mut sink);
                window.1 += 1;
                let el = window.0.elapsed().as_secs_f64();
                if el >= 2.0 {
                    let fps = window.1 as f64 / el;
                    set_state(&live, |l| {
                        l.state = "online".into();
                        l.input_fps = fps;
                        l.analysed_fps = fps;
                    });
                    window = (Instant::now(), 0);
                }
            }
            Ok(None) => {
                tracing::info!(camera = %cam.name, "source ended");
                set_state(&live, |l| l.state = "ended".into());
                break;
            }
            Err(e) => {
                if !stop.load(Ordering::SeqCst) {
                    tracing::error!(camera = %cam.name, error = %e, "camera stopped");
                }
                set_state(&live, |l| {
                    l.state = "stopped".into();
                    l.last_error = Some(e.to_string());
                });
                break;
            }
        }
    }
    finish_analytics(
        &mut analytics,
        &mut times,
        &mut asm,
        last_pts,
        source.ring(),
        &mut sink,
    );
}
