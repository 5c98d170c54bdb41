"""Envelope, auth, tenancy, idempotency and rate limit — against any target."""

from __future__ import annotations

import base64
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from klikit_harness import contract
from klikit_harness.checking import expect, profiles
from klikit_harness.checking.failures import Violation
from klikit_harness.checking.target import AUTO
from klikit_harness.suites.contract.conftest import create_section, first_known, member, need, publish, served, snapshot


def count_titled(api, title: str) -> int:
    sections = expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]["sections"]
    return sum(1 for s in sections if title in (member(s, "title") or {}).values())


@pytest.mark.behaviour("envelope.request-id", "envelope.success-has-data", "envelope.json-body")
def test_success_envelope(api):
    first = expect.ok(api, api.call("getMenu"), "getmenu.business-mode")
    if not isinstance(first, dict) or "menu" not in first:
        raise expect.mismatch(api, "getMenu data without menu", "getmenu.business-mode", first, {"menu": "..."})
    ids = {expect.envelope(api, api.call("getMenu"))["request_id"] for _ in range(3)}
    if len(ids) != 3:
        raise Violation(
            "request_id repeats across requests",
            behaviour="envelope.request-id",
            received=ids,
            documented="a new id per request",
        )


@pytest.mark.behaviour("envelope.error-shape", "envelope.code-status-catalogue", "routing.unknown-path-404")
def test_error_envelope_and_catalogue_status(api, target):
    with expect.settled(api):
        expect.error(api, api.send("GET", "/menus/no-such-operation"), "resource_not_found", "routing.unknown-path-404")
    expect.error(api, api.call("getMenu", params={"brand_id": 1}), "request_invalid", "getmenu.one-param-400")


@pytest.mark.behaviour("auth.missing")
def test_missing_auth(client_for):
    anonymous = client_for(None, "NONE")
    expect.error(anonymous, anonymous.call("getMenu"), "auth_missing", "auth.missing")


@pytest.mark.behaviour("auth.malformed")
@pytest.mark.parametrize("header", ["Bearer token", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()])
def test_malformed_auth(client_for, header):
    anonymous = client_for(None, "NONE")
    expect.error(
        anonymous, anonymous.call("getMenu", headers={"Authorization": header}), "auth_missing", "auth.malformed"
    )


@pytest.mark.behaviour("auth.invalid-credential")
def test_wrong_secret(target, client_for):
    from klikit_harness.checking.config import Credential

    wrong = client_for(Credential(target.main[0], "not-the-secret-" + uuid.uuid4().hex[:6]), "KLIKIT_PARTNER")
    expect.error(wrong, wrong.call("getMenu"), "auth_invalid_credential", "auth.invalid-credential")


@pytest.mark.behaviour("auth.rotated-secret-rejected")
def test_rotated_out_secret(target, client_for):
    from klikit_harness.checking.config import Credential

    old = need(target.settings.old_secret, "KLIKIT_OLD_SECRET", "a rotated-out secret of the main key")
    client = client_for(Credential(target.main[0], old.get_secret_value()), "KLIKIT_OLD")
    r = client.call("getMenu")
    if target.reading == "concepts" and expect.success(r):
        target.observe_reading("auth.rotated-secret-rejected", "concepts")
        return  # within the 15-minute overlap window the concepts page promises
    expect.contested(
        client,
        r,
        "auth.rotated-secret-rejected",
        {"reference": "auth_invalid_credential", "concepts": "auth_invalid_credential"},
    )


@pytest.mark.behaviour("auth.revoked")
def test_revoked_credential(target, client_for):
    cred = need(target.settings.revoked_credential, "KLIKIT_REVOKED_CREDENTIAL", "key:secret of a revoked credential")
    client = client_for(cred, "KLIKIT_REVOKED")
    expect.contested(
        client, client.call("getMenu"), "auth.revoked", {"reference": "auth_revoked", "concepts": "auth_revoked"}
    )


