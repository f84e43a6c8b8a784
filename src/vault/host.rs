//! Which vaults the operator may connect to. Any tenant who can create a resource names a URL:
//! only hosts under the allowed suffixes are ever contacted, and every cache and limiter keys on
//! the one normalised form of the URL, so `:443`, a trailing dot or upper case cannot slip past
//! them.

/// Azure's public and sovereign Key Vault and Managed HSM domains.
pub const AZURE_VAULT_SUFFIXES: [&str; 8] = [
    ".vault.azure.net",
    ".vault.azure.cn",
    ".vault.usgovcloudapi.net",
    ".vault.microsoftazure.de",
    ".managedhsm.azure.net",
    ".managedhsm.azure.cn",
    ".managedhsm.usgovcloudapi.net",
    ".managedhsm.microsoftazure.de",
];

/// A vault URL in its one normalised form, `https://host[:port]/`: lowercase host without a
/// trailing dot, no default port, no path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultUrl {
    host: String,
    url: String,
}

impl VaultUrl {
    /// Parses `text`; only `https` URLs with a host name are vault URLs.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(text.trim())
            .map_err(|e| format!("vault.url {text:?} is not a URL: {e}"))?;
        if parsed.scheme() != "https" {
            return Err(format!("vault.url {text:?} must use https"));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(domain)) => domain.trim_end_matches('.').to_ascii_lowercase(),
            Some(_) => {
                return Err(format!(
                    "vault.url {text:?} must name a host, not an IP address"
                ));
            }
            None => return Err(format!("vault.url {text:?} has no host")),
        };
        let url = match parsed.port() {
            Some(port) => format!("https://{host}:{port}/"),
            None => format!("https://{host}/"),
        };
        Ok(VaultUrl { host, url })
    }

    /// The host name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The normalised URL.
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

/// The host suffixes vault URLs must end with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPolicy {
    suffixes: Vec<String>,
}

impl Default for HostPolicy {
    fn default() -> Self {
        HostPolicy::new(AZURE_VAULT_SUFFIXES)
    }
}

impl HostPolicy {
    /// Allows hosts ending with any of `suffixes` (a leading dot is implied: `vault.azure.net`
    /// allows `x.vault.azure.net`, never `evilvault.azure.net`).
    pub fn new<S: AsRef<str>>(suffixes: impl IntoIterator<Item = S>) -> Self {
        let suffixes = suffixes
            .into_iter()
            .map(|s| s.as_ref().trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|s| !s.is_empty() && s != ".")
            .map(|s| {
                if s.starts_with('.') {
                    s
                } else {
                    format!(".{s}")
                }
            })
            .collect();
        HostPolicy { suffixes }
    }

    /// `Ok(())` when `url` may be contacted, else the reason in words.
    pub fn check(&self, url: &VaultUrl) -> Result<(), String> {
        let host = url.host();
        let allowed = self
            .suffixes
            .iter()
            .any(|suffix| host.ends_with(suffix.as_str()) && host.len() > suffix.len());
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "vault host {host} is not under an allowed suffix ({}); ask the cluster admin to \
                 add it to the operator's --allowed-vault-hosts",
                self.suffixes.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> VaultUrl {
        VaultUrl::parse(text).unwrap()
    }

    #[test]
    fn urls_normalise_to_one_form() {
        for text in [
            "https://My.Vault.Azure.net",
            "https://my.vault.azure.net:443/",
            "https://my.vault.azure.net./secrets/x?y",
        ] {
            assert_eq!(url(text).as_str(), "https://my.vault.azure.net/", "{text}");
        }
        assert_eq!(
            url("https://v1.vault.localhost:8443").as_str(),
            "https://v1.vault.localhost:8443/"
        );
        assert!(VaultUrl::parse("http://my.vault.azure.net/").is_err());
        assert!(VaultUrl::parse("https://127.0.0.1:8443/").is_err());
        assert!(VaultUrl::parse("https://[::1]/").is_err());
    }

    #[test]
    fn only_hosts_under_an_allowed_suffix_pass() {
        let policy = HostPolicy::default();
        assert!(policy.check(&url("https://kv1.vault.azure.net/")).is_ok());
        assert!(
            policy
                .check(&url("https://hsm.managedhsm.azure.cn/"))
                .is_ok()
        );
        for refused in [
            "https://evil.example.com/",
            "https://vault.azure.net/",
            "https://kv1.vault.azure.net.evil.com/",
            "https://evilvault.azure.net/",
            "https://kv1.vault.localhost:8443/",
        ] {
            let reason = policy.check(&url(refused)).unwrap_err();
            assert!(
                reason.contains("--allowed-vault-hosts"),
                "{refused}: {reason}"
            );
        }
        let loopback = HostPolicy::new(["vault.localhost."]);
        assert!(
            loopback
                .check(&url("https://kv1.vault.localhost:8443/"))
                .is_ok()
        );
    }
}
