//! Maps a data-plane method + path to an operation, its counter name and the RBAC action it needs.

use crate::directory::Permission;
use axum::http::Method;

/// A data-plane operation with its path parameters (`None` version = latest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    SetSecret(String),
    GetSecret(String, Option<String>),
    UpdateSecret(String, Option<String>),
    DeleteSecret(String),
    ListSecrets,
    ListSecretVersions(String),
    ImportCertificate(String),
    GetCertificate(String, Option<String>),
    GetCertificatePolicy(String),
    ListCertificates,
    ListCertificateVersions(String),
    GetKey(String, Option<String>),
}

/// Why no route matched: 404 (no such path) or 405 (path exists, other method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoRoute {
    NotFound,
    MethodNotAllowed,
}

/// Resolves a request path such as `/secrets/name/` or `/certificates/name/import`.
pub(crate) fn route(method: &Method, path: &str) -> Result<Route, NoRoute> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let m = method.clone();
    let version = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    let pick = |ok: Option<Route>| ok.ok_or(NoRoute::MethodNotAllowed);
    match segs.as_slice() {
        ["secrets"] | ["secrets", ""] => pick((m == Method::GET).then_some(Route::ListSecrets)),
        ["secrets", n] | ["secrets", n, ""] if !n.is_empty() => {
            let n = (*n).to_owned();
            pick(match m {
                Method::GET => Some(Route::GetSecret(n, None)),
                Method::PUT if segs.len() == 2 => Some(Route::SetSecret(n)),
                Method::DELETE if segs.len() == 2 => Some(Route::DeleteSecret(n)),
                Method::PATCH => Some(Route::UpdateSecret(n, None)),
                _ => None,
            })
        }
        ["secrets", n, "versions"] if !n.is_empty() => {
            pick((m == Method::GET).then(|| Route::ListSecretVersions((*n).to_owned())))
        }
        ["secrets", n, v] if !n.is_empty() => pick(match m {
            Method::GET => Some(Route::GetSecret((*n).to_owned(), version(v))),
            Method::PATCH => Some(Route::UpdateSecret((*n).to_owned(), version(v))),
            _ => None,
        }),
        ["certificates"] | ["certificates", ""] => {
            pick((m == Method::GET).then_some(Route::ListCertificates))
        }
        ["certificates", n] | ["certificates", n, ""] if !n.is_empty() => {
            pick((m == Method::GET).then(|| Route::GetCertificate((*n).to_owned(), None)))
        }
        ["certificates", n, "import"] if !n.is_empty() => {
            pick((m == Method::POST).then(|| Route::ImportCertificate((*n).to_owned())))
        }
        ["certificates", n, "policy"] if !n.is_empty() => {
            pick((m == Method::GET).then(|| Route::GetCertificatePolicy((*n).to_owned())))
        }
        ["certificates", n, "versions"] if !n.is_empty() => {
            pick((m == Method::GET).then(|| Route::ListCertificateVersions((*n).to_owned())))
        }
        ["certificates", n, v] if !n.is_empty() => {
            pick((m == Method::GET).then(|| Route::GetCertificate((*n).to_owned(), version(v))))
        }
        ["keys", n] | ["keys", n, ""] if !n.is_empty() => {
            pick((m == Method::GET).then(|| Route::GetKey((*n).to_owned(), None)))
        }
        ["keys", n, v] if !n.is_empty() => {
            pick((m == Method::GET).then(|| Route::GetKey((*n).to_owned(), version(v))))
        }
        _ => Err(NoRoute::NotFound),
    }
}

