"""The reference client's surface: one method per operation, its policy, its refusals."""

from __future__ import annotations

import json

import httpx
import pytest

from klikit_harness import KlikitClient, RetryPolicy, contract
from klikit_harness.partner.errors import DownstreamUnavailableError, RateLimitedError
from klikit_harness.standin.simulator import DEFAULT_BASE_URL, Simulator
from klikit_harness.suites.chaos.world import POLICY, WRITES, make_client, write

#: typed method -> (operationId, positional arguments before the body)
METHODS = {
    "create_section": ("createSection", ()),
    "set_section_visibilities": ("setSectionVisibilities", (1022,)),
    "enable_sections": ("enableSections", ()),
    "populate": ("populateMenu", ()),
    "sync": ("syncMenuToStores", ()),
    "publish": ("publishMenu", ()),
    "reset": ("resetStoreOverrides", ()),
}


@pytest.mark.behaviour("idempotency.key-required-on-writes")
@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_write_method_sends_its_operation(sim, client, method):
    operation_id, args = METHODS[method]
    body, _ = WRITES[operation_id]
    data = getattr(client, method)(*args, body)

    (call,) = sim.calls
    op = contract.operations()[operation_id]
    assert call.operation_id == operation_id
    assert call.method == op.method
    assert call.json() == body
    assert call.headers["content-type"] == "application/json"
    assert call.idempotency_key
    assert isinstance(data, dict)


@pytest.mark.behaviour("getmenu.store-mode", "getmenu.business-mode", "idempotency.reads-ignore-key")
def test_get_menu_in_both_modes(sim, client):
    store = client.get_menu(brand_id=663, branch_id=1062)
    business = client.get_menu()
    assert store["menu"]["branchInfo"]["branchID"] == 1062
    assert "businessInfo" in business["menu"]
    assert [c.query for c in sim.calls] == [(("brand_id", "663"), ("branch_id", "1062")), ()]
    assert all(c.idempotency_key is None for c in sim.calls)


@pytest.mark.behaviour("client.retries-only-retryable")
def test_reads_are_retried_too(sim, client):
    sim.fail("getMenu", "downstream_unavailable")
    assert client.get_menu()["menu"]
    assert len(sim.calls) == 2


