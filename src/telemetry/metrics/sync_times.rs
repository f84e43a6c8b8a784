//! The last successful sync of every object, kept once and exported at scrape time as two
//! gauges: its time and its age. Two label families and the map behind them held three copies
//! of each object's labels (about 700 bytes per object); this keeps one compact entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use super::descriptions::{Description, LAST_SYNC, LAST_SYNC_AGE};

/// One object: kind, namespace, name.
type ObjectName = (&'static str, Box<str>, Box<str>);

/// Last sync times per object, and the clock their ages are computed against.
#[derive(Debug, Default)]
pub(super) struct SyncTimes {
    times: Mutex<HashMap<ObjectName, i64>>,
    /// Unix time the next scrape computes ages at.
    scrape_time: AtomicI64,
}

fn name_of(kind: &'static str, namespace: &str, name: &str) -> ObjectName {
    (kind, namespace.into(), name.into())
}

impl SyncTimes {
    fn times(&self) -> MutexGuard<'_, HashMap<ObjectName, i64>> {
        // The map holds plain integers, so a panic elsewhere cannot leave it half-updated.
        self.times.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a successful sync at `unix_seconds`.
    pub(super) fn record(
        &self,
        kind: &'static str,
        namespace: &str,
        name: &str,
        unix_seconds: i64,
    ) {
        *self
            .times()
            .entry(name_of(kind, namespace, name))
            .or_default() = unix_seconds;
    }

    /// Forgets an object.
    pub(super) fn forget(&self, kind: &'static str, namespace: &str, name: &str) {
        self.times().remove(&name_of(kind, namespace, name));
    }

    /// Sets the clock the next scrape computes ages against.
    pub(super) fn set_scrape_time(&self, now_unix: i64) {
        self.scrape_time.store(now_unix, Ordering::Relaxed);
    }
}

fn gauge_family(
    encoder: &mut DescriptorEncoder,
    description: &Description,
    times: &HashMap<ObjectName, i64>,
    value: impl Fn(i64) -> i64,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        description.name,
        description.help,
        description.unit.as_ref(),
        MetricType::Gauge,
    )?;
    for ((kind, namespace, name), at) in times {
        let labels = [
            ("kind", *kind),
            ("namespace", &**namespace),
            ("name", &**name),
        ];
        ConstGauge::new(value(*at)).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for SyncTimes {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = self.scrape_time.load(Ordering::Relaxed);
        let times = self.times();
        gauge_family(&mut encoder, &LAST_SYNC, &times, |at| at)?;
        // A clock that went back makes no negative age.
        gauge_family(&mut encoder, &LAST_SYNC_AGE, &times, |at| {
            now.saturating_sub(at).max(0)
        })
    }
}
