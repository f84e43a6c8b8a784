//! The Key Vault data plane of one vault host: api-version check, faults, authentication,
//! authorization, then the secrets / certificates / keys handlers (and their deleted states).

pub(crate) mod auth;
mod certs_api;
mod keys_api;
mod objects_api;
mod paging;
mod render;
mod route;
mod secrets_api;

use crate::errors::{bad_parameter, code_for_status, kv_error, kv_error_inner};
use crate::state::{State, Vault};
use crate::store::StoreError;
use crate::store::keys::KeyVersion;
use crate::store::{CertVersion, SecretVersion};
use crate::urlenc;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, header};
use axum::response::Response;
use route::{NoRoute, Op, Route};
use std::sync::Arc;

/// api-versions the data plane accepts (what the SDKs send), oldest first: azsecrets 1.5 (Go)
/// and azure-keyvault-* 4.12 (Python) send 2026-04-01, the Rust 1.0 crates 2025-07-01,
/// azcertificates 1.4 (Go) 7.6.
const API_VERSIONS: &[&str] = &[
    "2016-10-01",
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
    "2026-04-01",
];
const LATEST_API_VERSION: &str = API_VERSIONS[API_VERSIONS.len() - 1];
/// Largest request body read (a PFX with a long chain fits easily).
const MAX_BODY: usize = 1 << 20;

/// Everything a handler needs about the request.
pub(crate) struct Ctx<'a> {
    pub vault: &'a Vault,
    /// `https://{vault}.vault.localhost:{port}`.
    pub base: String,
    pub api_version: String,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    pub now: i64,
    /// Where new versions are announced.
    pub events: &'a crate::events::EventGrid,
    /// Fault injection: every list page links to a next one.
    pub endless_paging: bool,
}

impl Ctx<'_> {
    fn param(&self, k: &str) -> Option<&str> {
        urlenc::get(&self.query, k)
    }
}

/// Maps a store refusal to the service's error response.
pub(crate) fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::BadParameter(m) => bad_parameter(&m),
        StoreError::NotFound(kind, n) => {
            let (title, lower) = (kind.title(), kind.lower());
            let m = format!(
                "A {lower} with (name/id) {n} was not found in this key vault. If you recently deleted this {lower} you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
            );
            kv_error(404, &format!("{title}NotFound"), &m)
        }
        StoreError::DeletedNotFound(kind, _) => {
            let title = kind.title();
            kv_error(
                404,
                &format!("{title}NotFound"),
                &format!("Deleted {title} not found"),
            )
        }
        StoreError::DeletedButRecoverable(kind, n) => {
            let (title, lower) = (kind.title(), kind.lower());
            let m = format!(
                "{title} {n} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the {lower} can only be recovered or purged."
            );
            kv_error_inner(409, "Conflict", &m, "ObjectIsDeletedButRecoverable")
        }
        StoreError::SecretDisabled => kv_error_inner(
            403,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
            "SecretDisabled",
        ),
    }
}

/// 204 with no body (purge).
pub(crate) fn no_content() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = axum::http::StatusCode::NO_CONTENT;
    r
}

/// Serves one request for vault host `vault_name`; counts it.
pub(crate) async fn handle(state: Arc<State>, vault_name: &str, req: Request<Body>) -> Response {
    state.arrive(vault_name);
    let Some(vault) = state.vault(vault_name) else {
        state.count(vault_name, "Unknown", "", 404);
        return kv_error(
            404,
            "VaultNotFound",
            &format!(
                "The vault '{vault_name}' does not exist: no such host is known ({vault_name}.vault.localhost)."
            ),
        );
    };
    let route = route::route(req.method(), req.uri().path());
    let op = route
        .as_ref()
        .map_or_else(|_| "Unknown".to_owned(), Route::op);
    let decision = state.faults.decide(&vault.name);
    if let Some(d) = decision.latency {
        tokio::time::sleep(d).await;
    }
    if let Some((code, retry_after)) = decision.respond {
        state.count(&vault.name, &op, "", code);
        return fault_response(code, retry_after);
    }
    let (resp, client) = process(&state, &vault, route, req).await;
    state.count(&vault.name, &op, &client, resp.status().as_u16());
    resp
}

