//! Camera health history: a periodic sample of every camera's status into the store.

use std::sync::Arc;

use super::status::CameraRegistry;
use crate::store::Store;

/// Record each camera's status into the health history every `interval` (online rate and
/// image availability come from these samples). Each sample stands for the interval before it,
/// so the first is taken one interval after start: a sample at start would describe time the
/// node was not watching yet (a camera still connecting), and a fresh node would read 66.7 %
/// after 25 s with 10 s samples.
pub fn spawn_health_sampler(
    store: Store,
    cameras: Arc<dyn CameraRegistry>,
    interval: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            tick.tick().await;
            let now = crate::store::now_ms();
            let stale = interval.as_secs_f64().max(1.0);
            let samples: Vec<_> = cameras
                .cameras()
                .into_iter()
                .map(|c| crate::store::HealthSample {
                    camera: c.name,
                    ts_ms: now,
                    online: c.online,
                    image_ok: c.online && c.last_frame_age_s.is_some_and(|a| a <= stale),
                    input_fps: c.input_fps,
                    analysed_fps: c.analysed_fps,
                    decode_errors: c.decode_errors,
                    reconnects: c.reconnects,
                })
                .collect();
            let st = store.clone();
            let res = tokio::task::spawn_blocking(move || {
                samples.iter().try_for_each(|s| st.record_health(s))
            })
            .await;
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot record camera health"),
                Err(e) => tracing::warn!(error = %e, "health sampler task failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::service::CameraStatus;

    /// A camera that comes online when the test says so (as the status task fills it).
    struct OneCamera(Arc<AtomicBool>);

    impl CameraRegistry for OneCamera {
        fn cameras(&self) -> Vec<CameraStatus> {
            let online = self.0.load(Ordering::SeqCst);
            vec![CameraStatus {
                name: "cam".into(),
                online,
                last_frame_age_s: online.then_some(0.1),
                ..Default::default()
            }]
        }
    }

    #[test]
    fn a_camera_online_since_start_reads_fully_available() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().join("vigil.db")).expect("store");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let online = Arc::new(AtomicBool::new(false));
        let cams = Arc::new(OneCamera(online.clone()));
        let task = {
            let _in_rt = rt.enter();
            spawn_health_sampler(store.clone(), cams, Duration::from_millis(500))
        };
        // Its first frame arrives right after start (long before the first sample).
        online.store(true, Ordering::SeqCst);
        let mut w = store.health_window("cam", 0).expect("window");
        for _ in 0..600 {
            if w.samples >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            w = store.health_window("cam", 0).expect("window");
        }
        task.abort();
        assert!(w.samples >= 2, "{w:?}");
        assert_eq!(w.online_rate, Some(1.0), "{w:?}");
        assert_eq!(w.image_availability_rate, Some(1.0), "{w:?}");
    }
}
