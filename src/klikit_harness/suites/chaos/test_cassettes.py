"""Cassettes: recorded exchanges written as HAR 1.2, scrubbed of secrets, replayed offline."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from klikit_harness.partner.client import KlikitClient
from klikit_harness.partner.errors import NotFoundError, RequestInvalidError
from klikit_harness.standin import cassettes
from klikit_harness.standin.cassettes import (
    MASK,
    CassetteError,
    CassetteMiss,
    CassetteSimulator,
    Recorder,
    load,
)
from klikit_harness.standin.simulator import DEFAULT_BASE_URL, FaultContext, Simulator, fault
from klikit_harness.suites.chaos.world import WRITES, write

RUN_ID = "run-2024-cassette"
BASE = "https://staging.klikit.test/v1/partner"


def recorder_for(sim: Simulator, path: Path, **kwargs) -> Recorder:
    return Recorder(path, run_id=RUN_ID, secrets={sim.partner_key: sim.secret_key}, base_url=sim.base_url, **kwargs)


def recording_client(sim: Simulator, recorder: Recorder, nodeid: str = "tests/x.py::t", behaviours=("b.one",)):
    transport = recorder.transport(sim.transport(), nodeid=nodeid, behaviours=behaviours)
    return KlikitClient(sim.base_url, sim.partner_key, sim.secret_key, transport=transport, sleep=sim.sleep)


def outcome(thunk):
    """What a client call gave: its data, request_id, replayed flag and attempts — or the error."""
    try:
        response = thunk()
    except Exception as exc:  # the comparison is the point: both sides must raise the same
        return ("error", type(exc).__name__, getattr(exc, "code", None), getattr(exc, "request_id", None))
    return ("ok", response.data, response.request_id, response.replayed, response.attempts)


def session(client: KlikitClient) -> list[Any]:
    """A mixed exchange: writes, reads, a 4xx, a 404, a replayed write and retries through a 502."""
    results = [outcome(lambda op=op: write(client, op)) for op in WRITES]
    results.append(outcome(lambda: client.call("getMenu", params={"brand_id": 663, "branch_id": 1062})))
    results.append(outcome(lambda: client.call("getMenu")))
    results.append(outcome(lambda: client.call("createSection", {"title": {"en": 5}})))
    results.append(outcome(lambda: client.call("getMenu", params={"branch_id": 999999, "brand_id": 663})))
    results.append(outcome(lambda: write(client, "publishMenu", idempotency_key="fixed-key-1")))
    results.append(outcome(lambda: write(client, "publishMenu", idempotency_key="fixed-key-1")))
    return results


# ------------------------------------------------------------------ round trip


@pytest.mark.behaviour("client.secrets-never-leak")
def test_a_recorded_session_replays_identically_through_a_fresh_client(tmp_path):
    sim = Simulator(BASE)
    path = tmp_path / "session.har"
    recorder = recorder_for(sim, path)
    sim.fail("syncMenuToStores", "downstream_unavailable", times=2)  # retries: identical requests in order
    with recording_client(sim, recorder) as client:
        recorded = session(client)
    assert recorder.close() == path

    cassette = load(path)
    assert len(cassette) == len(sim.calls) == len(recorded) + 2
    assert cassette.run_id == RUN_ID and cassette.base_url == BASE
    assert {e.nodeid for e in cassette} == {"tests/x.py::t"} and all(e.behaviours == ("b.one",) for e in cassette)
    assert [e.status for e in cassette] == [c.status for c in sim.calls]

    # a fresh client with other credentials, new Idempotency-Keys, served by the cassette alone
    with cassettes.replay(path) as replay:
        assert isinstance(replay, CassetteSimulator) and replay.base_url == BASE
        with KlikitClient(BASE, "pk_partner_team", "sk_partner_team_secret", sleep=replay.sleep) as fresh:
            replayed = session(fresh)
    assert replayed == recorded
    assert replay.unmatched == []
    assert replay.replayed == list(range(len(cassette)))  # every entry answered once, in order

    def seen(calls):
        return [(c.operation_id, c.method, c.path, sorted(c.query), c.status, c.request_id, c.error) for c in calls]

    assert seen(replay.calls) == seen(sim.calls)
    assert any(r[0] == "error" and r[1] == RequestInvalidError.__name__ for r in replayed)
    assert any(r[0] == "error" and r[1] == NotFoundError.__name__ for r in replayed)


def test_the_package_face_keeps_simulator_from_cassette_as_the_documented_entry():
    """``klikit_harness.Simulator.from_cassette`` (docs/chaos.md) is ``cassettes.replay`` behind the face."""
    import klikit_harness
    from klikit_harness import simulator as face

    assert klikit_harness.Simulator is face.Simulator and issubclass(face.Simulator, Simulator)
    with klikit_harness.Simulator.from_cassette(EXAMPLE, base_url=BASE) as replayed:
        assert isinstance(replayed, CassetteSimulator) and replayed.cassette.path == EXAMPLE
        assert replayed.base_url == BASE


def test_the_cassette_is_har_1_2_with_the_run_and_test_ids(tmp_path):
    sim = Simulator()
    recorder = recorder_for(sim, tmp_path / "c.har")
    with recording_client(sim, recorder, nodeid="tests/a.py::test_b[x]", behaviours=("x.y", "z.w")) as client:
        write(client, "createSection")
        client.call("getMenu", params={"brand_id": 663, "branch_id": 1062})
    document = json.loads(recorder.close().read_text())
    log = document["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "klikit-harness"
    assert RUN_ID in log["comment"] and log["_klikit"] == {"run_id": RUN_ID, "base_url": DEFAULT_BASE_URL}
    post, get = log["entries"]
    for entry in (post, get):
        assert {"startedDateTime", "time", "request", "response", "cache", "timings"} <= set(entry)
        assert entry["_klikit"] == {"run_id": RUN_ID, "nodeid": "tests/a.py::test_b[x]", "behaviours": ["x.y", "z.w"]}
        assert {"method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize"} <= set(
            entry["request"]
        )
        assert {
            "status",
            "statusText",
            "httpVersion",
            "cookies",
            "headers",
            "content",
            "redirectURL",
            "headersSize",
            "bodySize",
        } <= set(entry["response"])
        assert {"size", "mimeType", "text"} <= set(entry["response"]["content"])
    assert post["request"]["postData"]["mimeType"] == "application/json"
    assert json.loads(post["request"]["postData"]["text"]) == WRITES["createSection"][0]
    assert (post["response"]["status"], post["response"]["statusText"]) == (200, "OK")
    assert sorted((q["name"], q["value"]) for q in get["request"]["queryString"]) == [
        ("branch_id", "1062"),
        ("brand_id", "663"),
    ]


def test_closing_writes_atomically_and_only_once(tmp_path):
    path = tmp_path / "nested" / "c.har"
    recorder = Recorder(path, run_id=RUN_ID)
    assert not path.exists()  # nothing until close()
    recorder.add("GET", f"{BASE}/menus", {}, b"", 200, {"content-type": "application/json"}, b"{}", nodeid="n")
    recorder.close()
    assert recorder.close() == path
    assert [p.name for p in path.parent.iterdir()] == ["c.har"]  # no temporary file left behind
    with pytest.raises(RuntimeError, match="already written"):
        recorder.add("GET", f"{BASE}/menus", {}, b"", 200, {}, b"{}", nodeid="n")


def test_recording_from_many_threads_keeps_every_exchange(tmp_path):
    recorder = Recorder(tmp_path / "c.har", run_id=RUN_ID, base_url=BASE)

    def work(n: int) -> None:
        for i in range(50):
            body = json.dumps({"thread": n, "i": i}).encode()
            recorder.add("POST", f"{BASE}/menus/sync", {}, body, 200, {}, b'{"data":{}}', nodeid=f"t{n}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cassette = load(recorder.close())
    bodies = {(json.loads(e.request_body)["thread"], json.loads(e.request_body)["i"]) for e in cassette}
    assert len(cassette) == 400 and len(bodies) == 400


# ---------------------------------------------------------------------- secrets

CANARY_SECRET = "sk+canary/Pa ss=&wörd%42"
OTHER_SECRET = "whsec_canary_webhook_9d8e"


@fault("echo_credentials", reaches_core=False)
def _echo_credentials(ctx: FaultContext) -> httpx.Response:
    """A server that echoes the Authorization header and everything it was sent."""
    auth = ctx.request.headers["authorization"]
    token = auth.split(" ", 1)[1]
    secret = base64.b64decode(token).decode().split(":", 1)[1]
    echoed = {
        "request_id": "req_echo",
        "data": {
            "auth": auth,
            "secret": secret,
            "url_encoded": [quote(secret, safe=""), quote_plus(secret), quote(token, safe="")],
            "webhook": OTHER_SECRET,
            "sent": ctx.request.content.decode(),
            "url": str(ctx.request.url),
        },
    }
    headers = {
        "content-type": "application/json",
        "x-echo-auth": auth,
        "x-echo-secret": quote(secret, safe=""),
        "x-webhook": OTHER_SECRET,
    }
    return httpx.Response(200, headers=headers, content=json.dumps(echoed).encode(), request=ctx.request)


def forbidden_forms(partner_key: str, *secrets: str) -> list[str]:
    forms = []
    for secret in secrets:
        token = base64.b64encode(f"{partner_key}:{secret}".encode()).decode()
        for value in (secret, token):
            forms += [value, quote(value, safe=""), quote_plus(value), quote(value), json.dumps(value)[1:-1]]
            forms.append(quote(value, safe="").lower())
    return sorted({f for f in forms if len(f) >= 4})


@pytest.mark.behaviour("client.secrets-never-leak")
def test_no_configured_secret_reaches_the_cassette_even_when_the_server_echoes_it(tmp_path):
    sim = Simulator()
    sim.rotate_secret(new_secret=CANARY_SECRET)
    path = tmp_path / "canary.har"
    recorder = Recorder(path, run_id=RUN_ID, secrets={sim.partner_key: CANARY_SECRET, "webhook": OTHER_SECRET})
    sim.inject("createSection", "echo_credentials", times=1)
    with recording_client(sim, recorder) as client:
        # the secret in the request body, and in the URL (raw and URL-encoded)
        client.call("createSection", {"title": {"en": f"note {CANARY_SECRET} {OTHER_SECRET}"}})
        http = httpx.Client(transport=recorder.transport(sim.transport(), nodeid="n"))
        http.get(
            f"{sim.base_url}/menus",
            params={"brand_id": 663, "branch_id": 1062, "sig": CANARY_SECRET},
            auth=(sim.partner_key, CANARY_SECRET),
        )
        http.close()
    raw = recorder.close().read_text(encoding="utf-8")

    leaks = [form for form in forbidden_forms(sim.partner_key, CANARY_SECRET, OTHER_SECRET) if form in raw]
    assert leaks == [], f"secret forms reached the cassette: {len(leaks)}"
    assert raw.lower().count(quote(CANARY_SECRET, safe="").lower()) == 0
    echo, menu = load(path)
    assert dict(echo.request_headers)["authorization"] == "Basic [scrubbed]"
    assert dict(menu.request_headers)["authorization"] == "Basic [scrubbed]"
    assert dict(echo.response_headers)["x-echo-auth"] == "Basic [scrubbed]"
    assert dict(echo.response_headers)["x-echo-secret"] == MASK
    assert dict(echo.response_headers)["x-webhook"] == MASK
    data = json.loads(echo.response_body)["data"]
    assert data["secret"] == MASK and data["url_encoded"] == [MASK, MASK, MASK] and data["webhook"] == MASK
    assert json.loads(echo.request_body) == {"title": {"en": f"note {MASK} {MASK}"}}
    assert "sig=" + quote(MASK, safe="") in menu.url or "sig=" + MASK in menu.url


@pytest.mark.behaviour("client.secrets-never-leak")
def test_the_credential_of_the_request_is_scrubbed_even_when_not_configured(tmp_path):
    sim = Simulator()
    recorder = Recorder(tmp_path / "c.har", run_id=RUN_ID)  # no secrets configured
    sim.inject("createSection", "echo_credentials")
    with recording_client(sim, recorder) as client:
        client.call("createSection", {"title": {"en": "x"}})
    raw = recorder.close().read_text()
    assert [f for f in forbidden_forms(sim.partner_key, sim.secret_key) if f in raw] == []


def test_a_secret_too_short_to_scrub_is_refused(tmp_path):
    with pytest.raises(ValueError, match="shorter than 4"):
        Recorder(tmp_path / "c.har", run_id=RUN_ID, secrets=["abc"])


def test_a_request_with_a_secret_in_its_body_still_matches(tmp_path):
    """Record with one secret in the body; replay with another: both are masked alike."""
    sim = Simulator()
    path = tmp_path / "c.har"
    recorder = recorder_for(sim, path)
    with recording_client(sim, recorder) as client:
        recorded = client.call("createSection", {"title": {"en": f"made with {sim.secret_key}"}})
        query = client.call("getMenu", params={"brand_id": 663, "branch_id": 1062, "token": sim.secret_key})
    recorder.close()
    with cassettes.replay(path) as replay:
        theirs = "sk_partner_team_other"
        with KlikitClient(replay.base_url, "pk_partner_team", theirs, sleep=replay.sleep) as fresh:
            answer = fresh.call("createSection", {"title": {"en": f"made with {theirs}"}})
            again = fresh.call("getMenu", params={"brand_id": 663, "branch_id": 1062, "token": theirs})
    assert (answer.data, answer.request_id) == (recorded.data, recorded.request_id)
    assert (again.data, again.request_id) == (query.data, query.request_id)
    assert replay.unmatched == []


# ---------------------------------------------------------------------- matching


def tiny_cassette(tmp_path: Path, *exchanges: tuple[str, str, bytes, int, bytes], base_url: str = BASE) -> Path:
    recorder = Recorder(tmp_path / "tiny.har", run_id=RUN_ID, base_url=base_url)
    headers = {"authorization": "Basic cGs6c2tfcmVjb3JkZWQ=", "content-type": "application/json"}
    for method, url, body, status, answer in exchanges:
        recorder.add(method, url, headers, body, status, {"content-type": "application/json"}, answer, nodeid="n")
    return recorder.close()


def test_matching_ignores_key_order_query_order_and_authorization(tmp_path):
    path = tiny_cassette(
        tmp_path,
        (
            "POST",
            f"{BASE}/menus/sync?a=1&b=2&a=0",
            b'{"stores": [{"brandID": 1, "branchID": 2}], "sections": {}}',
            200,
            b'{"request_id":"r1","data":{}}',
        ),
    )
    with cassettes.replay(path) as replay:
        response = httpx.post(
            f"{BASE}/menus/sync?b=2&a=0&a=1",
            content=b'{"sections":{},"stores":[{"branchID":2,"brandID":1}]}',
            headers={"authorization": "Bearer something-else", "idempotency-key": "new"},
        )
    assert response.status_code == 200 and response.json()["request_id"] == "r1"
    assert replay.unmatched == []


def test_a_different_body_value_does_not_match(tmp_path):
    path = tiny_cassette(tmp_path, ("POST", f"{BASE}/menus/sync", b'{"a": 1}', 200, b'{"request_id":"r1","data":{}}'))
    with cassettes.replay(path) as replay, pytest.raises(CassetteMiss):
        httpx.post(f"{BASE}/menus/sync", content=b'{"a": 1.0}')
    assert len(replay.unmatched) == 1


def test_identical_requests_get_the_recorded_answers_in_order_then_the_last_again(tmp_path):
    url = f"{BASE}/menus/publish"
    body = b'{"stores":[]}'
    path = tiny_cassette(
        tmp_path,
        ("POST", url, body, 429, b'{"request_id":"r1","error":{"code":"rate_limit_exceeded"}}'),
        ("POST", url, body, 502, b'{"request_id":"r2","error":{"code":"downstream_unavailable"}}'),
        ("POST", url, body, 200, b'{"request_id":"r3","data":{}}'),
    )
    with cassettes.replay(path):
        statuses = [httpx.post(url, content=body).status_code for _ in range(5)]
    assert statuses == [429, 502, 200, 200, 200]


def test_a_staging_cassette_replays_against_any_base_url(tmp_path):
    path = tiny_cassette(tmp_path, ("GET", f"{BASE}/menus?brand_id=1", b"", 200, b'{"request_id":"r1","data":{}}'))
    elsewhere = "http://127.0.0.1:9/api/partner-v1"
    with cassettes.replay(path, base_url=elsewhere) as replay:
        assert httpx.get(f"{elsewhere}/menus", params={"brand_id": 1}).json()["request_id"] == "r1"
        with pytest.raises(CassetteMiss):  # the recorded base path itself is not served any more
            httpx.get(f"{elsewhere}/v1/partner/menus", params={"brand_id": 1})
    assert len(replay.unmatched) == 1


def test_replay_answers_with_the_recorded_status_headers_and_body(tmp_path):
    recorder = Recorder(tmp_path / "c.har", run_id=RUN_ID, base_url=BASE)
    recorder.add(
        "POST",
        f"{BASE}/menus/publish",
        {},
        b"{}",
        200,
        [("content-type", "application/json"), ("idempotent-replayed", "true"), ("content-length", "999")],
        b'{"request_id":"r9","data":{"success":1,"failed":0}}',
        nodeid="n",
    )
    with cassettes.replay(recorder.close()):
        response = httpx.post(f"{BASE}/menus/publish", content=b"{}")
    assert response.status_code == 200
    assert response.headers["idempotent-replayed"] == "true"
    assert response.headers["content-length"] == str(len(response.content))  # recomputed for the stored body
    assert response.json() == {"request_id": "r9", "data": {"success": 1, "failed": 0}}


def test_chaos_steps_still_apply_on_top_of_a_cassette(tmp_path):
    path = tiny_cassette(tmp_path, ("GET", f"{BASE}/menus", b"", 200, b'{"request_id":"r1","data":{}}'))
    replay = cassettes.replay(path)
    replay.fail("getMenu", "internal")
    with KlikitClient(BASE, "pk", "sk_whatever", transport=replay.transport(), sleep=replay.sleep) as client:
        assert client.call("getMenu").request_id == "r1"
    assert [c.status for c in replay.calls] == [500, 200]


# -------------------------------------------------------------------------- misses


def test_a_miss_names_the_request_and_the_nearest_recorded_candidates(tmp_path):
    path = tiny_cassette(
        tmp_path,
        (
            "POST",
            f"{BASE}/menus/sync",
            b'{"stores":[{"brandID":663,"branchID":1062}]}',
            200,
            b'{"request_id":"r1","data":{}}',
        ),
        ("GET", f"{BASE}/menus?brand_id=663&branch_id=1062", b"", 200, b'{"request_id":"r2","data":{}}'),
        ("POST", f"{BASE}/menus/publish", b'{"providerIDs":[1]}', 200, b'{"request_id":"r3","data":{}}'),
    )
    with cassettes.replay(path) as replay, pytest.raises(CassetteMiss) as missed:
        httpx.post(f"{BASE}/menus/sync?dry=1", content=b'{"stores":[{"brandID":663,"branchID":1063}]}')
    text = str(missed.value)
    assert "no recorded answer for POST /menus/sync?dry=1" in text
    assert '"branchID":1063' in text  # body excerpt
    assert "entry 0: POST /menus/sync (differs in query, body)" in text
    assert text.index("entry 0") < text.index("entry 2")  # nearest first
    assert "re-record" in text and str(path) in text
    [miss] = replay.unmatched
    assert miss.candidates[0][0] == 0
    with pytest.raises(AssertionError, match="1 request"):
        replay.assert_all_matched()


def test_a_near_miss_is_answered_from_the_nearest_recording_when_not_strict(tmp_path):
    path = tiny_cassette(
        tmp_path,
        ("POST", f"{BASE}/menus/sync", b'{"n":1}', 200, b'{"request_id":"r1","data":{}}'),
        ("POST", f"{BASE}/menus/sync", b'{"n":2,"x":[1,2,3]}', 200, b'{"request_id":"r2","data":{}}'),
    )
    with cassettes.replay(path, strict=False) as replay:
        assert httpx.post(f"{BASE}/menus/sync", content=b'{"n":2,"x":[1,2,4]}').json()["request_id"] == "r2"
        with pytest.raises(CassetteMiss):  # no recording with that method and path at all
            httpx.get(f"{BASE}/menus/sections")
    assert [index for _, index in replay.approximate] == [1]
    assert len(replay.unmatched) == 1


def test_a_miss_never_shows_a_secret(tmp_path):
    path = tiny_cassette(tmp_path, ("POST", f"{BASE}/menus/sync", b"{}", 200, b'{"request_id":"r1","data":{}}'))
    secret = "sk_partner_team_private"
    with cassettes.replay(path), pytest.raises(CassetteMiss) as missed:
        httpx.post(f"{BASE}/menus/sync", content=json.dumps({"note": secret}).encode(), auth=("pk", secret))
    assert secret not in str(missed.value) and MASK in str(missed.value)


# ------------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all", r"is not JSON .*expected a HAR 1.2 document"),
        ("[1, 2]", r"has no 'log' object \(got list\); expected a HAR 1.2 document"),
        ('{"entries": []}', r"has no 'log' object \(got keys \['entries'\]\)"),
        ('{"log": {"version": "1.1", "entries": []}}', r"HAR version '1.1'; expected a HAR 1.2 document"),
        ('{"log": {"version": "1.2", "entries": {}}}', r"log.entries is dict, expected a list"),
        (
            '{"log": {"version": "1.2", "entries": [{"response": {}}]}}',
            r"log.entries\[0\].request is missing, expected dict",
        ),
        (
            '{"log": {"version": "1.2", "entries": [{"request": {"method": "GET", "url": "https://x/v1/partner/menus"}, "response": {"status": "200", "content": {}}}]}}',
            r"log.entries\[0\].response.status is str, expected int",
        ),
    ],
)
def test_a_file_that_is_not_har_1_2_says_what_was_expected(tmp_path, content, message):
    path = tmp_path / "bad.har"
    path.write_text(content)
    with pytest.raises(CassetteError, match=message):
        load(path)
    with pytest.raises(CassetteError, match=message):
        cassettes.replay(path)


def test_a_missing_cassette_says_how_to_record_one(tmp_path):
    with pytest.raises(CassetteError, match=r"does not exist; record one with `klikit-harness run --record DIR`"):
        load(tmp_path / "nope.har")


def test_a_har_from_another_tool_replays_with_an_inferred_base_url(tmp_path):
    document = {
        "log": {
            "version": "1.2",
            "creator": {"name": "devtools", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2024-01-01T00:00:00Z",
                    "time": 5,
                    "request": {
                        "method": "get",
                        "url": "https://api.example.test/v1/partner/menus?brand_id=1&branch_id=2",
                        "httpVersion": "HTTP/2",
                        "cookies": [],
                        "headers": [],
                        "queryString": [],
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "httpVersion": "HTTP/2",
                        "cookies": [],
                        "headers": [],
                        "content": {
                            "size": 2,
                            "mimeType": "application/json",
                            "text": base64.b64encode(b'{"request_id":"r","data":{}}').decode(),
                            "encoding": "base64",
                        },
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": 2,
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": 5, "receive": 0},
                }
            ],
        }
    }
    path = tmp_path / "devtools.har"
    path.write_text(json.dumps(document))
    cassette = load(path)
    assert cassette.base_url == "https://api.example.test/v1/partner" and cassette.run_id is None
    with cassettes.replay(path, base_url=DEFAULT_BASE_URL):
        assert httpx.get(f"{DEFAULT_BASE_URL}/menus?branch_id=2&brand_id=1").json()["request_id"] == "r"


# ------------------------------------------------------------------ pytest marker


EXAMPLE = Path(__file__).parent / "cassettes" / "publish-flow.har"


@pytest.mark.klikit_cassette("cassettes/publish-flow.har")
def test_the_marker_makes_the_fixture_replay_a_cassette(klikit_simulator):
    """The committed example: getMenu, createSection, then publish through one 502 retry."""
    sim = klikit_simulator
    assert isinstance(sim, CassetteSimulator) and sim.cassette.path == EXAMPLE
    with KlikitClient(sim.base_url, "pk_partner_team", "sk_partner_team_secret", sleep=sim.sleep) as client:
        assert client.get_menu(663, 1062) is not None
        assert client.create_section({"title": {"en": "Lunch"}, "sequence": 4}) == {"id": 2002}
        assert client.publish({"stores": [{"brandID": 663, "branchID": 1062}], "providerIDs": [1]}) == {
            "success": 1,
            "failed": 0,
        }
    assert [c.status for c in sim.calls] == [200, 200, 502, 200]
    assert sim.unmatched == []


@pytest.mark.behaviour("client.secrets-never-leak")
def test_the_committed_example_holds_no_seed_secret():
    sim = Simulator()
    raw = EXAMPLE.read_text()
    assert [f for f in forbidden_forms(sim.partner_key, sim.secret_key) if f in raw] == []
    assert {e.nodeid for e in load(EXAMPLE)} == {"chaos/test_cassettes.py::test_publish_flow"}
