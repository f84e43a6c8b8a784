//! Maps a data-plane method + path to an operation, its counter name and the RBAC action it needs.

use crate::directory::Permission;
use axum::http::Method;

/// A data-plane operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    SetSecret,
    GetSecret,
    UpdateSecret,
    DeleteSecret,
    ListSecrets,
    ListSecretVersions,
    ListDeletedSecrets,
    GetDeletedSecret,
    RecoverDeletedSecret,
    PurgeDeletedSecret,
    ImportCertificate,
    GetCertificate,
    GetCertificatePolicy,
    DeleteCertificate,
    ListCertificates,
    ListCertificateVersions,
    ListDeletedCertificates,
    GetDeletedCertificate,
    RecoverDeletedCertificate,
    PurgeDeletedCertificate,
    CreateKey,
    ImportKey,
    GetKey,
    DeleteKey,
    ListKeys,
    ListKeyVersions,
    Sign,
    Verify,
    ListDeletedKeys,
    GetDeletedKey,
    RecoverDeletedKey,
    PurgeDeletedKey,
}

/// An operation with its path parameters: object name (empty for a whole-vault list) and
/// version (`None` = latest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub op: Op,
    pub name: String,
    pub version: Option<String>,
}

/// Why no route matched: 404 (no such path) or 405 (path exists, other method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoRoute {
    NotFound,
    MethodNotAllowed,
}

/// Resolves a request path such as `/secrets/name/` or `/certificates/name/import`; a trailing
/// slash is ignored.
pub(crate) fn route(method: &Method, path: &str) -> Result<Route, NoRoute> {
    let path = path.trim_start_matches('/');
    let path = path.strip_suffix('/').unwrap_or(path);
    let segs: Vec<&str> = path.split('/').collect();
    let Some((collection, rest)) = segs.split_first() else {
        return Err(NoRoute::NotFound);
    };
    if rest.iter().any(|s| s.is_empty()) {
        return Err(NoRoute::NotFound);
    }
    let m = method.clone();
    let (op, name, version) = match *collection {
        "secrets" => secrets(m, rest),
        "certificates" => certificates(m, rest),
        "keys" => keys(m, rest),
        "deletedsecrets" => deleted(m, rest, DELETED_SECRETS),
        "deletedcertificates" => deleted(m, rest, DELETED_CERTIFICATES),
        "deletedkeys" => deleted(m, rest, DELETED_KEYS),
        _ => return Err(NoRoute::NotFound),
    }?;
    Ok(Route {
        op: op.ok_or(NoRoute::MethodNotAllowed)?,
        name: name.to_owned(),
        version: version.map(str::to_owned),
    })
}

/// What a path resolved to: the operation for the method (`None`: another method), the name
/// and the version.
type Matched<'a> = Result<(Option<Op>, &'a str, Option<&'a str>), NoRoute>;

fn only(m: &Method, want: Method, op: Op) -> Option<Op> {
    (*m == want).then_some(op)
}

fn secrets<'a>(m: Method, rest: &[&'a str]) -> Matched<'a> {
    Ok(match rest {
        [] => (only(&m, Method::GET, Op::ListSecrets), "", None),
        [n] => {
            let op = match m {
                Method::GET => Some(Op::GetSecret),
                Method::PUT => Some(Op::SetSecret),
                Method::DELETE => Some(Op::DeleteSecret),
                Method::PATCH => Some(Op::UpdateSecret),
                _ => None,
            };
            (op, n, None)
        }
        [n, "versions"] => (only(&m, Method::GET, Op::ListSecretVersions), n, None),
        [n, v] => {
            let op = match m {
                Method::GET => Some(Op::GetSecret),
                Method::PATCH => Some(Op::UpdateSecret),
                _ => None,
            };
            (op, n, Some(v))
        }
        _ => return Err(NoRoute::NotFound),
    })
}

fn certificates<'a>(m: Method, rest: &[&'a str]) -> Matched<'a> {
    Ok(match rest {
        [] => (only(&m, Method::GET, Op::ListCertificates), "", None),
        [n] => {
            let op = match m {
                Method::GET => Some(Op::GetCertificate),
                Method::DELETE => Some(Op::DeleteCertificate),
                _ => None,
            };
            (op, n, None)
        }
        [n, "import"] => (only(&m, Method::POST, Op::ImportCertificate), n, None),
        [n, "policy"] => (only(&m, Method::GET, Op::GetCertificatePolicy), n, None),
        [n, "versions"] => (only(&m, Method::GET, Op::ListCertificateVersions), n, None),
        [n, v] => (only(&m, Method::GET, Op::GetCertificate), n, Some(v)),
        _ => return Err(NoRoute::NotFound),
    })
}