def test_the_policy_comes_from_errors_yaml():
    raw = contract.errors().retry_policy
    assert RetryPolicy.from_catalogue() == RetryPolicy(
        initial_delay=raw["initial_delay_s"], max_delay=raw["max_delay_s"], max_attempts=int(raw["max_attempts"])
    )
    assert RetryPolicy(0.5, 30.0, 5) == POLICY
    assert [POLICY.window(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_attempts": 0}, "max_attempts"), ({"initial_delay": 5, "max_delay": 1}, "initial_delay")],
)
def test_a_bad_policy_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


@pytest.mark.behaviour("client.backoff-bounded")
def test_a_custom_policy_bounds_attempts(sim):
    with make_client(sim, retry=RetryPolicy(initial_delay=0.1, max_delay=0.2, max_attempts=2)) as client:
        sim.fail("publishMenu", "internal", times=3)
        with pytest.raises(Exception, match="internal"):
            write(client, "publishMenu")
    assert len(sim.calls) == 2
    assert len(sim.slept) == 1 and sim.slept[0] <= 0.1


@pytest.mark.behaviour("client.backoff-bounded", "ratelimit.429-envelope-retry-after")
@pytest.mark.parametrize(("retry_after", "expected"), [(7, 7.0), (30, 30.0), (100, POLICY.max_delay)])
def test_retry_after_is_honoured_up_to_the_cap(sim, client, retry_after, expected):
    sim.fail("publishMenu", "rate_limit_exceeded", retry_after=retry_after)
    write(client, "publishMenu")
    assert sim.slept == [expected]


@pytest.mark.behaviour("client.backoff-bounded")
def test_retry_after_on_another_retryable_code_is_honoured(sim, client):
    sim.fail("publishMenu", "downstream_unavailable", retry_after=3)
    write(client, "publishMenu")
    assert sim.slept == [3.0]


@pytest.mark.behaviour("client.backoff-bounded")
def test_backoff_windows_double_from_half_a_second(sim, client):
    sim.fail("syncMenuToStores", "internal", times=POLICY.max_attempts - 1)
    write(client, "syncMenuToStores")
    assert len(sim.slept) == POLICY.max_attempts - 1
    for retry, wait in enumerate(sim.slept, start=1):
        assert 0 <= wait <= POLICY.window(retry)


@pytest.mark.behaviour("ratelimit.429-envelope-retry-after")
def test_a_rate_limit_error_carries_retry_after(sim, client):
    sim.fail("publishMenu", "rate_limit_exceeded", times=POLICY.max_attempts, retry_after=4)
    with pytest.raises(RateLimitedError) as raised:
        write(client, "publishMenu")
    assert raised.value.retry_after == 4
    assert raised.value.response_headers["retry-after"] == "4"
    assert "after 4 s" in str(raised.value)


def test_operation_paths_can_be_overridden():
    paths = {"populateMenu": "/menus/populate-v2", "resetStoreOverrides": "/menus/overrides/reset"}
    sim = Simulator(paths=paths)
    with make_client(sim, paths=paths) as client:
        write(client, "populateMenu")
        write(client, "resetStoreOverrides")
    assert [c.path for c in sim.calls] == ["/v1/partner/menus/populate-v2", "/v1/partner/menus/overrides/reset"]
    assert [c.operation_id for c in sim.calls] == ["populateMenu", "resetStoreOverrides"]
    assert sim.writes == 2


def test_a_base_url_with_another_prefix_reaches_the_same_api():
    sim = Simulator("http://gateway.test/partner-api")
    with make_client(sim) as client:
        assert write(client, "publishMenu").data == {"success": 1, "failed": 0}
    assert sim.calls[0].path == "/partner-api/menus/publish"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.call("nopeMenu", {}), "unknown operation 'nopeMenu'"),
        (lambda c: c.call("setSectionVisibilities", {"visibilities": {}}), "needs path parameters"),
        (lambda c: c.call("getMenu", {"a": 1}), "takes no body"),
        (lambda c: c.call("getMenu", idempotency_key="k"), "reads take no Idempotency-Key"),
        (lambda c: c.call("publishMenu"), "needs a JSON object body"),
        (lambda c: c.publish({"x": float("nan")}), "Out of range float"),
    ],
)
def test_misuse_is_refused_before_anything_is_sent(sim, client, call, message):
    with pytest.raises(ValueError, match=message):
        call(client)
    assert sim.calls == []


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("api.klikit.io/v1/partner", "pk", "sk"), {}, "KLIKIT_BASE_URL"),
        ((DEFAULT_BASE_URL, "pk", ""), {}, "KLIKIT_SECRET_KEY"),
        ((DEFAULT_BASE_URL, "", "sk"), {}, "KLIKIT_PARTNER_KEY"),
        ((DEFAULT_BASE_URL, "pk", "sk"), {"paths": {"populate": "/x"}}, "unknown operation 'populate'"),
        ((DEFAULT_BASE_URL, "pk", "sk"), {"paths": {"populateMenu": "x"}}, "must start with '/'"),
    ],
)
def test_a_misconfigured_client_says_what_to_set(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        KlikitClient(*args, **kwargs)


@pytest.mark.behaviour("client.retries-only-retryable")
def test_the_pytest_fixture_patches_httpx_for_the_simulator(klikit_simulator):
    sim = klikit_simulator
    with KlikitClient(sim.base_url, sim.partner_key, sim.secret_key, sleep=sim.sleep) as client:
        sim.fail("publishMenu", "downstream_unavailable")
        assert client.publish(WRITES["publishMenu"][0]) == {"success": 1, "failed": 0}
    assert [c.status for c in sim.calls] == [502, 200]
    # plain httpx sees the simulator too, and its answers are contract answers
    response = httpx.get(f"{sim.base_url}/menus", auth=(sim.partner_key, sim.secret_key))
    assert response.status_code == 200 and json.loads(response.content)["request_id"]


def test_requests_outside_the_simulator_are_not_answered(klikit_simulator):
    with pytest.raises(AssertionError, match="not mocked"):
        httpx.get("https://elsewhere.test/v1/partner/menus")


@pytest.mark.behaviour("client.retries-only-retryable")
def test_a_downstream_error_after_the_last_attempt_says_what_to_do(sim, client):
    sim.fail("publishMenu", "downstream_unavailable", times=POLICY.max_attempts)
    with pytest.raises(DownstreamUnavailableError) as raised:
        write(client, "publishMenu")
    text = str(raised.value)
    assert "publishMenu: 502 downstream_unavailable" in text
    assert f"attempts: {POLICY.max_attempts}" in text
    assert "what to do:" in text
