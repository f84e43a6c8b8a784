"""azure-keyvault-secrets against the emulator."""
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError


def seed(emulator, name, value, **opts):
    return emulator.post(f"/vaults/pyvault/secrets/{name}", {"value": value, **opts})["version"]


def test_get_latest_and_version(emulator, secrets):
    v1 = seed(emulator, "py-get", "one")
    v2 = seed(emulator, "py-get", "two", content_type="text/plain", tags={"k": "v"})
    latest = secrets.get_secret("py-get")
    assert latest.value == "two"
    assert latest.properties.version == v2
    assert latest.properties.content_type == "text/plain"
    assert latest.properties.tags == {"k": "v"}
    assert latest.properties.enabled is True
    assert secrets.get_secret("PY-GET", v1).value == "one"


def test_versions(emulator, secrets):
    versions = {seed(emulator, "py-versions", str(i)) for i in range(4)}
    listed = {p.version for p in secrets.list_properties_of_secret_versions("py-versions")}
    assert listed == versions


def test_paging(emulator, secrets):
    for i in range(12):
        seed(emulator, f"py-page-{i:02d}", "x")
    pages = list(secrets.list_properties_of_secrets(max_page_size=5).by_page())
    names = [p.name for page in pages for p in page]
    assert len([n for n in names if n.startswith("py-page-")]) == 12
    assert len(pages) >= 3
    assert all(p.version is None for page in pages for p in page)


def test_disabled_is_forbidden(emulator, secrets):
    seed(emulator, "py-off", "x", enabled=False)
    with pytest.raises(HttpResponseError) as e:
        secrets.get_secret("py-off")
    assert e.value.status_code == 403
    assert "disabled" in str(e.value)


def test_missing_is_not_found(secrets):
    with pytest.raises(ResourceNotFoundError) as e:
        secrets.get_secret("py-missing")
    assert e.value.status_code == 404
    assert e.value.error.code == "SecretNotFound"


def test_soft_delete_recover_purge(emulator, secrets):
    seed(emulator, "py-soft", "soft-value")
    deleted = secrets.begin_delete_secret("py-soft").result()
    assert deleted.recovery_id.endswith("/deletedsecrets/py-soft")
    assert deleted.deleted_date is not None and deleted.scheduled_purge_date is not None
    assert secrets.get_deleted_secret("py-soft").name == "py-soft"
    assert "py-soft" in {d.name for d in secrets.list_deleted_secrets()}
    with pytest.raises(ResourceNotFoundError):
        secrets.get_secret("py-soft")
    with pytest.raises(HttpResponseError) as e:
        secrets.set_secret("py-soft", "new")
    assert e.value.status_code == 409
    assert e.value.error.code == "Conflict"
    secrets.begin_recover_deleted_secret("py-soft").result()
    assert secrets.get_secret("py-soft").value == "soft-value"
    secrets.begin_delete_secret("py-soft").result()
    secrets.purge_deleted_secret("py-soft")
    with pytest.raises(ResourceNotFoundError):
        secrets.get_deleted_secret("py-soft")
    assert secrets.set_secret("py-soft", "again").value == "again"