fn keys<'a>(m: Method, rest: &[&'a str]) -> Matched<'a> {
    Ok(match rest {
        [] => (only(&m, Method::GET, Op::ListKeys), "", None),
        [n] => {
            let op = match m {
                Method::GET => Some(Op::GetKey),
                Method::PUT => Some(Op::ImportKey),
                Method::DELETE => Some(Op::DeleteKey),
                _ => None,
            };
            (op, n, None)
        }
        [n, "create"] => (only(&m, Method::POST, Op::CreateKey), n, None),
        [n, "versions"] => (only(&m, Method::GET, Op::ListKeyVersions), n, None),
        [n, v] => (only(&m, Method::GET, Op::GetKey), n, Some(v)),
        [n, v, "sign"] => (only(&m, Method::POST, Op::Sign), n, Some(v)),
        [n, v, "verify"] => (only(&m, Method::POST, Op::Verify), n, Some(v)),
        _ => return Err(NoRoute::NotFound),
    })
}

/// The operations of a deleted-object collection: list, get, recover, purge.
type DeletedOps = [Op; 4];
const DELETED_SECRETS: DeletedOps = [
    Op::ListDeletedSecrets,
    Op::GetDeletedSecret,
    Op::RecoverDeletedSecret,
    Op::PurgeDeletedSecret,
];
const DELETED_CERTIFICATES: DeletedOps = [
    Op::ListDeletedCertificates,
    Op::GetDeletedCertificate,
    Op::RecoverDeletedCertificate,
    Op::PurgeDeletedCertificate,
];
const DELETED_KEYS: DeletedOps = [
    Op::ListDeletedKeys,
    Op::GetDeletedKey,
    Op::RecoverDeletedKey,
    Op::PurgeDeletedKey,
];

fn deleted<'a>(m: Method, rest: &[&'a str], ops: DeletedOps) -> Matched<'a> {
    let [list, get, recover, purge] = ops;
    Ok(match rest {
        [] => (only(&m, Method::GET, list), "", None),
        [n] => {
            let op = match m {
                Method::GET => Some(get),
                Method::DELETE => Some(purge),
                _ => None,
            };
            (op, n, None)
        }
        [n, "recover"] => (only(&m, Method::POST, recover), n, None),
        _ => return Err(NoRoute::NotFound),
    })
}

/// The collection an operation works on (used in RBAC messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collection {
    Secrets,
    Certificates,
    Keys,
}

impl Op {
    /// Permission, RBAC data action (below `Microsoft.KeyVault/vaults/`) and collection.
    fn rbac(self) -> (Permission, &'static str, Collection) {
        use Collection::{Certificates as C, Keys as K, Secrets as S};
        use Permission::{CertificatesRead as CR, CertificatesWrite as CW, KeysRead as KR};
        use Permission::{KeysWrite as KW, List as L, SecretsRead as SR, SecretsWrite as SW};
        match self {
            Op::SetSecret => (SW, "secrets/setSecret/action", S),
            Op::GetSecret => (SR, "secrets/getSecret/action", S),
            Op::UpdateSecret => (SW, "secrets/update/action", S),
            Op::DeleteSecret => (SW, "secrets/delete", S),
            Op::ListSecrets | Op::ListSecretVersions => (L, "secrets/readMetadata/action", S),
            Op::ListDeletedSecrets | Op::GetDeletedSecret => (L, "deletedSecrets/read", S),
            Op::RecoverDeletedSecret => (SW, "deletedSecrets/recover/action", S),
            Op::PurgeDeletedSecret => (SW, "deletedSecrets/delete", S),
            Op::ImportCertificate => (CW, "certificates/import/action", C),
            Op::GetCertificate | Op::GetCertificatePolicy => (CR, "certificates/read", C),
            Op::ListCertificates | Op::ListCertificateVersions => (L, "certificates/read", C),
            Op::DeleteCertificate => (CW, "certificates/delete", C),
            Op::ListDeletedCertificates => (L, "deletedCertificates/read", C),
            Op::GetDeletedCertificate => (L, "deletedCertificates/read", C),
            Op::RecoverDeletedCertificate => (CW, "deletedCertificates/recover/action", C),
            Op::PurgeDeletedCertificate => (CW, "deletedCertificates/delete", C),
            Op::CreateKey => (KW, "keys/create/action", K),
            Op::ImportKey => (KW, "keys/import/action", K),
            Op::GetKey => (KR, "keys/read", K),
            Op::DeleteKey => (KW, "keys/delete", K),
            Op::ListKeys | Op::ListKeyVersions => (L, "keys/read", K),
            Op::Sign => (KR, "keys/sign/action", K),
            Op::Verify => (KR, "keys/verify/action", K),
            Op::ListDeletedKeys | Op::GetDeletedKey => (L, "deletedKeys/read", K),
            Op::RecoverDeletedKey => (KW, "deletedKeys/recover/action", K),
            Op::PurgeDeletedKey => (KW, "deletedKeys/delete", K),
        }
    }
}

