//! Control-surface handlers for vault objects and faults: seed secrets, import certificates,
//! set and clear faults (mirrors of the [`crate::Control`] methods).

use super::reply::{Api, control_error, done, ok, parse};
use crate::control::CertificateImport;
use crate::errors::{json, kv_error};
use crate::faults::Fault;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

#[derive(Deserialize)]
struct SecretIn {
    value: String,
    #[serde(flatten)]
    options: crate::control::SecretOptions,
}

pub(crate) async fn set_secret(
    AxState(a): AxState<Api>,
    Path((vault, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    done((|| {
        let s: SecretIn = parse(&body)?;
        let version = a
            .control
            .set_secret(&vault, &name, &s.value, s.options)
            .map_err(control_error)?;
        Ok(json(200, &json!({"version": version})))
    })())
}

#[derive(Deserialize)]
struct EnableIn {
    version: Option<String>,
    enabled: bool,
}

pub(crate) async fn enable_secret(
    AxState(a): AxState<Api>,
    Path((vault, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    done((|| {
        let e: EnableIn = parse(&body)?;
        a.control
            .set_secret_enabled(&vault, &name, e.version.as_deref(), e.enabled)
            .map_err(control_error)?;
        Ok(ok())
    })())
}

pub(crate) async fn delete_secret(
    AxState(a): AxState<Api>,
    Path((vault, name)): Path<(String, String)>,
) -> Response {
    done(
        a.control
            .delete_secret(&vault, &name)
            .map(|_| ok())
            .map_err(control_error),
    )
}

#[derive(Deserialize)]
struct CertIn {
    /// base64 PFX.
    pfx: Option<String>,
    pem: Option<String>,
    password: Option<String>,
    content_type: Option<String>,
    #[serde(default = "yes")]
    exportable: bool,
    #[serde(default)]
    preserve_order: bool,
}

fn yes() -> bool {
    true
}

pub(crate) async fn import_cert(
    AxState(a): AxState<Api>,
    Path((vault, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    done((|| {
        let c: CertIn = parse(&body)?;
        let pfx_der = match c.pfx {
            Some(b) => Some(
                STANDARD
                    .decode(b.trim())
                    .map_err(|_| Box::new(kv_error(400, "BadParameter", "pfx is not base64")))?,
            ),
            None => None,
        };
        let import = CertificateImport {
            pfx_der,
            pem: c.pem,
            password: c.password,
            content_type: c.content_type,
            exportable: c.exportable,
            preserve_order: c.preserve_order,
        };
        let version = a
            .control
            .import_certificate(&vault, &name, import)
            .map_err(control_error)?;
        Ok(json(200, &json!({"version": version})))
    })())
}

/// Fault as JSON, e.g. `{"kind":"throttle","retry_after":1,"remaining":2}`.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FaultIn {
    Latency {
        ms: u64,
    },
    Status {
        code: u16,
        remaining: Option<u32>,
    },
    Throttle {
        retry_after: Option<u32>,
        remaining: Option<u32>,
    },
    RefuseConnections,
    Budget {
        requests: u32,
        window_ms: u64,
    },
}

pub(crate) async fn set_fault(
    AxState(a): AxState<Api>,
    Path(vault): Path<String>,
    body: Bytes,
) -> Response {
    done(parse::<FaultIn>(&body).map(|f| {
        let fault = match f {
            FaultIn::Latency { ms } => Fault::Latency(Duration::from_millis(ms)),
            FaultIn::Status { code, remaining } => Fault::Status { code, remaining },
            FaultIn::Throttle {
                retry_after,
                remaining,
            } => Fault::Throttle {
                retry_after,
                remaining,
            },
            FaultIn::RefuseConnections => Fault::RefuseConnections,
            FaultIn::Budget {
                requests,
                window_ms,
            } => Fault::Budget {
                requests,
                window: Duration::from_millis(window_ms),
            },
        };
        a.control.set_fault(&vault, fault);
        ok()
    }))
}

pub(crate) async fn clear_faults(AxState(a): AxState<Api>, Path(vault): Path<String>) -> Response {
    a.control.clear_faults(&vault);
    ok()
}
