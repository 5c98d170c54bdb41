"""Request validation on its own: the route table, each rule, the order of the rules, and the readings
the variants and defects pass in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klikit_harness.contract.limits import INT32_MAX, MAX_BODY_BYTES
from klikit_harness.core import defects as d
from klikit_harness.core import validation as val
from klikit_harness.core import variants as v
from klikit_harness.core.defects import DefectSet
from klikit_harness.core.validation import (
    Accepted,
    ApiRequest,
    Crashed,
    MethodNotAllowed,
    Rejected,
    Routed,
    RouteTable,
    UnknownPath,
)
from klikit_harness.core.variants import VariantSet

ROUTES = RouteTable()
BASE = "/v1/partner"
STORE = {"brandID": 663, "branchID": 1062}
PUBLISH = {"stores": [STORE], "providerIDs": [1]}
TIMES = {"0": {"disabled": False, "slots": [{"startTime": 900, "endTime": 1200}]}}


def request(
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    key: str | None = "k-1",
    query: tuple[tuple[str, str], ...] = (),
    content_type: str = "application/json",
) -> ApiRequest:
    headers = {"content-type": content_type}
    if key is not None:
        headers["idempotency-key"] = key
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return ApiRequest(method, BASE + path, query, headers, data)


def check(req: ApiRequest, **kw: Any) -> val.Outcome:
    return val.validate(req, ROUTES, **kw)


def rejected(outcome: val.Outcome, stage: str, behaviour: str, field: str | None = None) -> Rejected:
    assert isinstance(outcome, Rejected), outcome
    assert (outcome.stage, outcome.behaviour) == (stage, behaviour), outcome
    if field is not None:
        assert outcome.fields[0] == field and outcome.details["field"] == field, outcome
    return outcome


# ------------------------------------------------------------------ routing


@pytest.mark.behaviour("routing.unknown-path-404", "routing.method-not-allowed-405")
def test_route_table():
    routed = ROUTES.match("PATCH", BASE + "/menus/sections/enable")
    assert isinstance(routed, Routed) and routed.operation.operation_id == "enableSections"  # not a sectionID
    routed = ROUTES.match("patch", BASE + "/menus/sections/77/visibilities")
    assert isinstance(routed, Routed) and routed.params == {"sectionID": "77"}
    assert ROUTES.match("DELETE", BASE + "/menus") == MethodNotAllowed("/menus", ("GET",))
    assert isinstance(ROUTES.match("GET", BASE + "/menus/nowhere"), UnknownPath)
    assert isinstance(ROUTES.match("GET", BASE + "/menus\n"), UnknownPath)
    moved = RouteTable("/api/", {"populateMenu": "/menus/populate-v2"})
    assert moved.operation_id("POST", "/api/menus/populate-v2") == "populateMenu"
    assert moved.operation_id("POST", "/api/menus/populate") is None


@pytest.mark.behaviour("routing.method-not-allowed-405")
def test_route_rejections_and_their_readings():
    wrong = rejected(check(request("DELETE", "/menus")), "route", "routing.method-not-allowed-405")
    assert wrong.meaning == "method_not_allowed" and wrong.headers == {"allow": "GET"}
    write_path = check(request("GET", "/menus/publish"), defects=DefectSet([d.ALLOW_MISSING_ON_WRITE_PATHS]))
    assert rejected(write_path, "route", "routing.method-not-allowed-405").headers == {}
    assert (
        rejected(
            check(request("DELETE", "/menus"), variants=VariantSet([v.NO_405])),
            "route",
            "routing.method-not-allowed-405",
        ).meaning
        == "resource_not_found"
    )
    assert rejected(check(request("GET", "/x")), "route", "routing.unknown-path-404").meaning == "resource_not_found"


# -------------------------------------------------------------- Idempotency-Key


@pytest.mark.behaviour("idempotency.key-required-on-writes", "idempotency.key-over-64-invalid")
@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, "idempotency.key-required-on-writes"),
        ("", "idempotency.key-required-on-writes"),
        (" \t ", "idempotency.key-required-on-writes"),
        ("k" * 65, "idempotency.key-over-64-invalid"),
        (" " + "k" * 64 + " ", None),
        ("k", None),
    ],
)
def test_idempotency_key(key, expected):
    outcome = check(request("POST", "/menus/publish", PUBLISH, key=key))
    if expected is None:
        assert isinstance(outcome, Accepted) and outcome.key == (key or "").strip()
    else:
        rejected(outcome, "key", expected, "Idempotency-Key")


@pytest.mark.behaviour("idempotency.key-required-on-writes")
def test_a_missing_key_is_allowed_by_the_concepts_reading_and_the_defect():
    assert check(request("POST", "/menus/publish", PUBLISH, key=None), reading="concepts") == check(
        request("POST", "/menus/publish", PUBLISH, key=None), defects=DefectSet([d.MISSING_KEY_ACCEPTED])
    )
    assert isinstance(check(request("POST", "/menus/publish", PUBLISH, key=None), reading="concepts"), Accepted)


# ------------------------------------------------------------------- the body


@pytest.mark.behaviour(
    "input.body-too-large",
    "input.wrong-content-type",
    "input.malformed-json",
    "input.deep-nesting",
    "input.non-object-body",
)
@pytest.mark.parametrize(
    ("raw", "content_type", "behaviour", "field"),
    [
        (b"{" + b" " * MAX_BODY_BYTES + b"}", "application/json", "input.body-too-large", "body"),
        (b"{}", "text/plain", "input.wrong-content-type", "Content-Type"),
        (b"  ", "application/json", "input.malformed-json", "body"),
        (b"{not json", "application/json", "input.malformed-json", "body"),
        (b'{"a": NaN}', "application/json", "input.malformed-json", "body"),
        (b'{"a": 1e400}', "application/json", "input.malformed-json", "body"),
        (b"[" * 33 + b"]" * 33, "application/json", "input.deep-nesting", "body"),
        (b"[" * 5000 + b"]" * 5000, "application/json", "input.deep-nesting", "body"),
        (b"[1]", "application/json", "input.non-object-body", "body"),
    ],
)
def test_body_decoding(raw, content_type, behaviour, field):
    rejected(check(request("POST", "/menus/publish", raw=raw, content_type=content_type)), "body", behaviour, field)


@pytest.mark.behaviour("input.deep-nesting", "input.malformed-json")
def test_body_readings_of_variants_and_defects():
    deep = {"stores": [STORE], "providerIDs": [1], "x": json.loads("[" * 40 + "]" * 40)}
    assert check(request("POST", "/menus/publish", deep)).behaviour == "input.deep-nesting"  # type: ignore[union-attr]
    past_depth = check(request("POST", "/menus/publish", deep), variants=VariantSet([v.DEPTH_64]))
    assert rejected(past_depth, "input", "input.unknown-fields", "x").stage == "input"
    crash = check(request("POST", "/menus/publish", raw=b"{oops"), defects=DefectSet([d.HTML_500_MALFORMED]))
    assert isinstance(crash, Crashed) and crash.stage == "body"


# ------------------------------------------------------------ schema, nulls


@pytest.mark.behaviour("input.strict-integers")
def test_integral_floats_are_rejected_unless_a_reading_accepts_them():
    body = {"stores": [{"brandID": 663.0, "branchID": 1062}], "providerIDs": [1]}
    rejected(check(request("POST", "/menus/publish", body)), "input", "input.strict-integers", "stores.0.brandID")
    accepted = check(request("POST", "/menus/publish", body), variants=VariantSet([v.FLOAT_INTEGERS_ACCEPTED]))
    assert isinstance(accepted, Accepted) and accepted.body["stores"][0]["brandID"] == 663
    assert type(accepted.parsed["stores"][0]["brandID"]) is float  # the fingerprint reads the body as sent


@pytest.mark.behaviour("input.unknown-fields")
def test_unknown_fields():
    body = {**PUBLISH, "colour": "red"}
    rejected(check(request("POST", "/menus/publish", body)), "input", "input.unknown-fields", "colour")
    ignored = check(request("POST", "/menus/publish", body), variants=VariantSet([v.UNKNOWN_FIELDS_IGNORED]))
    assert isinstance(ignored, Accepted) and "colour" not in ignored.body and "colour" in ignored.parsed


@pytest.mark.behaviour("input.null-means-absent")
def test_nulls_mean_absent_unless_the_variant_rejects_them():
    body = {**PUBLISH, "scheduledAt": None}
    assert isinstance(check(request("POST", "/menus/publish", body)), Accepted)
    rejected(
        check(request("POST", "/menus/publish", body), variants=VariantSet([v.NULL_REJECTED])),
        "input",
        "input.null-means-absent",
        "scheduledAt",
    )
    enable = {"ids": [1022], "isEnabled": None}
    assert isinstance(
        check(request("PATCH", "/menus/sections/enable", enable), variants=VariantSet([v.NULL_REJECTED])), Accepted
    )


@pytest.mark.behaviour("section.create-title-required", "populate.sequence-required", "populate.times-optional")
def test_required_fields_and_the_variants_that_change_them():
    rejected(check(request("POST", "/menus/sections", {})), "input", "section.create-title-required", "title")
    assert isinstance(
        check(request("POST", "/menus/sections", {}), variants=VariantSet([v.CREATE_NOTHING_REQUIRED])), Accepted
    )
    push = {"stores": [STORE], "sections": {"1022": {}}}
    assert isinstance(check(request("POST", "/menus/populate", push)), Rejected)
    assert isinstance(
        check(request("POST", "/menus/populate", push), variants=VariantSet([v.SEQUENCE_OPTIONAL])), Accepted
    )
    no_times = {"stores": [STORE], "sections": {"1022": {"sequence": 1}}}
    assert isinstance(check(request("POST", "/menus/populate", no_times)), Accepted)
    rejected(
        check(request("POST", "/menus/populate", no_times), variants=VariantSet([v.TIMES_REQUIRED])),
        "input",
        "populate.times-optional",
        "sections.1022.availableTimes",
    )


@pytest.mark.behaviour("schedule.hhmm-range")
def test_input_defects_misread_the_body():
    body = {
        "title": {"en": "x"},
        "availableTimes": {"0": {"disabled": False, "slots": [{"startTime": 900, "endTime": 2400}]}},
    }
    rejected(check(request("POST", "/menus/sections", body)), "input", "schedule.hhmm-range")
    misread = check(request("POST", "/menus/sections", body), defects=DefectSet([d.HHMM_2400_ACCEPTED]))
    assert isinstance(misread, Accepted) and misread.body["availableTimes"]["0"]["slots"][0]["endTime"] == 2359
    assert misread.parsed["availableTimes"]["0"]["slots"][0]["endTime"] == 2400


# ---------------------------------------------------------------- query, ids


@pytest.mark.behaviour("input.query-id-leading-zeros", "input.query-id-zero-invalid")
@given(st.integers(1, INT32_MAX), st.integers(0, 3))
def test_positive_int32_ids_are_read_with_or_without_leading_zeros(value, zeros):
    raw = "0" * zeros + str(value)
    assert val.read_id(raw) == (value if len(raw) <= 10 else None)
    assert val.read_id(raw, VariantSet([v.LEADING_ZERO_IDS_400])) == (None if zeros else value)


@pytest.mark.behaviour("input.query-id-zero-invalid", "input.wrong-types")
@pytest.mark.parametrize("raw", ["0", "00", "-1", "x", "²", "١٠٢٢", str(INT32_MAX + 1), "1" * 5000, ""])
def test_non_ids(raw):
    assert val.read_id(raw) is None
    assert val.read_id(raw, VariantSet([v.ZERO_IDS_404])) == (0 if raw in {"0", "00"} else None)


@pytest.mark.behaviour("getmenu.one-param-400", "input.query-id-zero-invalid", "input.query-id-leading-zeros")
def test_get_menu_query():
    get = request("GET", "/menus", key=None, query=(("brand_id", "0663"), ("branch_id", "1062")))
    accepted = check(get)
    assert isinstance(accepted, Accepted) and accepted.ids == {"brand_id": 663, "branch_id": 1062}
    assert accepted.relies_on == ("input.query-id-leading-zeros",)
    one = rejected(
        check(request("GET", "/menus", query=(("brand_id", "663"),))), "query", "getmenu.one-param-400", "branch_id"
    )
    assert set(one.fields) == {"brand_id", "branch_id"}
    rejected(
        check(request("GET", "/menus", query=(("brand_id", "0"), ("branch_id", "1")))),
        "query",
        "input.query-id-zero-invalid",
        "brand_id",
    )
    zero = check(
        request("GET", "/menus", query=(("brand_id", "0"), ("branch_id", "1"))), variants=VariantSet([v.ZERO_IDS_404])
    )
    assert isinstance(zero, Accepted) and zero.ids["brand_id"] == 0


@pytest.mark.behaviour("routing.unknown-query-ignored")
def test_unknown_query_parameters():
    colour = request("GET", "/menus", query=(("colour", "red"),))
    accepted = check(colour)
    assert isinstance(accepted, Accepted) and accepted.relies_on == ("routing.unknown-query-ignored",)
    rejected(
        check(colour, variants=VariantSet([v.UNKNOWN_QUERY_400])), "query", "routing.unknown-query-ignored", "colour"
    )


@pytest.mark.behaviour("input.wrong-types")
def test_a_path_section_id_is_read_after_the_body():
    path = "/menus/sections/abc/visibilities"
    rejected(check(request("PATCH", path, {"visibilities": {"1": True}})), "input", "input.wrong-types", "sectionID")
    rejected(check(request("PATCH", path, {})), "input", "input.missing-required")  # the schema first


# ---------------------------------------------------------- business rules


@pytest.mark.behaviour("schedule.start-before-end", "section.blackout-dates-format", "input.id-keyed-map-keys")
def test_business_rules_run_last_and_name_every_problem():
    bad = {"0": {"disabled": False, "slots": [{"startTime": 1200, "endTime": 1200}]}}
    create = {"title": {"en": "x"}, "availableTimes": bad, "blackoutDates": ["2025-02-30", "2025-02-28"]}
    out = rejected(
        check(request("POST", "/menus/sections", create)),
        "rules",
        "schedule.start-before-end",
        "availableTimes.0.slots[0]",
    )
    assert out.fields == ("availableTimes.0.slots[0]", "blackoutDates[0]")
    assert out.behaviours == ("schedule.start-before-end", "section.blackout-dates-format")
    push = {
        "stores": [STORE],
        "sections": {str(INT32_MAX + 1): {"sequence": 1}, "1022": {"sequence": 1, "availableTimes": TIMES}},
    }
    rejected(
        check(request("POST", "/menus/sync", push)), "rules", "input.id-keyed-map-keys", f"sections.{INT32_MAX + 1}"
    )
    assert isinstance(
        check(request("POST", "/menus/sync", {**push, "sections": {"1022": push["sections"]["1022"]}})), Accepted
    )


@pytest.mark.behaviour("publish.scheduled")
@pytest.mark.parametrize(
    ("value", "readable"),
    [
        (None, True),
        ("0001-01-01T00:00:00Z", True),
        ("2030-01-01T10:00:00+07:00", True),
        ("2030-01-01t10:00:00.123456789z", True),
        ("", False),
        ("tomorrow", False),
        ("2026-01-01T10:00:00", False),
        ("2030-02-30T10:00:00Z", False),
        ("0001-01-01", False),
        ("2030-01-01T24:00:00Z", False),
        (5, False),
    ],
)
def test_scheduled_at(value, readable):
    assert (val.scheduled_at_problem(value) is None) == readable
    outcome = check(request("POST", "/menus/publish", {**PUBLISH, "scheduledAt": value}))
    if readable:
        assert isinstance(outcome, Accepted)
    else:
        assert isinstance(outcome, Rejected) and outcome.fields == ("scheduledAt",)


@pytest.mark.behaviour("publish.scheduled")
@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_publish_time_is_the_instant_any_offset_spells(moment, minutes):
    offset = timedelta(minutes=minutes)
    sign, whole = ("-" if minutes < 0 else "+"), abs(minutes)
    text = (moment.replace(microsecond=0) + offset).strftime(
        "%Y-%m-%dT%H:%M:%S"
    ) + f"{sign}{whole // 60:02}:{whole % 60:02}"
    assert val.publish_time(text, 0.0) == moment.replace(microsecond=0, tzinfo=UTC).timestamp()
    assert val.publish_time(None, 42.0) == 42.0


@pytest.mark.behaviour("section.blackout-dates-format")
@given(st.dates())
def test_calendar_dates(day):
    text = f"{day.year:04}-{day.month:02}-{day.day:02}"
    assert val.is_calendar_date(text) and not val.is_calendar_date(text.replace("-", ""))
    assert not val.is_calendar_date(day) and not val.is_calendar_date(f"{day.year}-{day.month}-{day.day}x")


# ------------------------------------------------------------------- order


@pytest.mark.behaviour("envelope.validation-before-tenancy")
def test_the_first_broken_stage_wins():
    everything_wrong = request("POST", "/menus/sections", raw=b"[1]", key="k" * 65)
    assert check(everything_wrong).stage == "key"  # type: ignore[union-attr]
    floats_and_bad_schedule = {
        "title": {"en": "x"},
        "sequence": 1.0,
        "availableTimes": {"0": {"disabled": False, "slots": [{"startTime": 1200, "endTime": 900}]}},
    }
    assert check(request("POST", "/menus/sections", floats_and_bad_schedule)).stage == "input"  # type: ignore[union-attr]


@pytest.mark.behaviour("input.wrong-types", "input.unknown-fields")
@given(
    st.dictionaries(
        st.text(max_size=5),
        st.none() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        max_size=4,
    )
)
def test_validation_never_raises_and_never_changes_what_it_was_given(body):
    raw = json.dumps(body).encode()
    for op_path, method in (("/menus/sections", "POST"), ("/menus/populate", "POST"), ("/menus/reset", "POST")):
        for readings in ({}, {"variants": VariantSet([v.UNKNOWN_FIELDS_IGNORED, v.FLOAT_INTEGERS_ACCEPTED])}):
            outcome = check(request(method, op_path, raw=raw), **readings)
            assert isinstance(outcome, Accepted | Rejected)
            assert outcome.parsed == json.loads(raw)


# ------------------------------------------------------------- every fault


def faults_of(req: ApiRequest, **kw: Any) -> list[tuple[str, str, str]]:
    """(stage, first behaviour, first field) of each fault."""
    found = val.faults(req, ROUTES, **kw)
    assert all(isinstance(f, Rejected) for f in found)
    return [(f.stage, f.behaviour, f.fields[0] if f.fields else "") for f in found if isinstance(f, Rejected)]


VIS = "/menus/sections/{}/visibilities"


@pytest.mark.behaviour(
    "idempotency.key-required-on-writes",
    "input.malformed-json",
    "input.wrong-types",
    "input.missing-required",
    "getmenu.one-param-400",
    "schedule.start-before-end",
    "input.query-id-leading-zeros",
)
@pytest.mark.parametrize(
    ("req", "kw", "expected"),
    [
        # a key fault does not stop the body; an unparseable body does not stop the path id
        (
            request("PATCH", VIS.format("abc"), raw=b"{oops", key=None),
            {},
            [
                ("key", "idempotency.key-required-on-writes", "Idempotency-Key"),
                ("body", "input.malformed-json", "body"),
                ("input", "input.wrong-types", "sectionID"),
            ],
        ),
        # a schema fault does not stop the path id
        (
            request("PATCH", VIS.format("0"), {"zoneStores": [STORE]}),
            {},
            [
                ("input", "input.missing-required", "visibilities"),
                ("input", "input.query-id-zero-invalid", "sectionID"),
            ],
        ),
        # leading zeros: a fault only under the reading that refuses them
        (
            request("PATCH", VIS.format("0663"), {"zoneStores": [STORE]}),
            {},
            [("input", "input.missing-required", "visibilities")],
        ),
        (
            request("PATCH", VIS.format("0663"), {"zoneStores": [STORE]}),
            {"variants": VariantSet([v.LEADING_ZERO_IDS_400])},
            [
                ("input", "input.missing-required", "visibilities"),
                ("input", "input.query-id-leading-zeros", "sectionID"),
            ],
        ),
        # each bad query id, and the pair rule on what was sent
        (
            request("GET", "/menus", key=None, query=(("brand_id", "x"), ("branch_id", "0"))),
            {},
            [("query", "input.wrong-types", "brand_id"), ("query", "input.query-id-zero-invalid", "branch_id")],
        ),
        (
            request("GET", "/menus", key=None, query=(("brand_id", "x"),)),
            {},
            [("query", "input.wrong-types", "brand_id"), ("query", "getmenu.one-param-400", "branch_id")],
        ),
        # a schema-valid body with a broken rule, and a key fault before it
        (
            request(
                "POST",
                "/menus/sections",
                {
                    "title": {"en": "x"},
                    "availableTimes": {"0": {"disabled": False, "slots": [{"startTime": 1200, "endTime": 900}]}},
                },
                key="k" * 65,
            ),
            {},
            [
                ("key", "idempotency.key-over-64-invalid", "Idempotency-Key"),
                ("rules", "schedule.start-before-end", "availableTimes.0.slots[0]"),
            ],
        ),
        # a schema-invalid body stops the business rules (they read a valid body)
        (
            request(
                "POST",
                "/menus/sections",
                {
                    "title": 5,
                    "availableTimes": {"0": {"disabled": False, "slots": [{"startTime": 1200, "endTime": 900}]}},
                },
            ),
            {},
            [("input", "input.wrong-types", "title")],
        ),
        (request("POST", "/menus/publish", PUBLISH), {}, []),
    ],
    ids=[
        "key-body-path",
        "schema-path",
        "leading-zero-reference",
        "leading-zero-variant",
        "two-query-ids",
        "bad-id-and-pair",
        "key-and-rule",
        "schema-stops-rules",
        "valid",
    ],
)
def test_every_fault_is_found(req, kw, expected):
    assert faults_of(req, **kw) == expected


@pytest.mark.behaviour("input.null-means-absent", "populate.times-optional")
def test_the_readings_of_variants_add_their_faults_and_keep_the_others():
    body = {
        "stores": [STORE],
        "sections": {"1022": {"sequence": 1.0, "availableTimes": None}},
        "fieldIncludeOnSync": None,
    }
    assert faults_of(request("POST", "/menus/populate", body)) == [
        ("input", "input.strict-integers", "sections.1022.sequence")
    ]
    assert faults_of(request("POST", "/menus/populate", body), variants=VariantSet([v.NULL_REJECTED])) == [
        ("input", "input.null-means-absent", "fieldIncludeOnSync"),
        ("input", "input.strict-integers", "sections.1022.sequence"),
    ]
    accepted_floats = VariantSet([v.FLOAT_INTEGERS_ACCEPTED, v.TIMES_REQUIRED])
    assert faults_of(request("POST", "/menus/populate", body), variants=accepted_floats) == [
        ("input", "populate.times-optional", "sections.1022.availableTimes")
    ]


@pytest.mark.behaviour("routing.unknown-path-404", "routing.method-not-allowed-405")
def test_a_route_fault_is_the_only_one():
    assert faults_of(request("POST", "/menus/nowhere", raw=b"{oops", key=None)) == [
        ("route", "routing.unknown-path-404", "path")
    ]
    assert [f.stage for f in val.faults(request("DELETE", "/menus/publish", raw=b"{", key=None), ROUTES)] == ["route"]


@pytest.mark.behaviour("input.malformed-json", "idempotency.key-required-on-writes")
def test_a_crash_ends_the_walk_and_is_answered_only_when_first():
    crashing = DefectSet([d.HTML_500_MALFORMED])
    no_key = request("PATCH", VIS.format("abc"), raw=b"{oops", key=None)
    found = val.faults(no_key, ROUTES, defects=crashing)
    assert [type(f).__name__ for f in found] == ["Rejected", "Crashed"]  # the path id is never read
    assert check(no_key, defects=crashing) == found[0]
    assert isinstance(check(request("PATCH", VIS.format("abc"), raw=b"{oops"), defects=crashing), Crashed)


READINGS: list[dict[str, Any]] = [
    {},
    {"reading": "concepts"},
    *({"variants": VariantSet([name])} for name in val.READING_VARIANTS),
]
PATHS = [
    "/menus/sections",
    "/menus/populate",
    "/menus/publish",
    "/menus/sections/enable",
    VIS.format("0663"),
    VIS.format("x"),
    VIS.format("1022"),
    "/menus",
]


@pytest.mark.behaviour("envelope.check-order")
@given(
    st.sampled_from(PATHS),
    st.sampled_from(["POST", "PATCH", "GET"]),
    st.one_of(
        st.none(),
        st.just(b"{oops"),
        st.dictionaries(
            st.sampled_from(
                [
                    "title",
                    "stores",
                    "sections",
                    "visibilities",
                    "ids",
                    "isEnabled",
                    "zoneStores",
                    "providerIDs",
                    "scheduledAt",
                    "colour",
                ]
            ),
            st.none()
            | st.integers(-1, 3)
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=3)
            | st.just([STORE])
            | st.just({"1022": {"sequence": 1}}),
            max_size=4,
        ).map(lambda body: json.dumps(body).encode()),
    ),
    st.sampled_from([None, "k-1", "k" * 65]),
    st.lists(
        st.tuples(st.sampled_from(["brand_id", "branch_id", "colour"]), st.sampled_from(["663", "0663", "0", "x"])),
        max_size=3,
    ),
    st.sampled_from(range(len(READINGS))),
)
def test_validate_answers_the_first_fault_and_last_fault_first_the_last(path, method, raw, key, query, which):
    req = request(method, path, raw=raw if raw is not None else b"", key=key, query=tuple(query))
    readings = READINGS[which]
    found = val.faults(req, ROUTES, **readings)
    outcome = check(req, **readings)
    if not found:
        assert isinstance(outcome, Accepted)
        return
    assert outcome == found[0]
    stages = [f.stage for f in found]
    order = ["route", "key", "body", "query", "input", "rules"]
    assert stages == sorted(stages, key=order.index)  # the reference order
    variants = VariantSet([*readings.get("variants", VariantSet()), v.LAST_FAULT_FIRST])
    last = check(req, **{**readings, "variants": variants})
    assert last == val.faults(req, ROUTES, **{**readings, "variants": variants})[-1]


def test_the_reading_variants_are_every_variant_validation_reads():
    import importlib
    import inspect
    import pkgutil
    import re

    modules = [val] + [importlib.import_module(f"{val.__name__}.{m.name}") for m in pkgutil.iter_modules(val.__path__)]
    source = "\n".join(inspect.getsource(module) for module in modules)
    read = {getattr(v, name) for name in re.findall(r"\bv\.([A-Z][A-Z0-9_]+)\b", source)}
    assert read - {v.LAST_FAULT_FIRST} == set(val.READING_VARIANTS), (
        "list every variant core/validation/ reads in READING_VARIANTS (the oracle walks each reading)"
    )
