//! The live stream: Server-Sent Events of every event change.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use utoipa::IntoParams;

use super::extract::{query, require, ApiResult};
use super::{inc, ApiError, AppState, ErrorBody};
use crate::auth::{Action, Principal};
use crate::events::EventKind;
use crate::service::{EventNotice, Metrics};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// Only this camera.
    camera: Option<String>,
    /// Only this kind.
    kind: Option<EventKind>,
    /// Bearer token for clients that cannot set headers (EventSource).
    #[allow(dead_code)]
    access_token: Option<String>,
}

/// Decrements the SSE client gauge when the stream is dropped.
struct ClientGuard(Arc<Metrics>);
impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.sse_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Server-Sent Events: `new`, `update`, `end`, `state` (data: an `EventNotice`, `{phase,
/// event}`), `lagged` (data: notices missed; re-list events); heartbeat comments. 503 with
/// `Retry-After` when the stream has its maximum of subscribers.
#[utoipa::path(get, path = "/events/stream", tag = "live",
    params(StreamQuery),
    responses((status = 200, description = "event stream; each `data:` is an EventNotice",
            content_type = "text/event-stream", body = EventNotice),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn stream_events(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<StreamQuery>, QueryRejection>,
) -> ApiResult<impl IntoResponse> {
    require(&state, &p, Action::ViewEvents, "events").await?;
    let q = query(q)?;
    let metrics = state.bus.metrics.clone();
    let max = state.config.max_sse_subscribers.max(1) as i64;
    let taken = metrics
        .sse_clients
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < max).then_some(n + 1)
        });
    if taken.is_err() {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_subscribers",
            format!("the live stream has its maximum of {max} subscribers"),
        );
        e.retry_after_s = Some(5);
        return Err(e);
    }
    let guard = ClientGuard(metrics.clone());
    let rx = state.bus.subscribe();
    let events = BroadcastStream::new(rx).filter_map(move |r| {
        let _keep = &guard;
        match r {
            Ok(n) => {
                if q.camera.as_ref().is_some_and(|c| *c != n.event.camera)
                    || q.kind.is_some_and(|k| k != n.event.kind)
                {
                    return None;
                }
                let ev = SseEvent::default()
                    .event(n.phase.as_str())
                    .id(format!("{}-{}", n.event.id, n.event.updated_at_ms))
                    .json_data(&n)
                    .unwrap_or_else(|_| SseEvent::default().comment("unserialisable notice"));
                Some(Ok::<_, Infallible>(ev))
            }
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(k)) => {
                inc(&metrics.sse_lagged);
                // The client missed notices; it should re-list events.
                Some(Ok(SseEvent::default().event("lagged").data(k.to_string())))
            }
        }
    });
    // A first comment tells the client it is subscribed.
    let hello = tokio_stream::once(Ok::<_, Infallible>(
        SseEvent::default().comment("connected"),
    ));
    let hb = Duration::from_secs_f64(state.config.sse_heartbeat_s.clamp(0.5, 3600.0));
    Ok(Sse::new(hello.chain(events)).keep_alive(KeepAlive::new().interval(hb).text("heartbeat")))
}
