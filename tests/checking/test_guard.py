"""The guard every request passes: read-only rule, store allowlist, stores shown unknown, invalid ids, pacing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from klikit_harness.checking.config import load_settings
from klikit_harness.checking.safety import Guard, NotSent, SlidingWindow, named_stores, rewrite_stores
from klikit_harness.checking.target import Target
from klikit_harness.standin.sandbox import serve_in_thread

MENUS = "/v1/partner/menus"
URL = "http://staging.example.test/v1/partner"


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:s3cret".encode()).decode()


def populate(*stores: Any) -> bytes:
    return json.dumps({"stores": list(stores), "sections": {"1": {"sequence": 1, "availableTimes": {}}}}).encode()


def guard(**kw: Any) -> Guard:
    return Guard(allowed=frozenset({(663, 1062)}), menu_path=MENUS, **kw)


def test_a_write_naming_a_store_outside_the_allowlist_is_not_sent() -> None:
    g = guard()
    with pytest.raises(NotSent, match=r"not sent \(safety\).*5:6.*KLIKIT_STORES") as info:
        g.admit(
            "POST",
            URL + "/menus/populate",
            populate({"brandID": 663, "branchID": 1062}, {"brandID": 5, "branchID": 6}),
            basic("pk"),
        )
    assert not isinstance(info.value, AssertionError)
    assert g.sent == 0 and g.not_sent == 1
    assert g.blocked[0].method == "POST" and "5:6" in g.blocked[0].reason
    assert "test_a_write_naming_a_store_outside_the_allowlist_is_not_sent" in g.blocked[0].test
    g.admit("POST", URL + "/menus/populate", populate({"brandID": 663, "branchID": 1062}), basic("pk"))
    assert g.sent == 1


@pytest.mark.parametrize(
    "body",
    [
        {"zoneStores": [{"brandID": 5, "branchID": 6}], "visibilities": {}},
        {"stores": [{"brandID": 5.0, "branchID": 6}], "providerIDs": [1]},  # 5.0 is 5 to a lenient server
        {"nested": {"deeper": [{"brandID": 5, "branchID": 6}]}},
    ],
    ids=["zoneStores", "integral-float", "nested"],
)
def test_every_way_of_naming_a_store_is_checked(body: dict[str, Any]) -> None:
    with pytest.raises(NotSent):
        guard().admit("PATCH", URL + "/menus/sections/enable", json.dumps(body).encode(), None)


def test_a_write_whose_query_names_a_store_is_checked_but_getmenu_is_a_read() -> None:
    g = guard()
    with pytest.raises(NotSent):
        g.admit("POST", URL + "/menus/reset?brand_id=5&branch_id=0006", b"{}", None)
    g.admit("GET", URL + "/menus?brand_id=5&branch_id=6", None, None)
    assert g.sent == 1


@pytest.mark.parametrize(
    "value",
    [-1, 0, 2**31, 1.5, "663", True, None, [5], float("nan")],
    ids=["negative", "zero", "above-int32", "fraction", "string", "bool", "null", "list", "nan"],
)
def test_invalid_ids_cannot_name_a_store_and_pass(value: Any) -> None:
    g = guard()
    g.admit(
        "POST",
        URL + "/menus/publish",
        json.dumps({"stores": [{"brandID": value, "branchID": 6}], "providerIDs": [1]}).encode(),
        None,
    )
    g.admit("POST", URL + "/menus/publish", b'{"stores": [{"brandID": 5, "branchID": 6}', None)  # not JSON
    assert g.sent == 2 and g.not_sent == 0


def test_a_store_a_getmenu_answered_404_to_becomes_writable_for_that_credential() -> None:
    g = guard()
    body = populate({"brandID": 5, "branchID": 6})
    with pytest.raises(NotSent):
        g.admit("POST", URL + "/menus/populate", body, basic("pk_main"))
    g.learn("GET", "http://staging.example.test/v1/partner/menus?brand_id=5&branch_id=6", 200, basic("pk_main"))
    g.learn("GET", "http://staging.example.test/v1/partner/menus?brand_id=5&branch_id=6", 404, basic("pk_other"))
    with pytest.raises(NotSent):  # a 200, or a 404 to another credential, shows nothing to this one
        g.admit("POST", URL + "/menus/populate", body, basic("pk_main"))
    g.learn("GET", "http://staging.example.test/v1/partner/menus?brand_id=5&branch_id=6", 404, basic("pk_main"))
    g.admit("POST", URL + "/menus/populate", body, basic("pk_main"))
    assert g.sent == 1


def test_read_only_refuses_every_write_even_without_stores() -> None:
    g = Guard(read_only=True, menu_path=MENUS)
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        with pytest.raises(NotSent, match="read-only"):
            g.admit(method, URL + "/menus/publish", b"{}", None)
    g.admit("GET", URL + "/menus", None, None)
    assert (g.sent, g.not_sent) == (1, 4)


def test_rewrite_keeps_invalid_ids_and_the_json_type() -> None:
    body = {
        "stores": [{"brandID": 5.0, "branchID": 6}, {"brandID": -1, "branchID": 6}],
        "zoneStores": [{"brandID": 7, "branchID": 8}],
    }
    rewrite_stores(body, lambda: {"brandID": 663, "branchID": 1062})
    assert body["stores"][0] == {"brandID": 663.0, "branchID": 1062}
    assert isinstance(body["stores"][0]["brandID"], float)
    assert body["stores"][1] == {"brandID": -1, "branchID": 6}
    assert body["zoneStores"] == [{"brandID": 663, "branchID": 1062}]
    assert named_stores(body) == [(663, 1062), (663, 1062)]


# ------------------------------------------------------------------ pacing


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def max_in_any_window(times: list[float], width: float = 1.0) -> int:
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + width) for i, t in enumerate(times))


@pytest.mark.parametrize("rps", [5, 2.5, 20])
def test_no_one_second_window_holds_more_than_the_cap(rps: float) -> None:
    clock = FakeClock()
    window = SlidingWindow(rps, clock=clock, sleep=clock.sleep)
    sent = []
    for i in range(100):
        clock.now += 0.013 * (i % 3)  # uneven arrivals
        sent.append(window.acquire())
    assert max_in_any_window(sent) == window.limit == -(-rps // 1)
    assert sent[-1] - sent[0] < 100 / window.limit * 1.1  # not slower than the cap needs


def test_uncapped_bursts_are_logged_and_capped_requests_wait_for_them() -> None:
    clock = FakeClock()
    window = SlidingWindow(5, clock=clock, sleep=clock.sleep)
    burst = [window.acquire(wait=False) for _ in range(30)]
    assert burst == [1000.0] * 30  # the deliberate burst is not held back
    after = window.acquire()
    assert after >= 1001.0  # ... but the next capped request waits until the burst left the window


# ------------------------------------------------------- a target over HTTP


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with serve_in_thread() as running:
        yield running


def real_target(sandbox: Any, **kw: Any) -> Target:
    env = {k.removeprefix("KLIKIT_").lower(): v for k, v in sandbox.env().items()}
    env.update(stores="663:1062", fresh_stores="")
    env.pop("foreign_store", None)
    return Target(sandbox.base_url, load_settings(None, **env), **kw)  # no service: judged as a real target


def test_read_only_target_refuses_writes_at_send_time(sandbox: Any) -> None:
    target = real_target(sandbox, read_only=True)
    writes = sandbox.service.world.writes
    with target.client() as api:
        assert api.call("getMenu").status_code == 200
        with pytest.raises(NotSent, match="read-only"):
            api.call("createSection", {"title": {"en": "never"}})
        with pytest.raises(NotSent, match="read-only"):
            api.call("publishMenu", {}, method="DELETE")
    assert sandbox.service.world.writes == writes
    assert target.requests_sent == 1 and len(target.not_sent) == 2
    assert all(e.method == "GET" for e in target.exchanges)  # refused requests are not recorded as exchanges


def test_a_store_shown_unknown_over_http_becomes_writable(sandbox: Any) -> None:
    target = real_target(sandbox)
    body = {"stores": [{"brandID": 663, "branchID": 1063}], "providerIDs": [1]}
    unknown = {"stores": [{"brandID": 4242, "branchID": 4242}], "providerIDs": [1]}
    with target.client() as api:
        with pytest.raises(NotSent):
            api.call("publishMenu", body)
        with pytest.raises(NotSent):
            api.call("publishMenu", unknown)
        assert api.get_menu({"brandID": 4242, "branchID": 4242}).status_code == 404
        assert api.call("publishMenu", unknown).status_code == 404  # sent: it cannot change anything
        assert api.get_menu({"brandID": 663, "branchID": 1063}).status_code == 200
        with pytest.raises(NotSent):
            api.call("publishMenu", body)  # a known store of this business stays off limits
    assert target.requests_sent == 3


def test_doctor_on_an_allowed_production_host_sends_no_write(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from klikit_harness.runner import doctor

    monkeypatch.setattr(doctor, "guard_production", lambda settings: True)  # as if KLIKIT_BASE_URL were production

    def probe(client: Any) -> Any:
        raise AssertionError("doctor sent a write probe on a read-only run")

    monkeypatch.setattr(doctor, "_probe_write", probe)
    env = {k.removeprefix("KLIKIT_").lower(): v for k, v in sandbox.env().items()}
    lines: list[str] = []
    writes = sandbox.service.world.writes
    code = doctor.diagnose(load_settings(None, **env), echo=lines.append)
    assert sandbox.service.world.writes == writes
    assert any("scope for menu writes" in line and "read-only" in line for line in lines), lines
    assert code == doctor.EXIT_OK, lines


def test_the_plain_cli_setup_and_cases_pass_the_guard(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`schemathesis run` with schemathesis.toml: the hooks' own requests are counted and paced, and a
    case that still names a store outside the allowlist is not sent."""
    import schemathesis

    from klikit_harness import contract
    from klikit_harness.checking import fuzz_hooks

    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KLIKIT_STORES", "663:1062")
    monkeypatch.setenv("KLIKIT_FRESH_STORES", "")
    monkeypatch.delenv("KLIKIT_FOREIGN_STORE", raising=False)
    settings = fuzz_hooks.settings_from_env()
    assert settings.guard is not None and settings.guard.allowed == frozenset({(663, 1062)})
    assert settings.guard.sent == 2, "business-mode getMenu and the run's own section"
    assert settings.own_sections, "the run's section was created through the guard"
    operation = schemathesis.openapi.from_path(contract.openapi_path())["/menus/publish"]["POST"]
    outside = operation.Case(body={"stores": [{"brandID": 663, "branchID": 1063}], "providerIDs": [1]})
    with pytest.raises(NotSent, match="663:1063"):
        fuzz_hooks.refused(settings.guard, outside, {})
    fuzz_hooks.refused(
        settings.guard, operation.Case(body={"stores": [{"brandID": 663, "branchID": 1062}], "providerIDs": [1]}), {}
    )
    fuzz_hooks.refused(
        settings.guard, operation.Case(body={"stores": [{"brandID": -1, "branchID": 1063}], "providerIDs": [1]}), {}
    )