impl Route {
    /// Counter name of the operation.
    pub fn op(&self) -> &'static str {
        match self {
            Route::SetSecret(_) => "SetSecret",
            Route::GetSecret(..) => "GetSecret",
            Route::UpdateSecret(..) => "UpdateSecret",
            Route::DeleteSecret(_) => "DeleteSecret",
            Route::ListSecrets => "ListSecrets",
            Route::ListSecretVersions(_) => "ListSecretVersions",
            Route::ImportCertificate(_) => "ImportCertificate",
            Route::GetCertificate(..) => "GetCertificate",
            Route::GetCertificatePolicy(_) => "GetCertificatePolicy",
            Route::ListCertificates => "ListCertificates",
            Route::ListCertificateVersions(_) => "ListCertificateVersions",
            Route::GetKey(..) => "GetKey",
        }
    }

    /// The permission the caller needs.
    pub fn permission(&self) -> Permission {
        match self {
            Route::GetSecret(..) => Permission::SecretsRead,
            Route::SetSecret(_) | Route::UpdateSecret(..) | Route::DeleteSecret(_) => {
                Permission::SecretsWrite
            }
            Route::ListSecrets
            | Route::ListSecretVersions(_)
            | Route::ListCertificates
            | Route::ListCertificateVersions(_) => Permission::List,
            Route::ImportCertificate(_) => Permission::CertificatesWrite,
            Route::GetCertificate(..) | Route::GetCertificatePolicy(_) | Route::GetKey(..) => {
                Permission::CertificatesRead
            }
        }
    }

    /// The Azure RBAC data action, as shown in a ForbiddenByRbac message.
    pub fn action(&self) -> &'static str {
        match self {
            Route::GetSecret(..) => "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            Route::SetSecret(_) => "Microsoft.KeyVault/vaults/secrets/setSecret/action",
            Route::UpdateSecret(..) => "Microsoft.KeyVault/vaults/secrets/update/action",
            Route::DeleteSecret(_) => "Microsoft.KeyVault/vaults/secrets/delete",
            Route::ListSecrets | Route::ListSecretVersions(_) => {
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
            }
            Route::ImportCertificate(_) => "Microsoft.KeyVault/vaults/certificates/import/action",
            Route::GetCertificate(..)
            | Route::GetCertificatePolicy(_)
            | Route::ListCertificates
            | Route::ListCertificateVersions(_) => "Microsoft.KeyVault/vaults/certificates/read",
            Route::GetKey(..) => "Microsoft.KeyVault/vaults/keys/read",
        }
    }

    /// The object path below the vault in a ForbiddenByRbac message.
    pub fn resource(&self) -> String {
        match self {
            Route::SetSecret(n)
            | Route::GetSecret(n, _)
            | Route::UpdateSecret(n, _)
            | Route::DeleteSecret(n)
            | Route::ListSecretVersions(n) => format!("/secrets/{n}"),
            Route::ListSecrets => "/secrets".into(),
            Route::ImportCertificate(n)
            | Route::GetCertificate(n, _)
            | Route::GetCertificatePolicy(n)
            | Route::ListCertificateVersions(n) => format!("/certificates/{n}"),
            Route::ListCertificates => "/certificates".into(),
            Route::GetKey(n, _) => format!("/keys/{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let g = Method::GET;
        assert_eq!(
            route(&g, "/secrets/a/"),
            Ok(Route::GetSecret("a".into(), None))
        );
        assert_eq!(
            route(&g, "/secrets/a"),
            Ok(Route::GetSecret("a".into(), None))
        );
        assert_eq!(
            route(&g, "/secrets/a/versions"),
            Ok(Route::ListSecretVersions("a".into()))
        );
        assert_eq!(
            route(&g, "/secrets/a/v1"),
            Ok(Route::GetSecret("a".into(), Some("v1".into())))
        );
        assert_eq!(
            route(&Method::PUT, "/secrets/a"),
            Ok(Route::SetSecret("a".into()))
        );
        assert_eq!(
            route(&Method::POST, "/secrets/a"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(route(&g, "/nope"), Err(NoRoute::NotFound));
        assert_eq!(route(&g, "/secrets/a/b/c"), Err(NoRoute::NotFound));
        assert_eq!(
            route(&g, "/certificates/c/policy"),
            Ok(Route::GetCertificatePolicy("c".into()))
        );
    }
}
