//! The object types a scanner lists: how each is listed and where its listing is kept.

use std::sync::Arc;

use super::ObjectType;
use super::scanner::Scanner;
use super::shelf::Shelf;
use crate::vault::shared::SharedVault;
use crate::vault::{
    CertificateProperties, KeyProperties, SecretProperties, VaultAccess, VaultError,
};

/// A listed object type: how to list it and where its listing is kept.
#[async_trait::async_trait]
pub(super) trait Catalogue:
    crate::vault::Listed + Clone + Send + Sync + Sized + 'static
{
    /// Which type this is.
    const TYPE: ObjectType;
    /// Lists every object of this type.
    async fn list(vault: &SharedVault, access: &VaultAccess) -> Result<Arc<Vec<Self>>, VaultError>;
    /// The scanner's shelf for this type.
    fn shelf(scanner: &Scanner) -> &Shelf<Self>;
    /// The same, to change.
    fn shelf_mut(scanner: &mut Scanner) -> &mut Shelf<Self>;
}

#[async_trait::async_trait]
impl Catalogue for SecretProperties {
    const TYPE: ObjectType = ObjectType::Secret;
    async fn list(vault: &SharedVault, access: &VaultAccess) -> Result<Arc<Vec<Self>>, VaultError> {
        vault.list_secrets(access).await
    }
    fn shelf(scanner: &Scanner) -> &Shelf<Self> {
        &scanner.secrets
    }
    fn shelf_mut(scanner: &mut Scanner) -> &mut Shelf<Self> {
        &mut scanner.secrets
    }
}

#[async_trait::async_trait]
impl Catalogue for CertificateProperties {
    const TYPE: ObjectType = ObjectType::Certificate;
    async fn list(vault: &SharedVault, access: &VaultAccess) -> Result<Arc<Vec<Self>>, VaultError> {
        vault.list_certificates(access).await
    }
    fn shelf(scanner: &Scanner) -> &Shelf<Self> {
        &scanner.certificates
    }
    fn shelf_mut(scanner: &mut Scanner) -> &mut Shelf<Self> {
        &mut scanner.certificates
    }
}

#[async_trait::async_trait]
impl Catalogue for KeyProperties {
    const TYPE: ObjectType = ObjectType::Key;
    async fn list(vault: &SharedVault, access: &VaultAccess) -> Result<Arc<Vec<Self>>, VaultError> {
        vault.list_keys(access).await
    }
    fn shelf(scanner: &Scanner) -> &Shelf<Self> {
        &scanner.keys
    }
    fn shelf_mut(scanner: &mut Scanner) -> &mut Shelf<Self> {
        &mut scanner.keys
    }
}
