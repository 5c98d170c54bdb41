"""Every enumerated value and boundary the contract defines, every shape of wrong credential,
every path's 405, and the rules that take time: checked the way a real target shows them.

Smoke checks both sides of each boundary and the values servers most often get
wrong; release and nightly enumerate the rest (``profiles.cases``), keeping a
smoke run within its request budget.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from klikit_harness import contract
from klikit_harness.checking import expect, profiles
from klikit_harness.suites.contract.conftest import (
    UNKNOWN_ID,
    entry,
    member,
    need,
    publish,
    push_body,
    section_in,
    served,
)

INT32_MAX = 2**31 - 1
MIB = 1024 * 1024


def _basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


# ---------------------------------------------------------------- routing


@pytest.mark.behaviour("routing.method-not-allowed-405")
def test_every_path_answers_a_wrong_method_405_with_allow(api):
    paths: dict[str, set[str]] = {}
    for op in contract.operations().values():
        paths.setdefault(api.target.path(op.operation_id, sectionID=UNKNOWN_ID), set()).add(op.method)
    for path, methods in sorted(paths.items()):
        wrong = "DELETE" if "GET" in methods else "GET"
        r = api.send(wrong, path)
        expect.error(api, r, "method_not_allowed", "routing.method-not-allowed-405")
        allow = {m.strip().upper() for m in r.headers.get("allow", "").split(",") if m.strip()}
        if not methods <= allow:
            raise expect.mismatch(
                api,
                f"405 on {path} whose Allow does not list {', '.join(sorted(methods))}",
                "routing.method-not-allowed-405",
                r.headers.get("allow"),
                f"Allow: {', '.join(sorted(methods))}",
            )


# ------------------------------------------------------------ credentials


def _other_secret(target) -> str | None:
    """The secret of another credential of the same business (any the configuration gives)."""
    for cred in (
        target.settings.second_credential,
        target.settings.limited_credential,
        target.settings.burst_credential,
    ):
        if cred is not None and cred.key != target.main[0]:
            return str(cred.pair()[1])
    return None


@pytest.mark.behaviour("auth.invalid-credential")
@pytest.mark.parametrize("shape", ["unknown-key", "secret-of-another-key", "truncated-secret", "empty-secret"])
def test_every_wrong_credential_is_401(target, client_for, shape):
    key, secret = target.main
    if shape == "unknown-key":
        key = f"kh-unknown-{uuid.uuid4().hex[:10]}"
    elif shape == "secret-of-another-key":
        secret = need(
            _other_secret(target),
            "KLIKIT_SECOND_CREDENTIAL",
            "another credential of the same business (its secret must not open the main key)",
        )
    elif shape == "truncated-secret":
        secret = secret[:-1]
    else:
        secret = ""
    anonymous = client_for(None, "NONE")
    r = anonymous.call("getMenu", headers=_basic(key, secret))
    if shape == "empty-secret":
        # an empty secret is a wrong secret, or a malformed header: either 401 is the contract's
        missing = contract.errors().code_for("auth_missing", target.reading).code
        if r.status_code == 401 and expect.envelope(anonymous, r)["error"]["code"] == missing:
            return
    expect.error(anonymous, r, "auth_invalid_credential", "auth.invalid-credential")


# -------------------------------------------------------------- schedules


def _section_with(api, name, times):
    return api.call("createSection", {"title": {"en": f"{api.target.run_id} {name}"}, "availableTimes": times})


def _slot(start, end):
    return {"disabled": False, "slots": [{"startTime": start, "endTime": end}]}


@pytest.mark.behaviour("schedule.shape")
def test_every_weekday_key_and_no_other(api, writes):
    every_day = {str(d): _slot(900 + d, 1000 + d) for d in range(7)}
    got = expect.ok(api, _section_with(api, "weekdays", every_day), "schedule.shape")
    sid = expect.members(got, "id")["id"]
    business = expect.ok(api, api.call("getMenu"), "getmenu.business-mode")["menu"]["sections"]
    served_times = member(section_in(business, sid), "availableTimes")
    if served_times != every_day:
        raise expect.mismatch(
            api, "a schedule of all seven weekdays did not come back as sent", "schedule.shape", served_times, every_day
        )
    for bad in profiles.cases(["7", "01"], ["-1", "8", "mon", "", " 1", "1.0"]):
        r = _section_with(api, f"weekday {bad!r}", {bad: _slot(900, 1000)})
        expect.error(api, r, "request_invalid", "schedule.shape")


@pytest.mark.behaviour("schedule.hhmm-range")
def test_hhmm_boundaries(api, writes):
    edges = {"0": _slot(0, 2359), "1": _slot(0, 59), "2": _slot(2300, 2359), "3": _slot(1059, 1100)}
    with expect.settled(api):
        expect.ok(api, _section_with(api, "hhmm edges", edges), "schedule.hhmm-range")
    for start, end in profiles.cases(
        [(900, 2400), (900, 960)], [(2400, 2459), (900, 2360), (-1, 900), (1260, 1300), (900, 10000)]
    ):
        with expect.settled(api):
            expect.error(
                api,
                _section_with(api, f"hhmm {start}-{end}", {"4": _slot(start, end)}),
                "request_invalid",
                "schedule.hhmm-range",
            )


# ----------------------------------------------------------------- input


@pytest.mark.behaviour("input.absurd-numbers")
def test_int32_limits(api, store, writes):
    sid = need(served(api, store), "KLIKIT_STORES", "a store whose menu has a section")[0].get("id")
    # the store has a menu: populate validates the body, then skips the store (nothing is written)
    for value, ok in profiles.cases([(INT32_MAX, True), (INT32_MAX + 1, False)], [(-1, False), (2**63, False)]):
        r = api.call("populateMenu", push_body([store], {sid: {**entry(1), "sequence": value}}))
        with expect.settled(api):
            if ok:
                expect.ok(api, r, "input.absurd-numbers")
            else:
                expect.error(api, r, "request_invalid", "input.absurd-numbers")


def _nested(depth):
    """A JSON value whose nesting, inside reset's top-level object, makes the body ``depth`` deep."""
    value: list[Any] = []
    for _ in range(depth - 2):
        value = [value]
    return value


