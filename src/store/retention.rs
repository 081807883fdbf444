//! Retention: frees evidence files by age and by a disk budget, oldest first.
//!
//! A file is removed before its row is marked gone, so a crash in between leaves a row
//! that the next run marks (the file is already missing); never an orphaned file. Event
//! rows are kept: they are small and the audit log refers to them.

use std::time::Duration;

use rusqlite::params;
use serde::Serialize;

use super::{now_ms, Store, StoreError};

/// Camera health samples kept (the console shows 24 h; a week leaves room for reports).
pub const HEALTH_KEEP: Duration = Duration::from_secs(8 * 24 * 3600);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    pub files_removed: u64,
    pub bytes_freed: u64,
    /// Bytes of live evidence after the run.
    pub bytes_kept: u64,
}

impl Store {
    /// Remove evidence older than `max_age`, then the oldest evidence until the live total is
    /// at most `max_bytes`. Also prunes outbox rows every subscriber has passed.
    pub fn enforce_retention(
        &self,
        max_age: Option<Duration>,
        max_bytes: Option<u64>,
    ) -> Result<RetentionReport, StoreError> {
        self.enforce_retention_at(&crate::clock::SystemClock, max_age, max_bytes)
    }

    /// [`Store::enforce_retention`] with "now" read from `clock` (tests age evidence by days on
    /// a simulated clock).
    pub fn enforce_retention_at(
        &self,
        clock: &dyn crate::clock::Clock,
        max_age: Option<Duration>,
        max_bytes: Option<u64>,
    ) -> Result<RetentionReport, StoreError> {
        let now = clock.unix_ms();
        let cutoff = max_age.map(|a| now - a.as_millis().min(i64::MAX as u128) as i64);
        let live: Vec<(i64, String, i64, i64)> = self.read(|c| {
            let mut st = c.prepare(
                "SELECT id, path, bytes, created_at FROM evidence WHERE gone = 0 ORDER BY created_at, id",
            )?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })?;
        let mut total: u64 = live.iter().map(|r| r.2.max(0) as u64).sum();
        let mut report = RetentionReport::default();
        for (id, path, bytes, created) in live {
            let bytes = bytes.max(0) as u64;
            let too_old = cutoff.is_some_and(|c| created < c);
            let over_budget = max_bytes.is_some_and(|m| total > m);
            if !too_old && !over_budget {
                // Rows are oldest first: nothing later is older, and the budget is met.
                break;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Keep the row live: the file still takes disk.
                    tracing::warn!(%path, error = %e, "retention could not remove evidence");
                    continue;
                }
            }
            self.write(|c| {
                c.execute("UPDATE evidence SET gone = 1 WHERE id = ?1", [id])?;
                Ok(())
            })?;
            total = total.saturating_sub(bytes);
            report.files_removed += 1;
            report.bytes_freed += bytes;
        }
        report.bytes_kept = total;
        self.housekeeping()?;
        if report.files_removed > 0 {
            tracing::info!(?report, "retention freed evidence");
        }
        Ok(report)
    }

    /// Keep the bookkeeping tables bounded whatever retention is configured: health samples
    /// older than [`HEALTH_KEEP`], tokens past their expiry, and outbox rows every subscriber
    /// has passed that are older than a week. Returns the rows removed.
    pub fn housekeeping(&self) -> Result<u64, StoreError> {
        let now = now_ms();
        let ms = |d: Duration| d.as_millis().min(i64::MAX as u128) as i64;
        self.write(|c| {
            let mut n = c.execute(
                "DELETE FROM camera_health WHERE ts < ?1",
                params![now - ms(HEALTH_KEEP)],
            )?;
            n += c.execute(
                "DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at < ?1",
                params![now],
            )?;
            n += c.execute(
                "DELETE FROM outbox WHERE seq <= (SELECT COALESCE(MIN(last_seq), 0) FROM outbox_cursor) \
                 AND created_at < ?1",
                params![now - ms(Duration::from_secs(7 * 24 * 3600))],
            )?;
            Ok(n as u64)
        })
    }
}