fn fault_response(code: u16, retry_after: Option<u32>) -> Response {
    let msg = if code == 429 {
        "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached".to_owned()
    } else {
        format!("Injected fault: status {code}.")
    };
    let mut r = kv_error(code, code_for_status(code), &msg);
    if let Some(s) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// The request's api-version, or the message of Key Vault's 400 when it is missing or unknown.
fn api_version(query: &[(String, String)]) -> Result<String, String> {
    match urlenc::get(query, "api-version") {
        None | Some("") => Err(
            "The api-version query parameter (?api-version=) is required for all requests.".into(),
        ),
        Some(v) if !API_VERSIONS.contains(&v) => Err(format!(
            "The specified version ({v}) is not recognized. Consider using the latest supported version ({LATEST_API_VERSION})."
        )),
        Some(v) => Ok(v.to_owned()),
    }
}

/// 404 or 405 for a path no operation matched.
fn no_route(why: NoRoute, method: &axum::http::Method) -> Response {
    match why {
        NoRoute::NotFound => kv_error(404, "NotFound", "The requested resource was not found."),
        NoRoute::MethodNotAllowed => {
            let m = format!("The requested method {method} is not allowed for this resource.");
            kv_error(405, "MethodNotAllowed", &m)
        }
    }
}

/// Checks api-version, token, route and role in Key Vault's order, then dispatches; returns
/// the response and the caller's client id ("" before authentication).
async fn process(
    state: &State,
    vault: &Vault,
    route: Result<Route, NoRoute>,
    req: Request<Body>,
) -> (Response, String) {
    let query = urlenc::pairs(req.uri().query().unwrap_or(""));
    let api_version = match api_version(&query) {
        Ok(v) => v,
        Err(m) => return (bad_parameter(&m), String::new()),
    };
    let caller = match auth::authenticate(state, vault, req.headers()) {
        Ok(c) => c,
        Err(r) => return (*r, String::new()),
    };
    let id = caller.client_id.clone();
    let route = match route {
        Ok(r) => r,
        Err(why) => return (no_route(why, req.method()), id),
    };
    if let Err(r) = auth::authorize(state, vault, &caller, &route) {
        return (*r, id);
    }
    let Ok(body) = axum::body::to_bytes(req.into_body(), MAX_BODY).await else {
        let r = kv_error(413, "RequestTooLarge", "The request body is too large.");
        return (r, id);
    };
    let ctx = Ctx {
        vault,
        base: state.vault_base(&vault.name),
        api_version,
        query,
        body,
        now: state.clock.now(),
        events: &state.events,
        endless_paging: state.faults.pages_endlessly(&vault.name),
    };
    (dispatch(&ctx, route), id)
}

fn dispatch(ctx: &Ctx<'_>, route: Route) -> Response {
    let (n, v) = (route.name.as_str(), route.version.as_deref());
    let res = match route.op {
        Op::SetSecret => secrets_api::set(ctx, n),
        Op::GetSecret => secrets_api::get(ctx, n, v),
        Op::UpdateSecret => secrets_api::update(ctx, n, v),
        Op::DeleteSecret => objects_api::delete::<SecretVersion>(ctx, n),
        Op::ListSecrets => objects_api::list::<SecretVersion>(ctx),
        Op::ListSecretVersions => objects_api::list_versions::<SecretVersion>(ctx, n),
        Op::ListDeletedSecrets => objects_api::list_deleted::<SecretVersion>(ctx),
        Op::GetDeletedSecret => objects_api::get_deleted::<SecretVersion>(ctx, n),
        Op::RecoverDeletedSecret => objects_api::recover::<SecretVersion>(ctx, n),
        Op::PurgeDeletedSecret => objects_api::purge::<SecretVersion>(ctx, n),
        Op::ImportCertificate => certs_api::import(ctx, n),
        Op::GetCertificate => certs_api::get(ctx, n, v),
        Op::GetCertificatePolicy => certs_api::policy(ctx, n),
        Op::DeleteCertificate => objects_api::delete::<CertVersion>(ctx, n),
        Op::ListCertificates => objects_api::list::<CertVersion>(ctx),
        Op::ListCertificateVersions => objects_api::list_versions::<CertVersion>(ctx, n),
        Op::ListDeletedCertificates => objects_api::list_deleted::<CertVersion>(ctx),
        Op::GetDeletedCertificate => objects_api::get_deleted::<CertVersion>(ctx, n),
        Op::RecoverDeletedCertificate => objects_api::recover::<CertVersion>(ctx, n),
        Op::PurgeDeletedCertificate => objects_api::purge::<CertVersion>(ctx, n),
        Op::CreateKey => keys_api::create(ctx, n),
        Op::ImportKey => keys_api::import(ctx, n),
        Op::GetKey => keys_api::get(ctx, n, v),
        Op::DeleteKey => objects_api::delete::<KeyVersion>(ctx, n),
        Op::ListKeys => objects_api::list::<KeyVersion>(ctx),
        Op::ListKeyVersions => objects_api::list_versions::<KeyVersion>(ctx, n),
        Op::Sign => keys_api::sign(ctx, n, v),
        Op::Verify => keys_api::verify(ctx, n, v),
        Op::ListDeletedKeys => objects_api::list_deleted::<KeyVersion>(ctx),
        Op::GetDeletedKey => objects_api::get_deleted::<KeyVersion>(ctx, n),
        Op::RecoverDeletedKey => objects_api::recover::<KeyVersion>(ctx, n),
        Op::PurgeDeletedKey => objects_api::purge::<KeyVersion>(ctx, n),
    };
    res.unwrap_or_else(store_error)
}

/// Builds a list page response: `{"value": [...], "nextLink": url|null}`.
pub(crate) fn list_page(
    ctx: &Ctx<'_>,
    path: &str,
    items: Vec<serde_json::Value>,
) -> Result<Response, StoreError> {
    let req = paging::parse(ctx.param("maxresults"), ctx.param("$skiptoken"))
        .map_err(StoreError::BadParameter)?;
    let (page, token) = paging::page(items, req);
    let token = match token {
        None if ctx.endless_paging => Some(paging::token(req.skip)),
        token => token,
    };
    let next = token.map(|t| {
        format!(
            "{}{path}?api-version={}&$skiptoken={t}&maxresults={}",
            ctx.base, ctx.api_version, req.max
        )
    });
    Ok(crate::errors::json(
        200,
        &serde_json::json!({"value": page, "nextLink": next}),
    ))
}