@pytest.mark.behaviour("input.deep-nesting")
def test_nesting_limit_is_32(api, store):
    for depth, ok in ((32, True), (33, False)):
        # reset passes extra keys through, so only the depth can be wrong
        r = api.call("resetStoreOverrides", {"stores": [store.as_json()], "note": _nested(depth)})
        with expect.settled(api):
            if ok:
                expect.ok(api, r, "input.deep-nesting")
            else:
                expect.error(api, r, "request_invalid", "input.deep-nesting")


@pytest.mark.behaviour("input.body-too-large")
def test_body_limit_is_one_mib(api, store):
    frame = json.dumps({"stores": [store.as_json()], "note": ""}, separators=(",", ":")).encode()
    for size, ok in ((MIB, True), (MIB + 1, False)):
        body = frame[:-2] + b"x" * (size - len(frame)) + frame[-2:]
        assert len(body) == size
        r = api.call("resetStoreOverrides", content=body, headers={"Content-Type": "application/json"})
        if r.status_code >= 500:
            raise expect.mismatch(
                api, f"a {size}-byte body produced a 5xx", "input.body-too-large", f"HTTP {r.status_code}", "200 or 400"
            )
        with expect.settled(api):
            if ok:
                expect.ok(api, r, "input.body-too-large")
            else:
                expect.error(api, r, "request_invalid", "input.body-too-large")


# ------------------------------------------------------------------ time

#: how far ahead a near-future publish is scheduled, and how long past that time getMenu may lag
LEAD_S, GRACE_S = 2.0, 8.0


def _target_now(response) -> datetime:
    """The target's clock as its Date header tells it (1 s resolution), else ours."""
    try:
        return parsedate_to_datetime(response.headers["date"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


@pytest.mark.behaviour("publish.scheduled")
def test_a_near_future_publish_runs_on_time(api, store):
    publish(api, store)
    menu = served(api, store)
    if not menu:
        pytest.skip(f"the first KLIKIT_STORES store ({store}) serves no section to change")
    sid = menu[0].get("id")
    marker = {"1": True, str(100 + uuid.uuid4().int % 900): True}
    expect.ok(
        api,
        api.call("setSectionVisibilities", {"visibilities": marker, "zoneStores": [store.as_json()]}, sectionID=sid),
        "visibility.zone-stores-override-only",
    )
    # whole seconds (scheduledAt carries no fraction), at least LEAD_S ahead of the target's clock
    when = (_target_now(api.get_menu(store)) + timedelta(seconds=LEAD_S + 1)).replace(microsecond=0)
    body = {"stores": [store.as_json()], "providerIDs": [1], "scheduledAt": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    expect.ok(api, api.call("publishMenu", body), "publish.scheduled")
    early = member(section_in(served(api, store), sid), "visibilities")
    # Judged only when the read was surely answered before scheduledAt: a slow round trip (a loaded
    # runner, a far target) may reach the target after it, when the new snapshot is right.
    read_by = _target_now(api.get_menu(store))
    if early == marker and read_by < when:
        raise expect.mismatch(
            api,
            f"a publish scheduled {LEAD_S:g} s ahead ran at once",
            "publish.scheduled",
            early,
            "the old snapshot until scheduledAt",
        )
    deadline, now = time.monotonic() + LEAD_S + GRACE_S, early
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = member(section_in(served(api, store), sid), "visibilities")
        if now == marker:
            return
    raise expect.mismatch(
        api,
        f"a publish scheduled {LEAD_S:g} s ahead had not run {GRACE_S:g} s after its time",
        "publish.scheduled",
        now,
        marker,
    )
