//! The event writer: the one path from a camera's event to everything that hears of it.
//!
//! Cameras report three things about an event ([`NodeEvent`]): the alarm, the analytic's end of
//! it, and the complete event with its evidence (after the clip's post-roll). For each, in this
//! order and on one thread:
//!
//! 1. commit to the store (the row and its outbox notice in one transaction; evidence indexed
//!    before the event's final notice, so every subscriber sees the evidence with it);
//! 2. publish the committed row to live subscribers (SSE) and wake the push workers (webhooks,
//!    MQTT), which read the outbox;
//! 3. fire the sinks fed by committed alarms: the camera's HTTP actions (alarm on the commit,
//!    clear when the analytic ends the event).
//!
//! Nobody hears of an event that is not committed.

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use super::actions::CameraActions;
use super::bus::{commit_update, EventBus, EventIds, NoticePhase};
use super::node::NodeEvent;
use crate::events::{Event, EventUpdate, EvidencePaths, Phase};
use crate::store::{EvidenceKind, Store, StoreError};

/// Owns the mapping from a camera's event numbers to store ids while `vigil serve` runs.
pub struct EventWriter {
    store: Store,
    bus: EventBus,
    actions: Arc<CameraActions>,
    ids: EventIds,
    /// Alarms whose clear actions already fired (the analytic ended them).
    cleared: HashSet<(String, u64)>,
}

impl EventWriter {
    pub fn new(store: Store, bus: EventBus, actions: Arc<CameraActions>) -> Self {
        EventWriter {
            store,
            bus,
            actions,
            ids: EventIds::new(),
            cleared: HashSet::new(),
        }
    }

    /// Handle every camera event until all senders are gone (the node stopped).
    pub fn run(mut self, rx: Receiver<NodeEvent>) {
        for ev in rx {
            self.handle(ev);
        }
    }

    pub fn handle(&mut self, ev: NodeEvent) {
        match ev {
            NodeEvent::Alarm(e) => self.alarm(&e),
            NodeEvent::Ended(e) => self.ended(&e),
            NodeEvent::Complete(e) => self.complete(&e),
        }
    }

    fn alarm(&mut self, event: &Event) {
        let upd = EventUpdate {
            phase: Phase::New,
            event: event.clone(),
            pictures: Vec::new(),
        };
        match commit_update(&self.store, &self.bus, &mut self.ids, &upd) {
            Ok(_) => self.actions.alarm(event),
            // Not stored, so not published and no action: the store is the record of alarms.
            Err(e) => tracing::error!(camera = %event.camera, error = %e, "cannot store event"),
        }
    }

    fn ended(&mut self, event: &Event) {
        let key = (event.camera.clone(), event.id);
        if self.ids.contains_key(&key) && self.cleared.insert(key) {
            self.actions.clear(event);
        }
    }

    /// The final state with its evidence: indexed first, then one notice.
    fn complete(&mut self, event: &Event) {
        let key = (event.camera.clone(), event.id);
        // An alarm a crashed camera closed never got its `Ended`: clear it now.
        if self.ids.contains_key(&key) && !self.cleared.remove(&key) {
            self.actions.clear(event);
        }
        let res = match self.ids.remove(&key) {
            Some(id) => self.finish(id, event).map(|()| (id, NoticePhase::End)),
            // Unknown (its alarm was not stored, e.g. the store failed then): stored as a new
            // event that is already over.
            None => self
                .store
                .insert_event(event, crate::store::now_ms())
                .and_then(|id| self.finish(id, event).map(|()| (id, NoticePhase::New))),
        };
        match res {
            Ok((id, phase)) => {
                if let Err(e) = self.bus.publish_from_store(&self.store, id, phase) {
                    tracing::error!(event = id, error = %e, "cannot publish event");
                }
            }
            Err(e) => tracing::error!(camera = %event.camera, error = %e, "cannot store event"),
        }
    }

    fn finish(&self, id: i64, event: &Event) -> Result<(), StoreError> {
        if let Some(paths) = &event.evidence {
            attach(&self.store, id, paths);
        }
        self.store.update_event(id, event, Phase::End)
    }
}

fn attach(store: &Store, id: i64, paths: &EvidencePaths) {
    for (kind, p) in [
        (EvidenceKind::Clip, &paths.clip),
        (EvidenceKind::Snapshot, &paths.snapshot),
        (EvidenceKind::Trajectory, &paths.trajectory),
    ] {
        if let Some(p) = p {
            if let Err(e) = store.attach_evidence(id, kind, Path::new(p)) {
                tracing::error!(event = id, path = %p, error = %e, "cannot index evidence");
            }
        }
    }
}