@pytest.mark.behaviour("auth.forbidden-scope", "auth.write-scope-for-writes", "codes.scope-failure")
def test_under_scoped_credential_cannot_write(target, client_for, store, api):
    cred = need(target.settings.limited_credential, "KLIKIT_LIMITED_CREDENTIAL", "key:secret of a read-only credential")
    client = client_for(cred, "KLIKIT_LIMITED")
    before = (publish(api, store), served(api, store))[1]
    sid = before[0].get("id") if before else create_section(api, "scope")
    body = {"stores": [store.as_json()], "sections": {str(sid): {"sequence": 99, "availableTimes": {}}}}
    r = client.call("syncMenuToStores", body)
    with expect.settled(api):
        expect.error(client, r, "auth_forbidden", "auth.write-scope-for-writes")
    expect.ok(client, client.call("getMenu"), "auth.read-scope-for-getmenu")
    if r.status_code != 403:
        return  # the credential's scopes cover writes on this target: nothing to hold it to
    publish(api, store)
    if snapshot(served(api, store)) != snapshot(before):
        raise expect.mismatch(
            api, "a forbidden sync changed the store", "auth.forbidden-scope", "menu changed", "nothing written"
        )


@pytest.mark.behaviour("tenancy.foreign-store-404", "tenancy.unknown-same-as-foreign")
def test_foreign_store_is_404(target, api):
    foreign = need(target.settings.foreign_store, "KLIKIT_FOREIGN_STORE", "a store of another business")
    expect.error(api, api.get_menu(foreign), "resource_not_found", "tenancy.foreign-store-404")
    expect.error(
        api,
        api.call("getMenu", params={"brand_id": 2147483000, "branch_id": 2147483000}),
        "resource_not_found",
        "tenancy.unknown-same-as-foreign",
    )


@pytest.mark.behaviour("tenancy.foreign-body-store-404", "populate.foreign-resource-404")
def test_foreign_store_in_a_write_is_404(target, api, store, writes):
    foreign = need(target.settings.foreign_store, "KLIKIT_FOREIGN_STORE", "a store of another business")
    r = api.call("publishMenu", {"stores": [store.as_json(), foreign.as_json()], "providerIDs": [1]})
    expect.error(api, r, "resource_not_found", "tenancy.foreign-body-store-404")


@pytest.mark.behaviour("tenancy.foreign-section-404")
def test_foreign_section_is_404(target, api, client_for, writes):
    cred = need(
        target.settings.foreign_credential,
        "KLIKIT_FOREIGN_CREDENTIAL",
        "key:secret of a credential of another business",
    )
    foreign = client_for(cred, "KLIKIT_FOREIGN")
    sections = expect.ok(foreign, foreign.call("getMenu"), "getmenu.business-mode")["menu"]["sections"]
    if not sections:
        pytest.skip("the business of KLIKIT_FOREIGN_CREDENTIAL has no section to probe")
    sid = sections[0].get("id")
    before = member(sections[0], "visibilities")
    r = api.call("setSectionVisibilities", {"visibilities": {"1": False, "99": True}}, sectionID=sid)
    expect.error(api, r, "resource_not_found", "tenancy.foreign-section-404")
    after = next(
        s
        for s in expect.ok(foreign, foreign.call("getMenu"), "getmenu.business-mode")["menu"]["sections"]
        if s.get("id") == sid
    )
    if member(after, "visibilities") != before:
        raise Violation(
            "another business's section was changed",
            behaviour="tenancy.foreign-section-404",
            received=member(after, "visibilities"),
            documented=before,
        )


@pytest.mark.behaviour("idempotency.key-required-on-writes", "codes.vocabulary")
def test_write_without_key(api, target, writes):
    title = f"{target.run_id} no-key {uuid.uuid4().hex[:6]}"
    r = api.call("createSection", {"title": {"en": title}}, key=None)
    if 200 <= r.status_code < 300:
        target.observe_reading("idempotency.key-required-on-writes", "concepts")
        if target.reading == "reference":
            raise Violation(
                "a write without Idempotency-Key was executed",
                behaviour="idempotency.key-required-on-writes",
                received=f"HTTP {r.status_code}",
                documented="400 request_missing_idempotency_key",
                request_id=expect.request_id(r),
                reproduction=api.last.curl() if api.last else None,
            )
        return
    target.observe_reading("idempotency.key-required-on-writes", "reference")
    if target.reading == "reference":
        expect.error(api, r, "request_missing_idempotency_key", "idempotency.key-required-on-writes")
    if count_titled(api, title):
        raise Violation(
            "a rejected write created a section",
            behaviour="idempotency.key-required-on-writes",
            received=title,
            documented="nothing written",
        )


