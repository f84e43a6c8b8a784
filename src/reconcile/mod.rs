//! The reconcile pipeline shared by both kinds: resolve identity → read the vault → desired
//! Secret (pure) → guard (pure) → apply (skipped when unchanged) → status and Events.

pub mod apply;
mod certificate_status;
mod context;
mod error;
pub mod guard;
pub mod identity;
mod outcome;
pub mod pipeline;
pub mod reason;
pub mod requeue;
mod schedule;
pub mod status;
pub mod vault_certificate;
pub mod vault_secret;

pub use context::{Context, SecretCache, Settings};
pub use error::{Retry, SyncError};
pub use schedule::{ObjectKey, Schedule};