impl Route {
    /// Counter name of the operation, e.g. "GetSecret".
    pub fn op(&self) -> String {
        format!("{:?}", self.op)
    }

    /// Whether `granted` lets the caller run the operation. Reading a key also works with
    /// certificate read access (a certificate's public key is read through /keys).
    pub fn allowed_by(&self, granted: &std::collections::BTreeSet<Permission>) -> bool {
        granted.contains(&self.op.rbac().0)
            || (self.op == Op::GetKey && granted.contains(&Permission::CertificatesRead))
    }

    /// The Azure RBAC data action, as shown in a ForbiddenByRbac message.
    pub fn action(&self) -> String {
        format!("Microsoft.KeyVault/vaults/{}", self.op.rbac().1)
    }

    /// The object path below the vault in a ForbiddenByRbac message.
    pub fn resource(&self) -> String {
        let collection = match self.op.rbac().2 {
            Collection::Secrets => "secrets",
            Collection::Certificates => "certificates",
            Collection::Keys => "keys",
        };
        if self.name.is_empty() {
            format!("/{collection}")
        } else {
            format!("/{collection}/{}", self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(op: Op, name: &str, version: Option<&str>) -> Result<Route, NoRoute> {
        Ok(Route {
            op,
            name: name.into(),
            version: version.map(str::to_owned),
        })
    }

    #[test]
    fn routes() {
        let g = Method::GET;
        assert_eq!(route(&g, "/secrets/a/"), r(Op::GetSecret, "a", None));
        assert_eq!(route(&g, "/secrets/a"), r(Op::GetSecret, "a", None));
        assert_eq!(route(&g, "/secrets"), r(Op::ListSecrets, "", None));
        assert_eq!(
            route(&g, "/secrets/a/versions"),
            r(Op::ListSecretVersions, "a", None)
        );
        assert_eq!(
            route(&g, "/secrets/a/v1"),
            r(Op::GetSecret, "a", Some("v1"))
        );
        assert_eq!(
            route(&Method::PUT, "/secrets/a"),
            r(Op::SetSecret, "a", None)
        );
        assert_eq!(
            route(&Method::POST, "/secrets/a"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(route(&g, "/nope"), Err(NoRoute::NotFound));
        assert_eq!(route(&g, "/secrets/a/b/c"), Err(NoRoute::NotFound));
        assert_eq!(route(&g, "/secrets//x"), Err(NoRoute::NotFound));
        let policy = route(&g, "/certificates/c/policy");
        assert_eq!(policy, r(Op::GetCertificatePolicy, "c", None));
        let purge = route(&Method::DELETE, "/deletedsecrets/a");
        assert_eq!(purge, r(Op::PurgeDeletedSecret, "a", None));
        let recover = route(&Method::POST, "/deletedcertificates/c/recover");
        assert_eq!(recover, r(Op::RecoverDeletedCertificate, "c", None));
        let sign = route(&Method::POST, "/keys/k/v1/sign");
        assert_eq!(sign, r(Op::Sign, "k", Some("v1")));
        assert_eq!(route(&Method::PUT, "/keys/k"), r(Op::ImportKey, "k", None));
    }

    #[test]
    fn rbac_names() {
        let get = route(&Method::GET, "/keys/k").unwrap();
        assert_eq!(get.op(), "GetKey");
        assert_eq!(get.resource(), "/keys/k");
        assert!(get.allowed_by(&[Permission::CertificatesRead].into()));
        assert!(!get.allowed_by(&[Permission::List].into()));
        let purge = route(&Method::DELETE, "/deletedsecrets/a").unwrap();
        assert_eq!(
            purge.action(),
            "Microsoft.KeyVault/vaults/deletedSecrets/delete"
        );
        assert_eq!(purge.resource(), "/secrets/a");
    }
}
