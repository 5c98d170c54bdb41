"""Auth, scopes, rotation, revocation and tenancy, in-process against the stand-in."""

from __future__ import annotations

import base64

import pytest

from tests.support.standin import (
    FOREIGN,
    FOREIGN_SECTION,
    FOREIGN_STORE,
    FRESH,
    LUNCH,
    MAIN,
    OLD_SECRET,
    POPULATED,
    READONLY,
    REVOKED,
    assert_error,
    state,
    store,
)


@pytest.mark.behaviour("auth.missing")
def test_no_header_is_auth_missing(api):
    assert_error(api.get("/menus", auth=None), 401, "auth_missing")


@pytest.mark.behaviour("auth.malformed", "auth.empty-key-missing")
@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":secret-without-key").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
def test_malformed_header_is_auth_missing(api, header):
    assert_error(api.get("/menus", auth=None, headers={"Authorization": header}), 401, "auth_missing")


@pytest.mark.behaviour("auth.invalid-credential")
@pytest.mark.parametrize("cred", [("pk_unknown", "whatever"), (MAIN[0], "wrong-secret"), (MAIN[0], "")])
def test_unknown_key_or_wrong_secret(api, cred):
    assert_error(api.get("/menus", auth=cred), 401, "auth_invalid_credential")


@pytest.mark.behaviour("auth.revoked")
def test_revoked_is_403_auth_revoked_under_reference(api):
    assert_error(api.get("/menus", auth=REVOKED), 403, "auth_revoked")


@pytest.mark.behaviour("auth.revoked")
def test_revoked_is_401_invalid_credentials_under_concepts(make_api):
    assert_error(make_api(reading="concepts").get("/menus", auth=REVOKED), 401, "INVALID_CREDENTIALS")


@pytest.mark.behaviour("auth.revoked-wrong-secret")
def test_revoked_key_with_wrong_secret_is_invalid_credential(api):
    assert_error(api.get("/menus", auth=(REVOKED[0], "nope")), 401, "auth_invalid_credential")


@pytest.mark.behaviour("auth.rotated-secret-rejected")
def test_seeded_old_secret_fails(api):
    assert_error(api.get("/menus", auth=(MAIN[0], OLD_SECRET)), 401, "auth_invalid_credential")


@pytest.mark.behaviour("auth.rotated-secret-rejected")
def test_rotation_cuts_the_old_secret_at_once_under_reference(api, service, clock):
    assert api.get("/menus").status_code == 200
    service.credentials.rotate(MAIN[0], "sk_new_secret_1234", now=clock.now())
    assert_error(api.get("/menus"), 401, "auth_invalid_credential")
    assert api.get("/menus", auth=(MAIN[0], "sk_new_secret_1234")).status_code == 200


@pytest.mark.behaviour("auth.rotated-secret-rejected")
def test_rotation_keeps_a_15_minute_window_under_concepts(make_api, clock):
    api = make_api(reading="concepts")
    api.service.credentials.rotate(MAIN[0], "sk_new_secret_1234", now=clock.now())
    clock.advance(14 * 60)
    assert api.get("/menus").status_code == 200
    clock.advance(61)
    assert_error(api.get("/menus"), 401, "INVALID_CREDENTIALS")


@pytest.mark.behaviour("auth.forbidden-scope", "auth.write-scope-for-writes")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/menus/sections", {"title": {"en": "x"}}),
        ("PATCH", f"/menus/sections/{LUNCH}/visibilities", {"visibilities": {"1": False}}),
        ("PATCH", "/menus/sections/enable", {"ids": [LUNCH], "isEnabled": False}),
        ("POST", "/menus/populate", {"stores": [store(FRESH[0])], "sections": {str(LUNCH): {"sequence": 1}}}),
        ("POST", "/menus/sync", {"stores": [store(POPULATED[0])], "sections": {str(LUNCH): {"sequence": 9}}}),
        ("POST", "/menus/publish", {"stores": [store(POPULATED[0])], "providerIDs": [1]}),
        ("POST", "/menus/reset", {"stores": [store(POPULATED[1])]}),
    ],
)
def test_read_only_credential_cannot_write(api, service, method, path, body):
    before = state(service)
    assert_error(api.request(method, path, json=body, auth=READONLY), 403, "auth_forbidden")
    assert state(service) == before


