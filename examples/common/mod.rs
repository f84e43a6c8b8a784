//! What both demos seed and share: the vault `demo` with three secrets and the certificate
//! `web-tls`, the identity `demo-app` federated to `system:serviceaccount:demo:app`.

use vaultsync_emulator::{CertificateImport, Control, Permission, SecretOptions};

/// Creates vault `demo` in `tenant`, the federated app that reads it, three secrets and the
/// certificate `web-tls`.
pub fn seed_demo_vault(control: &Control, tenant: &str, issuer: &str) {
    control.create_vault("demo", tenant);
    control.register_app(tenant, "demo-app");
    control.add_federated_credential("demo-app", issuer, "system:serviceaccount:demo:app");
    control.assign_role(
        "demo-app",
        "demo",
        &[
            Permission::SecretsRead,
            Permission::CertificatesRead,
            Permission::List,
        ],
    );
    set_demo_secret(control, "db-password", "s3cr3t-demo-password");
    set_demo_secret(control, "app-api-key", "demo-api-key");
    set_demo_secret(control, "app-region", "westeurope");
    control
        .import_certificate(
            "demo",
            "web-tls",
            CertificateImport {
                pem: Some(demo_certificate()),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| fail(&e.to_string()));
}

/// Sets a new enabled version of `name` in vault `demo`.
pub fn set_demo_secret(control: &Control, name: &str, value: &str) {
    control
        .set_secret(
            "demo",
            name,
            value,
            SecretOptions {
                enabled: true,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| fail(&e.to_string()));
}

/// A demo CA and a server certificate for `web.demo.example`, valid for 90 days, as PEM (key,
/// leaf, CA).
fn demo_certificate() -> String {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap_or_else(|e| fail(&e.to_string()));
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "vaultsync demo CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let key = KeyPair::generate().unwrap_or_else(|e| fail(&e.to_string()));
    let mut params = CertificateParams::new(vec!["web.demo.example".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "web.demo.example");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(90);
    let leaf = params.signed_by(&key, &issuer).unwrap();
    format!("{}{}{}", key.serialize_pem(), leaf.pem(), ca.pem())
}

/// Ends the demo with `message`.
pub fn fail(message: &str) -> ! {
    eprintln!("demo failed: {message}");
    std::process::exit(1);
}