@pytest.mark.behaviour("idempotency.key-over-64-invalid", "idempotency.key-max-64")
def test_key_length(api, target, writes):
    title = f"{target.run_id} long-key {uuid.uuid4().hex[:6]}"
    with expect.settled(api):
        expect.error(
            api,
            api.call("createSection", {"title": {"en": title}}, key="k" * 65),
            "request_invalid",
            "idempotency.key-over-64-invalid",
        )
        if count_titled(api, title):
            raise expect.mismatch(
                api,
                "a write with an over-long key was executed",
                "idempotency.key-over-64-invalid",
                title,
                "nothing written",
            )
    expect.ok(
        api,
        api.call("createSection", {"title": {"en": title}}, key=uuid.uuid4().hex + uuid.uuid4().hex),
        "idempotency.key-max-64",
    )
    if profiles.exhaustive():
        expect.ok(
            api,
            api.call("createSection", {"title": {"en": title + " 1"}}, key=uuid.uuid4().hex[:1]),
            "idempotency.key-max-64",
        )


@pytest.mark.behaviour("idempotency.replay-same-response", "idempotency.replay-no-second-write")
def test_replay(api, target, writes):
    title = f"{target.run_id} replay {uuid.uuid4().hex[:6]}"
    key = str(uuid.uuid4())
    first = api.call("createSection", {"title": {"en": title}}, key=key)
    data = expect.ok(api, first, "section.create-returns-id")
    second = api.call("createSection", {"title": {"en": title}}, key=key)
    again = expect.ok(api, second, "idempotency.replay-same-response")
    if again != data or second.status_code != first.status_code:
        raise expect.mismatch(
            api,
            "replay did not return the original response",
            "idempotency.replay-same-response",
            {"status": second.status_code, "data": again},
            {"status": first.status_code, "data": data},
        )
    with expect.settled(api):
        if expect.request_id(second) != expect.request_id(first):
            raise expect.mismatch(
                api,
                "replay carries another request_id",
                first_known("idempotency.replay-same-request-id", "idempotency.replay-same-response"),
                expect.request_id(second),
                expect.request_id(first),
            )
    n = count_titled(api, title)
    if n != 1:
        raise Violation(
            "a replay wrote again",
            behaviour="idempotency.replay-no-second-write",
            received=f"{n} sections titled {title!r}",
            documented="exactly 1",
        )


@pytest.mark.behaviour("idempotency.conflict-different-body", "codes.idempotency-conflict")
def test_conflict(api, target, writes):
    title = f"{target.run_id} conflict {uuid.uuid4().hex[:6]}"
    key = str(uuid.uuid4())
    expect.ok(api, api.call("createSection", {"title": {"en": title}}, key=key), "section.create-returns-id")
    r = api.call("createSection", {"title": {"en": title + " changed"}}, key=key)
    expect.contested(
        api,
        r,
        "codes.idempotency-conflict",
        {"reference": "state_idempotency_conflict", "concepts": "state_idempotency_conflict"},
    )
    if count_titled(api, title + " changed"):
        raise Violation(
            "a conflicting request was executed",
            behaviour="idempotency.conflict-different-body",
            received="section created",
            documented="409, nothing written",
        )