@pytest.mark.behaviour("auth.read-scope-for-getmenu")
def test_get_menu_needs_read_scope_in_both_modes(api, service):
    cred = service.credentials.get(MAIN[0])
    cred.scopes = frozenset({"menus:write"})
    assert_error(api.get("/menus"), 403, "auth_forbidden")
    assert_error(api.get("/menus", params={"brand_id": 663, "branch_id": 1062}), 403, "auth_forbidden")
    assert api.get("/menus", auth=READONLY).status_code == 200


@pytest.mark.behaviour("tenancy.foreign-store-404", "tenancy.unknown-same-as-foreign")
def test_foreign_and_unknown_stores_are_the_same_404(api):
    foreign = assert_error(
        api.get("/menus", params={"brand_id": FOREIGN_STORE.brand_id, "branch_id": FOREIGN_STORE.branch_id}),
        404,
        "resource_not_found",
    )
    unknown = assert_error(api.get("/menus", params={"brand_id": 77777, "branch_id": 88888}), 404, "resource_not_found")
    assert "data" not in foreign and "data" not in unknown


@pytest.mark.behaviour("tenancy.foreign-section-404", "tenancy.unknown-same-as-foreign")
def test_foreign_section_is_404_and_unchanged(api, service):
    before = state(service)
    assert_error(
        api.patch(f"/menus/sections/{FOREIGN_SECTION}/visibilities", {"visibilities": {"1": False}}),
        404,
        "resource_not_found",
    )
    assert_error(
        api.patch("/menus/sections/99999/visibilities", {"visibilities": {"1": False}}), 404, "resource_not_found"
    )
    assert state(service) == before


@pytest.mark.behaviour("tenancy.foreign-body-store-404", "populate.foreign-resource-404", "sync.foreign-resource-404")
@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/menus/populate",
            {"stores": [store(FRESH[0]), store(FOREIGN_STORE)], "sections": {str(LUNCH): {"sequence": 1}}},
        ),
        (
            "/menus/populate",
            {
                "stores": [store(FRESH[0])],
                "sections": {str(LUNCH): {"sequence": 1}, str(FOREIGN_SECTION): {"sequence": 2}},
            },
        ),
        (
            "/menus/sync",
            {"stores": [store(POPULATED[0]), store(FOREIGN_STORE)], "sections": {str(LUNCH): {"sequence": 5}}},
        ),
        ("/menus/sync", {"stores": [store(POPULATED[0])], "sections": {str(FOREIGN_SECTION): {"sequence": 5}}}),
        ("/menus/publish", {"stores": [store(POPULATED[0]), store(FOREIGN_STORE)], "providerIDs": [1]}),
        ("/menus/reset", {"stores": [store(POPULATED[1]), store(FOREIGN_STORE)]}),
    ],
)
def test_foreign_resource_in_a_body_is_404_for_the_whole_request(api, service, path, body):
    before = state(service)
    assert_error(api.post(path, body), 404, "resource_not_found")
    assert state(service) == before


@pytest.mark.behaviour("tenancy.foreign-body-store-404")
def test_foreign_zone_store_is_404(api, service):
    before = state(service)
    r = api.patch(
        f"/menus/sections/{LUNCH}/visibilities", {"visibilities": {"1": False}, "zoneStores": [store(FOREIGN_STORE)]}
    )
    assert_error(r, 404, "resource_not_found")
    assert state(service) == before


@pytest.mark.behaviour("tenancy.business-id-pinned")
def test_business_id_in_reset_body_cannot_reach_another_business(api, service):
    foreign_before = {k: v for k, v in service.world.overrides.items() if k[0] == FOREIGN_STORE}
    service.world.overrides[(FOREIGN_STORE, FOREIGN_SECTION)] = {"isEnabled": False}
    r = api.post("/menus/reset", {"stores": [store(POPULATED[1])], "business_id": 512})
    assert r.status_code == 200
    assert service.world.overrides[(FOREIGN_STORE, FOREIGN_SECTION)] == {"isEnabled": False}
    assert foreign_before == {}
    # and the foreign credential cannot see our stores even naming our business
    assert_error(
        api.get("/menus", params={"brand_id": 663, "branch_id": 1062}, auth=FOREIGN), 404, "resource_not_found"
    )
