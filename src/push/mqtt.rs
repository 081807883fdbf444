//! MQTT publishing (`[mqtt]`): availability, event notices and per-camera stats.
//!
//! Topics under the prefix (default `vigil/<node.name>`, or `vigil/vigil` without a name):
//!
//! | topic | payload | QoS / retained |
//! |---|---|---|
//! | `<prefix>/status` | `online` / `offline` (the Last Will) | `qos`, retained |
//! | `<prefix>/events/<camera>` | `{"phase": "new"\|"update"\|"end"\|"state", "event": {…}}`, the webhook body | `qos`, not retained |
//! | `<prefix>/cameras/<camera>/stats` | the camera's `/api/v1/cameras` object | 0, retained |
//!
//! Events come from the store's durable outbox (the webhooks' source), so only committed
//! changes are published, in commit order, and nothing here runs on a camera thread or in the
//! event writer: this is a subscriber with its own cursor (`mqtt:<host>:<port>/<prefix>`, shown
//! by `/metrics` as `vigil_webhook_queue_depth`). With `qos` 1 or 2 a notice is published,
//! acknowledged by the broker, and only then is the cursor advanced (one notice in flight at a
//! time); a broker outage leaves notices in the outbox until it is back, including across
//! restarts. Delivery is at least once. With `qos = 0` the cursor advances once the notice is
//! handed to the client.
//!
//! The connection is driven by one task that reconnects with capped exponential backoff; stats
//! go through a bounded queue with `try_publish` and are dropped (and counted) when it is full
//! or the broker is down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::service::{CameraRegistry, EventBus};
use crate::store::{Store, StoreError};

/// At shutdown, how long committed notices may still be published before `offline`.
pub const DRAIN: Duration = Duration::from_secs(2);

pub use crate::config::mqtt::MqttConfig;

