//! Commit, then publish: the event bus that fans committed event changes out to SSE clients and
//! wakes the push workers (webhooks, MQTT, which read the store's outbox), and
//! [`commit_update`], the store-then-publish step. `vigil serve` drives them through
//! [`super::events::EventWriter`]; the API's own changes (acknowledge, notes) publish here too.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};

use crate::events::{EventUpdate, Phase};
use crate::store::{EventRecord, Store, StoreError};

/// A change to an event, as broadcast to SSE clients.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventNotice {
    pub phase: NoticePhase,
    pub event: EventRecord,
}

/// What changed: `new` (the alarm), `update`, `end`, `state` (acknowledged, false alarm, note).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NoticePhase {
    New,
    Update,
    End,
    State,
}

impl NoticePhase {
    /// The name on the wire (SSE event name, webhook `phase`).
    pub fn as_str(self) -> &'static str {
        match self {
            NoticePhase::New => "new",
            NoticePhase::Update => "update",
            NoticePhase::End => "end",
            NoticePhase::State => "state",
        }
    }
}

impl From<Phase> for NoticePhase {
    fn from(p: Phase) -> Self {
        match p {
            Phase::New => NoticePhase::New,
            Phase::Update => NoticePhase::Update,
            Phase::End => NoticePhase::End,
        }
    }
}

/// Counters shown by `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub http_requests: AtomicU64,
    pub sse_clients: AtomicI64,
    pub sse_lagged: AtomicU64,
    pub webhook_delivered: AtomicU64,
    pub webhook_failures: AtomicU64,
    /// (camera, kind) → new events published since start.
    pub events: Mutex<BTreeMap<(String, String), u64>>,
}

/// Fan-out of committed event changes to SSE clients, and wake-up of push workers.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<EventNotice>,
    wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
}

impl EventBus {
    /// `capacity`: notices a slow SSE client may fall behind before it is told it lagged.
    pub fn new(capacity: usize) -> EventBus {
        let (tx, _) = broadcast::channel(capacity.max(16));
        EventBus {
            tx,
            wake: Arc::new(Notify::new()),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Publish a notice. Call only after the change is committed to the store.
    pub fn publish(&self, n: EventNotice) {
        if n.phase == NoticePhase::New {
            if let Ok(mut m) = self.metrics.events.lock() {
                let key = (
                    n.event.camera.clone(),
                    crate::store::kind_name(n.event.kind).to_string(),
                );
                *m.entry(key).or_insert(0) += 1;
            }
        }
        // No receivers is fine: nobody is listening.
        let _ = self.tx.send(n);
        self.wake.notify_waiters();
    }

    /// Load event `id` from the store and publish it with `phase`.
    pub fn publish_from_store(
        &self,
        store: &Store,
        id: i64,
        phase: NoticePhase,
    ) -> Result<(), StoreError> {
        let event = store
            .get_event(id)?
            .ok_or_else(|| StoreError::NotFound(format!("event {id}")))?;
        self.publish(EventNotice { phase, event });
        Ok(())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EventNotice> {
        self.tx.subscribe()
    }

    /// Notified on every publish (push workers wait on it).
    pub fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// Maps an analytic's (camera, per-run id) to the store id.
pub type EventIds = HashMap<(String, u64), i64>;

/// Commit an analytic's update to the store, then publish it. Returns the store id.
/// An `Update`/`End` for an unknown id (e.g. after a restart) is stored as a new event.
pub fn commit_update(
    store: &Store,
    bus: &EventBus,
    ids: &mut EventIds,
    upd: &EventUpdate,
) -> Result<i64, StoreError> {
    let key = (upd.event.camera.clone(), upd.event.id);
    let (id, phase) = match (upd.phase, ids.get(&key)) {
        (Phase::New, _) | (_, None) => {
            let id = store.insert_event(&upd.event, crate::store::now_ms())?;
            if upd.phase != Phase::New {
                store.update_event(id, &upd.event, upd.phase)?;
            }
            ids.insert(key.clone(), id);
            (id, NoticePhase::New)
        }
        (p, Some(&id)) => {
            store.update_event(id, &upd.event, p)?;
            (id, NoticePhase::from(p))
        }
    };
    if upd.phase == Phase::End {
        ids.remove(&key);
    }
    bus.publish_from_store(store, id, phase)?;
    Ok(id)
}
