//! Liveness (`/healthz`) and Prometheus metrics (`/metrics`), both also at the root.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{blocking, require, ApiResult};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::{Action, Principal};

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`.
    status: &'static str,
    uptime_s: f64,
    /// Cameras configured.
    cameras: usize,
}

/// Liveness and readiness (no token needed): 503 when the store cannot be read.
#[utoipa::path(get, path = "/healthz", tag = "metrics", security(()),
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub(crate) async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    let store = state.store.clone();
    let ok = blocking(move || Ok(store.schema_version().is_ok())).await?;
    if !ok {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "store unavailable",
        ));
    }
    Ok(Json(Health {
        status: "ok",
        uptime_s: state.started.elapsed().as_secs_f64(),
        cameras: state.cameras.cameras().len(),
    }))
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text metrics (format 0.0.4): per camera (frames received, analysed, dropped,
/// queue depth, analysis and inference time, decode errors, reconnects) and node-wide.
#[utoipa::path(get, path = "/metrics", tag = "metrics",
    responses((status = 200, description = "metrics", content_type = "text/plain", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn metrics(State(state): State<AppState>, p: Principal) -> ApiResult<Response> {
    require(&state, &p, Action::ViewMetrics, "metrics").await?;
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let store = state.store.clone();
    let (total, depths) =
        blocking(move || Ok((store.count_events()?, store.outbox_depths()?))).await?;
    let m = &state.bus.metrics;
    let mut o = String::new();
    let cams = state.cameras.cameras();
    // One family per metric: HELP, TYPE, then a sample per camera (Prometheus conventions:
    // counters end in `_total`, units in the name).
    let mut family =
        |name: &str, kind: &str, help: &str, vals: &mut dyn Iterator<Item = (String, f64)>| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in vals {
                let _ = writeln!(o, "{name}{labels} {v}");
            }
        };
    let lab = |c: &str| format!("{{camera=\"{}\"}}", esc(c));
    let per_cam = |f: fn(&crate::service::CameraStatus) -> f64| {
        cams.iter()
            .map(move |c| (lab(&c.name), f(c)))
            .collect::<Vec<_>>()
            .into_iter()
    };
    family(
        "vigil_camera_online",
        "gauge",
        "1 when the camera is connected",
        &mut per_cam(|c| f64::from(u8::from(c.online))),
    );
    family(
        "vigil_camera_frames_received_total",
        "counter",
        "decoded frames handed to analysis",
        &mut per_cam(|c| c.frames_received as f64),
    );
    family(
        "vigil_camera_frames_analysed_total",
        "counter",
        "frames the analytics ran on",
        &mut per_cam(|c| c.frames_analysed as f64),
    );
    family(
        "vigil_camera_frames_dropped_total",
        "counter",
        "frames dropped at the full analysis queue (analysis behind a live source)",
        &mut per_cam(|c| c.frames_dropped as f64),
    );
    family(
        "vigil_camera_queue_depth",
        "gauge",
        "frames waiting for analysis",
        &mut per_cam(|c| c.queue_depth as f64),
    );
    family(
        "vigil_camera_input_fps",
        "gauge",
        "frames per second handed to analysis, last few seconds",
        &mut per_cam(|c| c.input_fps),
    );
    family(
        "vigil_camera_analysed_fps",
        "gauge",
        "frames per second analysed, last few seconds",
        &mut per_cam(|c| c.analysed_fps),
    );
    family(
        "vigil_camera_analysis_seconds_total",
        "counter",
        "time spent in the analytics",
        &mut per_cam(|c| c.analysis_s),
    );
    family(
        "vigil_camera_inference_runs_total",
        "counter",
        "model (e-bike detector) inference runs",
        &mut per_cam(|c| c.inference_runs as f64),
    );
    family(
        "vigil_camera_inference_seconds_total",
        "counter",
        "time spent in model inference",
        &mut per_cam(|c| c.inference_s),
    );
    family(
        "vigil_camera_inference_seconds",
        "gauge",
        "mean model inference time per run, last few seconds with runs",
        &mut cams
            .iter()
            .filter_map(|c| c.infer_ms.map(|v| (lab(&c.name), v / 1e3))),
    );
    family(
        "vigil_camera_decode_errors_total",
        "counter",
        "decode errors",
        &mut per_cam(|c| c.decode_errors as f64),
    );
    family(
        "vigil_camera_reconnects_total",
        "counter",
        "source reconnects",
        &mut per_cam(|c| c.reconnects as f64),
    );
    family(
        "vigil_camera_restarts_total",
        "counter",
        "camera threads restarted after a panic",
        &mut per_cam(|c| c.restarts as f64),
    );
    family(
        "vigil_camera_last_frame_age_seconds",
        "gauge",
        "seconds since the last frame",
        &mut cams
            .iter()
            .filter_map(|c| c.last_frame_age_s.map(|v| (lab(&c.name), v))),
    );
    let ev: Vec<_> = m
        .events
        .lock()
        .map(|g| g.clone().into_iter().collect())
        .unwrap_or_default();
    let _ = writeln!(o, "# HELP vigil_events_total new events published since start\n# TYPE vigil_events_total counter");
    for ((cam, kind), n) in ev {
        let _ = writeln!(
            o,
            "vigil_events_total{{camera=\"{}\",kind=\"{}\"}} {n}",
            esc(&cam),
            esc(&kind)
        );
    }
    let _ = writeln!(o, "# HELP vigil_events_stored events in the store\n# TYPE vigil_events_stored gauge\nvigil_events_stored {total}");
    let _ = writeln!(o, "# HELP vigil_webhook_failures_total failed webhook deliveries\n# TYPE vigil_webhook_failures_total counter\nvigil_webhook_failures_total {}", m.webhook_failures.load(Relaxed));
    let _ = writeln!(o, "# HELP vigil_webhook_delivered_total delivered webhook notices\n# TYPE vigil_webhook_delivered_total counter\nvigil_webhook_delivered_total {}", m.webhook_delivered.load(Relaxed));
    let _ = writeln!(o, "# HELP vigil_webhook_queue_depth notices waiting per subscriber\n# TYPE vigil_webhook_queue_depth gauge");
    for (sub, pending, _, _) in depths {
        let _ = writeln!(
            o,
            "vigil_webhook_queue_depth{{subscriber=\"{}\"}} {pending}",
            esc(&sub)
        );
    }
    let _ = writeln!(o, "# HELP vigil_sse_clients connected SSE clients\n# TYPE vigil_sse_clients gauge\nvigil_sse_clients {}", m.sse_clients.load(Relaxed));
    let _ = writeln!(o, "# HELP vigil_http_requests_total HTTP requests\n# TYPE vigil_http_requests_total counter\nvigil_http_requests_total {}", m.http_requests.load(Relaxed));
    let mut r = Response::new(Body::from(o));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}