@pytest.mark.behaviour("idempotency.in-flight-conflict", "idempotency.replay-no-second-write")
def test_concurrent_duplicates_write_once(target, writes):
    """Duplicates fired at once, up to IN_FLIGHT_ROUNDS times: each round writes once; a 409 must say in-flight.

    A target fast enough to finish each write before its duplicate arrives never
    shows the in-flight 409: after the last round that is reported "not observed".
    """
    conflict = contract.errors().code_for("state_idempotency_conflict", target.reading)
    # the embedded stand-in answers on loopback in well under a millisecond: more rounds cost little there
    n, rounds = 8, profiles.IN_FLIGHT_ROUNDS[profiles.current()] * (10 if target.is_standin else 1)
    clients = [target.client() for _ in range(n)]
    try:
        for _ in range(rounds):
            title = f"{target.run_id} concurrent {uuid.uuid4().hex[:6]}"
            key = str(uuid.uuid4())
            barrier = threading.Barrier(n)

            def one(client, title=title, key=key, barrier=barrier):
                barrier.wait()
                return client.call("createSection", {"title": {"en": title}}, key=key)

            with ThreadPoolExecutor(n) as pool:
                responses = list(pool.map(one, clients))
            bad = [
                r
                for r in responses
                if not (
                    expect.success(r)
                    or (r.status_code == conflict.status and r.json()["error"]["code"] == conflict.code)
                )
            ]
            if bad:
                target.settle(
                    Violation(
                        "a concurrent duplicate got neither the replay nor the in-flight 409",
                        behaviour="idempotency.in-flight-conflict",
                        received=f"HTTP {bad[0].status_code}: {bad[0].text[:200]}",
                        documented=f"2xx replay or {conflict.status} {conflict.code}",
                    )
                )
            written = count_titled(clients[0], title)
            if written != 1:
                raise Violation(
                    "concurrent duplicates wrote more than once",
                    behaviour="idempotency.replay-no-second-write",
                    received=f"{written} sections",
                    documented="exactly 1",
                )
            if any(r.status_code == conflict.status for r in responses):
                return
    finally:
        for c in clients:
            c.close()
    pytest.skip(
        f"not observed: in {rounds} round(s) of {n} concurrent duplicates each write finished before its duplicate "
        "arrived (no in-flight 409 to judge); each round wrote once"
    )


@pytest.mark.behaviour("idempotency.scoped-per-credential")
def test_keys_scoped_per_credential(target, api, client_for, writes):
    second = client_for(
        need(
            target.settings.second_credential,
            "KLIKIT_SECOND_CREDENTIAL",
            "another full-scope credential of the same business",
        ),
        "KLIKIT_SECOND",
    )
    key = str(uuid.uuid4())
    title = f"{target.run_id} scoped {uuid.uuid4().hex[:6]}"
    a = expect.ok(api, api.call("createSection", {"title": {"en": title}}, key=key), "section.create-returns-id")
    b = expect.ok(
        second,
        second.call("createSection", {"title": {"en": title + " b"}}, key=key),
        "idempotency.scoped-per-credential",
    )
    if a == b:
        raise Violation(
            "the second credential got the first one's response",
            behaviour="idempotency.scoped-per-credential",
            received=b,
            documented="an independent write",
        )


@pytest.mark.behaviour("idempotency.reads-ignore-key")
def test_reads_ignore_key(api):
    for _ in range(2):
        expect.ok(api, api.call("getMenu", headers={"Idempotency-Key": "read-key"}), "idempotency.reads-ignore-key")


@pytest.mark.behaviour("ratelimit.429-envelope-retry-after", "ratelimit.retry-after-seconds")
def test_burst_gets_an_enveloped_429(target, client_for):
    """A burst of writes, then of reads: every 429 of either kind carries the envelope and Retry-After.

    The writes are invalid (a title of the wrong type: 400 under every reading),
    so nothing is written; the client checks every 429 it meets itself.
    """
    if not (target.is_standin or target.settings.allow_burst):
        pytest.skip("set KLIKIT_ALLOW_BURST=1 to exceed the rate limit on purpose")
    cred = target.settings.burst_credential
    seen = []
    # KLIKIT_ALLOW_BURST is the explicit opt-in to go past the harness's own KLIKIT_MAX_RPS cap here
    with target.client(
        cred.pair() if cred else AUTO, variable="KLIKIT_BURST_KEY:KLIKIT_BURST_SECRET", capped=False
    ) as client:
        bursts = [("read", lambda: client.call("getMenu"))]
        if not target.read_only:
            bursts.insert(0, ("write", lambda: client.call("createSection", {"title": 429})))
        for kind, send in bursts:
            for _ in range(200):
                r = send()
                if r.status_code == 429:
                    expect.error(client, r, "rate_limit_exceeded", "ratelimit.429-envelope-retry-after")
                    seen.append(kind)
                    break
    if not seen:
        pytest.skip("no 429 within 200 requests: the rate limit is above the harness's burst")