fn qos_level(cfg: &MqttConfig) -> QoS {
    match cfg.qos {
        0 => QoS::AtMostOnce,
        2 => QoS::ExactlyOnce,
        _ => QoS::AtLeastOnce,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("mqtt config, field '{field}': {reason}")]
    Config { field: String, reason: String },
    #[error("mqtt: {0}")]
    Store(#[from] StoreError),
}

/// Counters of the publisher (shared with its tasks).
#[derive(Debug, Default)]
pub struct MqttStats {
    /// Successful connections (the first and each reconnect).
    pub connects: AtomicU64,
    /// Connection attempts or connections that failed.
    pub failures: AtomicU64,
    /// Event notices the broker acknowledged (or, at QoS 0, that were handed over).
    pub events_published: AtomicU64,
    /// Stats messages published / dropped because the queue was full or the link down.
    pub stats_published: AtomicU64,
    pub stats_dropped: AtomicU64,
    /// True while connected.
    pub connected: AtomicBool,
}

/// The running publisher; [`MqttHandle::shutdown`] publishes `offline` and disconnects.
pub struct MqttHandle {
    stop: watch::Sender<bool>,
    stats: Arc<MqttStats>,
    prefix: String,
    tasks: Vec<JoinHandle<()>>,
}

impl MqttHandle {
    pub fn stats(&self) -> Arc<MqttStats> {
        self.stats.clone()
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Publish what is committed within [`DRAIN`] (best effort), then `offline` (retained),
    /// then disconnect cleanly (so the broker does not send the Last Will).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let wait = DRAIN + Duration::from_secs(4);
        for t in self.tasks.drain(..) {
            let abort = t.abort_handle();
            if tokio::time::timeout(wait, t).await.is_err() {
                abort.abort();
            }
        }
    }

    /// Stop at once without `offline` or a clean disconnect (the broker sends the Last Will
    /// once it notices). For tests that simulate a crash.
    pub fn abort(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for MqttHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What the connection task tells the publisher.
#[derive(Clone, Copy, Debug)]
enum Wire {
    /// A QoS ≥ 1 publish left with this packet id on connection `gen`.
    Sent { gen: u64, pkid: u16 },
    /// The broker acknowledged packet `pkid` (PUBACK for QoS 1, PUBCOMP for QoS 2).
    Acked { gen: u64, pkid: u16 },
}

/// Link state: connection generation (bumped on every CONNACK) and whether it is up.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Link {
    gen: u64,
    up: bool,
}

/// Start publishing. Needs a Tokio runtime. Returns a config error if `cfg` is invalid.
pub fn spawn(
    cfg: MqttConfig,
    node_name: Option<&str>,
    store: Store,
    bus: &EventBus,
    cameras: Arc<dyn CameraRegistry>,
) -> Result<MqttHandle, MqttError> {
    cfg.validate()
        .map_err(|(field, reason)| MqttError::Config { field, reason })?;
    let prefix = cfg.prefix(node_name);
    let client_id = cfg.client_id.clone().unwrap_or_else(|| match node_name {
        Some(n) => format!("vigil-{n}"),
        None => {
            use rand::Rng;
            format!("vigil-{:08x}", rand::thread_rng().gen::<u32>())
        }
    });
    let status_topic = format!("{prefix}/status");
    let qos = qos_level(&cfg);

    let mut opts = MqttOptions::new(client_id.clone(), cfg.host.clone(), cfg.port);
    opts.set_keep_alive(Duration::from_secs(cfg.keep_alive_s));
    opts.set_clean_session(true);
    opts.set_last_will(LastWill::new(&status_topic, "offline", qos, true));
    if let Some(u) = &cfg.username {
        opts.set_credentials(u.clone(), cfg.password.clone().unwrap_or_default());
    }
    // The client's request queue: bounded, so a dead broker cannot grow memory.
    let (client, eventloop) = AsyncClient::new(opts, 64);

    let stats = Arc::new(MqttStats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (link_tx, link_rx) = watch::channel(Link::default());
    let (wire_tx, wire_rx) = mpsc::unbounded_channel();
    let subscriber = format!("mqtt:{}:{}/{}", cfg.host, cfg.port, prefix);
    tracing::info!(broker = %format!("{}:{}", cfg.host, cfg.port), client_id = %client_id, prefix = %prefix, "MQTT publisher starting");

    let driver = tokio::spawn(drive(
        eventloop,
        link_tx,
        wire_tx,
        stats.clone(),
        cfg.reconnect_max_s,
        stop_rx.clone(),
        store.clone(),
        subscriber.clone(),
    ));
    let publisher = Publisher {
        client: client.clone(),
        qos,
        status_topic,
        prefix: prefix.clone(),
        link: link_rx.clone(),
        wire: wire_rx,
        stop: stop_rx.clone(),
        online_gen: None,
        stats: stats.clone(),
        deadline: None,
        drain: DRAIN,
    };
    let wake = bus.wake_handle();
    let events = tokio::spawn(async move {
        if let Err(e) = publisher.run(store, subscriber, wake).await {
            tracing::error!(error = %e, "MQTT event publisher stopped");
        }
    });
    let mut tasks = vec![events, driver];
    if cfg.stats_interval_s > 0.0 {
        tasks.push(tokio::spawn(publish_stats(
            client,
            prefix.clone(),
            cameras,
            Duration::from_secs_f64(cfg.stats_interval_s),
            link_rx,
            stop_rx,
            stats.clone(),
        )));
    }
    Ok(MqttHandle {
        stop: stop_tx,
        stats,
        prefix,
        tasks,
    })
}

/// Drive the connection: poll the event loop, report acks, reconnect with backoff.
#[allow(clippy::too_many_arguments)]
async fn drive(
    mut el: EventLoop,
    link: watch::Sender<Link>,
    wire: mpsc::UnboundedSender<Wire>,
    stats: Arc<MqttStats>,
    reconnect_max_s: f64,
    mut stop: watch::Receiver<bool>,
    store: Store,
    subscriber: String,
) {
    let mut gen = 0u64;
    let mut failures = 0i64;
    loop {
        let ev = tokio::select! {
            ev = el.poll() => ev,
            // After a stop the publisher disconnects; stop polling if that never completes.
            _ = async {
                let _ = stop.wait_for(|s| *s).await;
                tokio::time::sleep(Duration::from_secs(10)).await;
            } => return,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                gen += 1;
                if failures > 0 {
                    tracing::info!(after_failures = failures, "MQTT reconnected");
                } else {
                    tracing::info!("MQTT connected");
                }
                failures = 0;
                stats.connects.fetch_add(1, Ordering::Relaxed);
                stats.connected.store(true, Ordering::Relaxed);
                let _ = link.send(Link { gen, up: true });
            }
            Ok(Event::Incoming(Packet::PubAck(a))) => {
                let _ = wire.send(Wire::Acked { gen, pkid: a.pkid });
            }
            Ok(Event::Incoming(Packet::PubComp(a))) => {
                let _ = wire.send(Wire::Acked { gen, pkid: a.pkid });
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) if pkid != 0 => {
                let _ = wire.send(Wire::Sent { gen, pkid });
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                // Give the DISCONNECT a moment to be written, then stop.
                let _ = tokio::time::timeout(Duration::from_millis(500), el.poll()).await;
                stats.connected.store(false, Ordering::Relaxed);
                let _ = link.send(Link { gen, up: false });
                return;
            }
            Ok(_) => {}
            Err(e) => {
                stats.connected.store(false, Ordering::Relaxed);
                let _ = link.send(Link { gen, up: false });
                if *stop.borrow() {
                    return;
                }
                failures += 1;
                stats.failures.fetch_add(1, Ordering::Relaxed);
                let wait = super::backoff(failures, reconnect_max_s);
                let msg = e.to_string();
                if failures == 1 || failures % 10 == 0 {
                    tracing::warn!(error = %msg, attempts = failures, retry_in = ?wait, "MQTT broker unreachable");
                } else {
                    tracing::debug!(error = %msg, attempts = failures, retry_in = ?wait, "MQTT broker unreachable");
                }
                // Shown with the subscriber's cursor (last error, failure count).
                let (st, sub) = (store.clone(), subscriber.clone());
                let _ = tokio::task::spawn_blocking(move || st.outbox_failed(&sub, &msg)).await;
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }
}

/// Why a publish did not complete.
enum Interrupt {
    /// The connection dropped or was replaced before the broker acknowledged.
    Link,
    /// Shutting down (or the drain deadline passed).
    Stop,
}

struct Publisher {
    client: AsyncClient,
    qos: QoS,
    status_topic: String,
    prefix: String,
    link: watch::Receiver<Link>,
    wire: mpsc::UnboundedReceiver<Wire>,
    stop: watch::Receiver<bool>,
    /// Connection generation on which `online` was last acknowledged.
    online_gen: Option<u64>,
    stats: Arc<MqttStats>,
    /// Set once stopping: drain the outbox until then.
    deadline: Option<Instant>,
    drain: Duration,
}

impl Publisher {
    /// Resolves once stopping and the drain time is over.
    async fn stopped(mut stop: watch::Receiver<bool>, deadline: Option<Instant>, drain: Duration) {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => {
                // Err: the handle is gone, which is a stop too.
                let _ = stop.wait_for(|s| *s).await;
                tokio::time::sleep(drain).await
            }
        }
    }

    /// Resolves when the link is no longer connection `gen`: `Link`, or `Stop` when the
    /// connection task has ended.
    async fn lost(link: &mut watch::Receiver<Link>, gen: u64) -> Interrupt {
        match link.wait_for(|l| l.gen != gen || !l.up).await {
            Ok(_) => Interrupt::Link,
            Err(_) => Interrupt::Stop,
        }
    }

    fn check_stop(&mut self) {
        if self.deadline.is_none() && *self.stop.borrow() {
            self.deadline = Some(Instant::now() + self.drain);
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Publish once on connection `gen` and wait for the broker's acknowledgement.
    async fn publish_once(
        &mut self,
        gen: u64,
        topic: &str,
        payload: &[u8],
        retain: bool,
    ) -> Result<(), Interrupt> {
        // Acks left over from an earlier connection mean nothing now.
        while self.wire.try_recv().is_ok() {}
        let send = self
            .client
            .publish(topic, self.qos, retain, payload.to_vec());
        let stopped = Self::stopped(self.stop.clone(), self.deadline, self.drain);
        tokio::select! {
            r = send => {
                if r.is_err() {
                    // The event loop is gone (shutting down).
                    return Err(Interrupt::Stop);
                }
            }
            i = Self::lost(&mut self.link, gen) => return Err(i),
            _ = stopped => return Err(Interrupt::Stop),
        }
        if self.qos == QoS::AtMostOnce {
            return Ok(());
        }
        let mut mine: Option<u16> = None;
        let stopped = Self::stopped(self.stop.clone(), self.deadline, self.drain);
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                w = self.wire.recv() => match w {
                    Some(Wire::Sent { gen: g, pkid }) if g == gen && mine.is_none() => mine = Some(pkid),
                    Some(Wire::Acked { gen: g, pkid }) if g == gen && mine == Some(pkid) => return Ok(()),
                    Some(_) => {}
                    None => return Err(Interrupt::Stop),
                },
                i = Self::lost(&mut self.link, gen) => return Err(i),
                _ = &mut stopped => return Err(Interrupt::Stop),
            }
        }
    }

    /// Wait for a connection on which `online` has been published; returns its generation.
    async fn ready(&mut self) -> Result<u64, Interrupt> {
        loop {
            self.check_stop();
            if self.past_deadline() {
                return Err(Interrupt::Stop);
            }
            let l = *self.link.borrow();
            if !l.up {
                let stopped = Self::stopped(self.stop.clone(), self.deadline, self.drain);
                tokio::select! {
                    r = self.link.changed() => {
                        if r.is_err() {
                            return Err(Interrupt::Stop); // the connection task has ended
                        }
                    }
                    _ = stopped => return Err(Interrupt::Stop),
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
                continue;
            }
            if self.online_gen == Some(l.gen) {
                return Ok(l.gen);
            }
            let topic = self.status_topic.clone();
            match self.publish_once(l.gen, &topic, b"online", true).await {
                Ok(()) => {
                    tracing::debug!(topic = %topic, "MQTT status online");
                    self.online_gen = Some(l.gen);
                    return Ok(l.gen);
                }
                Err(Interrupt::Link) => continue,
                Err(Interrupt::Stop) => return Err(Interrupt::Stop),
            }
        }
    }

    /// Publish until the broker acknowledges on some connection (re-sent after a reconnect).
    async fn publish_confirmed(&mut self, topic: &str, payload: &[u8]) -> Result<(), Interrupt> {
        loop {
            let gen = self.ready().await?;
            match self.publish_once(gen, topic, payload, false).await {
                Ok(()) => return Ok(()),
                Err(Interrupt::Link) => continue,
                Err(Interrupt::Stop) => return Err(Interrupt::Stop),
            }
        }
    }

    async fn run(
        mut self,
        store: Store,
        subscriber: String,
        wake: Arc<tokio::sync::Notify>,
    ) -> Result<(), StoreError> {
        let mut cursor = {
            let (st, s) = (store.clone(), subscriber.clone());
            super::blocking(move || st.outbox_cursor(&s)).await?
        };
        tracing::info!(subscriber = %subscriber, cursor, "MQTT event publisher started");
        'outer: loop {
            self.check_stop();
            if self.ready().await.is_err() {
                break;
            }
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let batch = {
                let st = store.clone();
                super::blocking(move || st.outbox_after(cursor, 100)).await?
            };
            if batch.is_empty() {
                if self.deadline.is_some() {
                    break; // drained
                }
                let mut stop = self.stop.clone();
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = stop.wait_for(|s| *s) => {}
                    // A reconnect: `ready` re-publishes `online` at once.
                    r = self.link.changed() => {
                        if r.is_err() {
                            break;
                        }
                    }
                }
                continue;
            }
            for n in batch {
                let topic = format!("{}/events/{}", self.prefix, n.camera);
                if self
                    .publish_confirmed(&topic, n.payload.as_bytes())
                    .await
                    .is_err()
                {
                    break 'outer;
                }
                self.stats.events_published.fetch_add(1, Ordering::Relaxed);
                let (st, s, seq) = (store.clone(), subscriber.clone(), n.seq);
                super::blocking(move || st.outbox_advance(&s, seq, true)).await?;
                cursor = n.seq;
            }
        }
        self.goodbye().await;
        Ok(())
    }

    /// `offline` (retained) and a clean DISCONNECT, when connected.
    async fn goodbye(&mut self) {
        let l = *self.link.borrow();
        if l.up {
            // A short grace of its own: the drain may have used up the deadline.
            self.deadline = Some(Instant::now() + Duration::from_secs(2));
            let topic = self.status_topic.clone();
            if self
                .publish_once(l.gen, &topic, b"offline", true)
                .await
                .is_err()
            {
                tracing::warn!("MQTT: could not publish offline before disconnecting");
            }
        }
        let _ = self.client.try_disconnect();
        tracing::info!("MQTT publisher stopped");
    }
}

/// Every `every`: each camera's status to `<prefix>/cameras/<name>/stats` (QoS 0, retained).
async fn publish_stats(
    client: AsyncClient,
    prefix: String,
    cameras: Arc<dyn CameraRegistry>,
    every: Duration,
    link: watch::Receiver<Link>,
    mut stop: watch::Receiver<bool>,
    stats: Arc<MqttStats>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let up = link.borrow().up;
        for c in cameras.cameras() {
            if !up {
                stats.stats_dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let Ok(body) = serde_json::to_vec(&c) else {
                continue;
            };
            let topic = format!("{prefix}/cameras/{}/stats", c.name);
            match client.try_publish(topic, QoS::AtMostOnce, true, body) {
                Ok(()) => {
                    stats.stats_published.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.stats_dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(camera = %c.name, error = %e, "MQTT stats dropped");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_checks() {
        let c: MqttConfig = toml::from_str("host = \"broker\"").unwrap();
        assert_eq!(c, MqttConfig::new("broker", 1883));
        assert!(c.validate().is_ok());
        assert_eq!(c.prefix(None), "vigil/vigil");
        assert_eq!(c.prefix(Some("estate-7")), "vigil/estate-7");
        let mut bad = c.clone();
        bad.qos = 3;
        assert_eq!(bad.validate().unwrap_err().0, "qos");
        let mut bad = c.clone();
        bad.topic_prefix = Some("a/#".into());
        assert_eq!(bad.validate().unwrap_err().0, "topic_prefix");
        let mut bad = c.clone();
        bad.password = Some("x".into());
        assert_eq!(bad.validate().unwrap_err().0, "password");
        assert!(toml::from_str::<MqttConfig>("host = \"b\"\nqso = 1").is_err());
    }
}
