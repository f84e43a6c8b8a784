//! What differs between the kinds, behind one trait: how a due sync reads the vault, when the
//! next read is due, and what the kind adds to the report (certificates: their facts,
//! `ExpiringSoon`, `ChainValid`). Everything else in the reconcile path is written once.

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use serde::de::DeserializeOwned;

use super::apply::Applied;
use super::clock::Now;
use super::plan::Plan;
use super::report::Note;
use super::{Context, SyncError};
use crate::crd::{SyncStatus, Synced};
use crate::desired::secret::DesiredSecret;

/// What a sync that reached the Secret produced.
pub struct Written<L> {
    /// The Secret as it now is.
    pub desired: DesiredSecret,
    /// What the apply step did.
    pub applied: Applied,
    /// What this attempt learned from the vault beyond the Secret (a fresh certificate
    /// conversion); `None` when nothing was read again.
    pub learned: Option<L>,
}

/// When the vault is next due after a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    /// The refresh interval, spread so that many resources do not act in lockstep.
    Spread(Duration),
    /// A deadline that must not be overshot (a certificate's renewal window or expiry).
    Exact(Duration),
}

/// What a kind adds to the shared report, computed without I/O.
pub struct Extension<S> {
    /// The kind's whole status, built on the shared part.
    pub status: S,
    /// Events for the kind's own transitions.
    pub notes: Vec<Note>,
    /// The certificate's notAfter (Unix seconds), for the expiry metric.
    pub expiry: Option<i64>,
}

/// A resource kind vaultsync reconciles.
#[async_trait::async_trait]
pub trait Kind:
    Synced
    + kube::Resource<Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + serde::Serialize
    + Send
    + Sync
    + 'static
{
    /// What a vault read learns beyond the Secret; `()` when nothing.
    type Learned: Send + Sync;

    /// A spec value admission should have refused but that does not parse, beyond
    /// `refreshInterval` (which the plan checks for every kind).
    fn spec_problem(&self) -> Option<String> {
        None
    }

    /// The vault is due: reads it (only what changed) and applies the Secret.
    async fn sync(
        &self,
        ctx: &Context,
        plan: &Plan<Self>,
    ) -> Result<Written<Self::Learned>, SyncError>;

    /// When the vault is next due after a success.
    fn refresh(
        &self,
        interval: Duration,
        _previous: &Self::Status,
        _learned: Option<&Self::Learned>,
        _now: Now,
    ) -> Refresh {
        Refresh::Spread(interval)
    }

    /// The kind's status around the shared part `sync`, with its own Events.
    fn extend(
        &self,
        sync: SyncStatus,
        previous: &Self::Status,
        learned: Option<&Self::Learned>,
        now: Now,
    ) -> Extension<Self::Status>;
}
