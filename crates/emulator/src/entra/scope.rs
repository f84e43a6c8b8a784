//! The `scope` of a client-credentials request as Entra reads it: the OIDC scopes MSAL always
//! adds (`openid offline_access profile`) beside exactly one `<resource>/.default`.

use super::refusal::Refusal;

/// Scopes that name no resource; Entra ignores them in a client-credentials request.
const OIDC_SCOPES: &[&str] = &["openid", "offline_access", "profile", "email"];

/// The resource named by `scope` (the part before `/.default`), or Entra's refusal.
pub(crate) fn resource(scope: &str) -> Result<&str, Refusal> {
    let mut named = scope
        .split_whitespace()
        .filter(|s| !OIDC_SCOPES.iter().any(|o| s.eq_ignore_ascii_case(o)));
    let (Some(one), None) = (named.next(), named.next()) else {
        // None or several resources.
        return Err(Refusal::bad(
            "invalid_scope",
            70011,
            format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        ));
    };
    one.strip_suffix("/.default").ok_or_else(|| {
        Refusal::bad(
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {one} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::resource;

    fn code(scope: &str) -> u32 {
        resource(scope).map_or_else(|r| r.code, |_| 0)
    }

    #[test]
    fn one_default_resource_beside_oidc_scopes() {
        let v = "https://vault.localhost/.default";
        assert_eq!(resource(v), Ok("https://vault.localhost"));
        let msal = format!("{v} openid offline_access profile");
        assert_eq!(resource(&msal), Ok("https://vault.localhost"));
        assert_eq!(
            resource(&format!("openid  {v}")),
            Ok("https://vault.localhost")
        );
    }

    #[test]
    fn refuses_two_resources_none_or_no_default() {
        let two = "https://vault.localhost/.default https://graph.microsoft.com/.default";
        assert_eq!(code(two), 70011);
        assert_eq!(code("openid profile"), 70011);
        assert_eq!(code(""), 70011);
        assert_eq!(
            code("https://vault.localhost/user_impersonation openid"),
            1002012
        );
        assert_eq!(code("https://vault.localhost"), 1002012);
    }
}
