//! The federated client assertion (a Kubernetes ServiceAccount token): parsed, matched against a
//! federated identity credential, signature-checked with the issuer's JWKS and time-checked, each
//! refusal carrying the AADSTS code Entra uses.

use super::refusal::Refusal;
use crate::clock::format_utc;
use crate::directory::Directory;
use crate::jwt::{self, Jwt, SigError};
use serde_json::Value;

/// Audience a federated assertion must carry.
pub(crate) const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Checks the assertion type and decodes the JWT (not yet verified).
pub(crate) fn parse(assertion: &str, assertion_type: &str) -> Result<Jwt, Refusal> {
    if assertion_type != ASSERTION_TYPE {
        return Err(Refusal::bad(
            "invalid_request",
            50027,
            format!(
                "Invalid client_assertion_type '{assertion_type}'; expected '{ASSERTION_TYPE}'."
            ),
        ));
    }
    Jwt::parse(assertion).ok_or_else(|| {
        Refusal::bad(
            "invalid_request",
            50027,
            "JWT token is invalid or malformed.",
        )
    })
}

/// Verifies an assertion presented for `client_id` at time `now`.
pub(crate) fn verify(dir: &Directory, client_id: &str, jwt: &Jwt, now: i64) -> Result<(), Refusal> {
    let jwks = federated_issuer(dir, client_id, jwt)?;
    check_audience(jwt)?;
    check_signature(jwks, jwt)?;
    check_time(jwt, now)
}

/// The JWKS of the assertion's issuer, if a federated credential matches (client, iss, sub).
fn federated_issuer<'a>(
    dir: &'a Directory,
    client_id: &str,
    jwt: &Jwt,
) -> Result<&'a Value, Refusal> {
    let iss = jwt.claim_str("iss").unwrap_or("");
    let sub = jwt.claim_str("sub").unwrap_or("");
    let fic = (client_id.to_owned(), iss.to_owned(), sub.to_owned());
    match dir.issuers.get(iss) {
        Some(jwks) if dir.federated.contains(&fic) => Ok(jwks),
        _ => Err(Refusal::bad(
            "invalid_request",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                jwt.audiences().join(",")
            ),
        )),
    }
}

fn check_audience(jwt: &Jwt) -> Result<(), Refusal> {
    let auds = jwt.audiences();
    if auds.iter().any(|a| a == EXCHANGE_AUDIENCE) {
        return Ok(());
    }
    Err(Refusal::bad(
        "invalid_request",
        700212,
        format!(
            "No matching federated identity record found for presented assertion audience '{}'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Audience property.",
            auds.join(",")
        ),
    ))
}

fn check_signature(jwks: &Value, jwt: &Jwt) -> Result<(), Refusal> {
    let jwk = jwt::find_jwk(jwks, jwt.kid()).ok_or_else(|| {
        Refusal::client(
            700027,
            "Client assertion failed signature validation. (Reason - The key was not found.)",
        )
    })?;
    match jwt.verify_jwk(jwk) {
        Ok(()) => Ok(()),
        Err(SigError::UnsupportedKey) => Err(Refusal::client(
            700027,
            format!(
                "Client assertion failed signature validation. (Reason - The key or algorithm '{}' is not supported.)",
                jwt.alg()
            ),
        )),
        Err(SigError::BadSignature) => Err(Refusal::client(
            50012,
            "Client assertion contains an invalid signature.",
        )),
    }
}

fn check_time(jwt: &Jwt, now: i64) -> Result<(), Refusal> {
    let exp = jwt.claim_i64("exp");
    let nbf = jwt.claim_i64("nbf");
    if exp.is_some_and(|e| e > now) && nbf.is_none_or(|n| n <= now) {
        return Ok(());
    }
    let stamp = |t: Option<i64>| t.map_or_else(|| "unset".to_owned(), format_utc);
    Err(Refusal::client(
        700024,
        format!(
            "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
            format_utc(now),
            stamp(nbf),
            stamp(exp),
        ),
    ))
}
