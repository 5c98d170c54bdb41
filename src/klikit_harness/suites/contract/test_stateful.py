"""A state machine that drives section writes, populate, sync, reset and publish against the target.

The model holds the business-level rows of the sections it created and, per
store, their attachments and overrides; after every publish it predicts the
store's served menu with the oracle (``core.menus``, ``core.schedules``) and
compares it with getMenu. Sections it did not create ("foreign" ones already
on a store) are never compared, but their served schedules take part in the
overlap predictions. It uses one writable store (which has a menu: populate
must skip it) and, on the embedded stand-in, one fresh store per example
(populate attaches).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import Phase
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from klikit_harness.checking import expect, profiles
from klikit_harness.checking import strategies as ks
from klikit_harness.checking.config import Store
from klikit_harness.checking.failures import Violation
from klikit_harness.core import menus, schedules
from klikit_harness.suites.contract.conftest import publish, served

COMPARED = ("sequence", "enabled", "visibilities", "availableTimes", "blackoutDates")
small_schedules = ks.schedules(max_days=2, max_slots=1)


class MenuMachine(RuleBasedStateMachine):
    sections = Bundle("sections")

    def __init__(self, target: Any, api: Any) -> None:
        super().__init__()
        self.target, self.api = target, api
        self.rows: dict[int, dict[str, Any]] = {}
        self.stores: list[Store] = []
        self.attached: dict[Store, dict[int, int]] = {}
        self.overrides: dict[tuple[Store, int], dict[str, Any]] = {}
        self.snapshot: dict[Store, dict[int, dict[str, Any]]] = {}
        self.foreign: dict[
            Store, dict[Any, Any] | None
        ] = {}  # served schedules of sections we did not create, by id as served

    @initialize()
    def pick_stores(self) -> None:
        self.stores = [self.target.settings.stores[0]]
        # Every example would use up a fresh store: only the stand-in, which mints
        # them, gives one; on a real target the dedicated first-time-push checks do.
        fresh = self.target.take_fresh_store() if self.target.is_standin else None
        if fresh is not None:
            self.stores.append(fresh)
        for store in self.stores:
            self.attached[store] = {}
            self.observe(store)

    # ------------------------------------------------------------------ model

    def observe(self, store: Store) -> None:
        publish(self.api, store)
        menu = served(self.api, store)
        foreign = [s for s in menu if s.get("id") not in self.rows]
        # a foreign section served without its schedule: its collisions cannot be predicted (no push then)
        known = all("availableTimes" in s for s in foreign)
        self.foreign[store] = {s.get("id"): s["availableTimes"] for s in foreign} if known else None
        self.snapshot[store] = {sid: self.render(store, sid) for sid in self.attached[store]}
        self.compare(store, menu)

    def has_menu(self, store: Store) -> bool:
        return bool(self.attached[store]) or bool(self.foreign[store])

    def render(self, store: Store, sid: int) -> dict[str, Any]:
        out = menus.render_section(
            self.rows[sid],
            sequence=self.attached[store][sid],
            overrides=self.overrides.get((store, sid), {}),
            store_mode=True,
        )
        return {k: out[k] for k in COMPARED}

    def compare(self, store: Store, menu: list[dict[str, Any]]) -> None:
        """The served nodes of our sections hold the predicted values of every compared member they carry.

        A member a node leaves out is judged on its own behaviour (``response.required-members``: the
        stand-in's choice to serve it), never on ``publish.rebuilds-snapshot``.
        """
        nodes = {s.get("id"): s for s in menu if s.get("id") in self.rows}
        missing = sorted({k for s in nodes.values() for k in COMPARED if k not in s})
        if missing:
            with expect.settled(self.api):
                raise expect.mismatch(
                    self.api,
                    f"section nodes served without {', '.join(missing)}",
                    "response.required-members",
                    missing,
                    list(COMPARED),
                )
        got = {sid: {k: s[k] for k in COMPARED if k in s} for sid, s in nodes.items()}
        want = {
            sid: {k: v for k, v in predicted.items() if k in nodes.get(sid, predicted)}
            for sid, predicted in self.snapshot[store].items()
        }
        if got != want:
            raise Violation(
                f"store {store} serves a menu the contract does not predict",
                behaviour="publish.rebuilds-snapshot",
                received=got,
                documented=want,
                request_id=self.api.last.request_id if self.api.last else None,
                reproduction=self.api.last.curl() if self.api.last else None,
            )

    def collides(
        self,
        store: Store,
        attached: dict[int, int],
        overrides: dict[tuple[Store, int], dict[str, Any]],
        explicit: dict[int, Any],
    ) -> bool:
        others: dict[int, Any] = dict(self.foreign[store] or {})
        for sid in attached:
            others[sid] = menus.effective_schedule(self.rows[sid], overrides.get((store, sid), {}))
        return any(
            schedules.collision(times, other_times) is not None
            for sid, times in explicit.items()
            for other, other_times in others.items()
            if other != sid
        )

    def stale_check(self) -> None:
        """After any write, every store still serves its last published snapshot."""
        for store in self.stores:
            self.compare(store, served(self.api, store))

    # ------------------------------------------------------------------ rules

    @initialize(target=sections, times=small_schedules)
    def first_section(self, times):
        return self.create_section(times, True, {"1": True}, [], 1)

    @initialize(target=sections, times=small_schedules)
    def second_section(self, times):
        return self.create_section(times, True, {"1": True, "6": False}, [], 2)

    @rule(
        target=sections,
        times=small_schedules,
        enabled=st.booleans(),
        visibilities=ks.visibilities(),
        blackout=ks.blackout_dates(),
        sequence=st.integers(1, 9),  # positive under every reading
    )
    def create_section(self, times, enabled, visibilities, blackout, sequence):
        body = {
            "title": {"en": f"{self.target.run_id} machine"},
            "isEnabled": enabled,
            "sequence": sequence,
            "visibilities": visibilities,
            "availableTimes": times,
            "blackoutDates": blackout,
        }
        sid = int(expect.ok(self.api, self.api.call("createSection", body), "section.create-returns-id")["id"])
        self.rows[sid] = {**body, "id": sid, "description": {}, "image": "", "isMealForOne": False}
        return sid

    @precondition(lambda self: self.foreign is not None and all(v is not None for v in self.foreign.values()))
    @rule(
        data=st.data(),
        operation=st.sampled_from(["populateMenu", "syncMenuToStores"]),
        chosen=st.lists(sections, min_size=1, max_size=3, unique=True),
    )
    def push(self, data, operation, chosen):
        store = data.draw(st.sampled_from(self.stores))
        entries = {
            sid: {
                "sequence": data.draw(st.integers(1, 9)),
                "availableTimes": data.draw(st.one_of(st.just({}), st.just({}), small_schedules)),
            }
            for sid in chosen
        }
        extra: dict[str, Any] = {}
        if operation == "syncMenuToStores":
            if data.draw(st.booleans()):
                extra["fieldIncludeOnSync"] = data.draw(ks.field_include_lists())
            if data.draw(st.integers(0, 3)) == 0:
                extra["persistFieldOnSync"] = data.draw(ks.persist_field_on_sync())
        body = {"stores": [store.as_json()], "sections": {str(k): v for k, v in entries.items()}, **extra}
        response = self.api.call(operation, body)

        attached = dict(self.attached[store])
        overrides = copy.deepcopy(self.overrides)
        explicit = {sid: e["availableTimes"] for sid, e in entries.items() if e["availableTimes"]}
        if operation == "populateMenu":
            if self.has_menu(store):
                expect.ok(self.api, response, "populate.skips-populated-stores")
                return
            for sid, entry in entries.items():
                attached[sid] = entry["sequence"]
                ov = overrides.setdefault((store, sid), {})
                ov.pop("availableTimes", None)
                if entry["availableTimes"]:
                    ov["availableTimes"] = entry["availableTimes"]
        else:
            if not self.has_menu(store):
                expect.ok(self.api, response, "sync.skips-unpopulated-stores")
                return
            keep = menus.persist_list(extra.get("fieldIncludeOnSync"), extra.get("persistFieldOnSync"))
            for sid, entry in entries.items():
                attached[sid] = entry["sequence"]
                overrides[(store, sid)] = menus.synced_overrides(
                    overrides.get((store, sid), {}), keep, entry["availableTimes"] or None
                )
        if explicit and self.collides(store, attached, overrides, explicit):
            # the docs check against schedules already attached; sections the request itself attaches are the assumed scope
            unnamed = {sid: n for sid, n in self.attached[store].items() if sid not in entries}
            documented = self.collides(store, unnamed, self.overrides, explicit)
            rule = (
                ("populate.overlap-rejected" if operation == "populateMenu" else "sync.overlap-rejected")
                if documented
                else "populate.overlap-scope"
            )
            expect.error(self.api, response, "request_invalid", rule)
            return
        expect.ok(
            self.api,
            response,
            "populate.attaches-fresh-stores" if operation == "populateMenu" else "sync.persisted-fields-kept",
        )
        self.attached[store], self.overrides = attached, overrides
        self.stale_check()

    @rule(sid=sections, visibilities=ks.visibilities(), zone=st.booleans(), data=st.data())
    def set_visibilities(self, sid, visibilities, zone, data):
        body: dict[str, Any] = {"visibilities": visibilities}
        if zone:
            store = data.draw(st.sampled_from(self.stores))
            body["zoneStores"] = [store.as_json()]
            self.overrides.setdefault((store, sid), {})["visibilities"] = dict(visibilities)
        else:
            self.rows[sid]["visibilities"] = dict(visibilities)
        expect.ok(self.api, self.api.call("setSectionVisibilities", body, sectionID=sid), "visibility.replaces-map")
        self.stale_check()

    @rule(
        chosen=st.lists(sections, min_size=1, max_size=2, unique=True),
        value=st.sampled_from([True, False, None]),
        zone=st.booleans(),
        data=st.data(),
    )
    def enable(self, chosen, value, zone, data):
        body: dict[str, Any] = {"ids": chosen}
        if value is not None:
            body["isEnabled"] = value
        store = data.draw(st.sampled_from(self.stores)) if zone else None
        if store is not None:
            body["zoneStores"] = [store.as_json()]
        for sid in chosen:
            if store is not None:
                self.overrides.setdefault((store, sid), {})["isEnabled"] = bool(value)
            else:
                self.rows[sid]["isEnabled"] = bool(value)
        expect.ok(self.api, self.api.call("enableSections", body), "enable.missing-is-false")
        self.stale_check()

    @rule(data=st.data())
    def reset(self, data):
        store = data.draw(st.sampled_from(self.stores))
        expect.ok(
            self.api, self.api.call("resetStoreOverrides", {"stores": [store.as_json()]}), "reset.drops-overrides"
        )
        for key in [k for k in self.overrides if k[0] == store]:
            del self.overrides[key]
        self.foreign[store] = None  # their overrides went too: unknown until the next publish
        self.observe(store)

    @rule(data=st.data())
    def publish_and_compare(self, data):
        self.observe(data.draw(st.sampled_from(self.stores)))


@pytest.mark.behaviour(
    "getmenu.stale-until-publish",
    "publish.rebuilds-snapshot",
    "populate.attaches-fresh-stores",
    "populate.skips-populated-stores",
    "sync.persisted-fields-kept",
    "sync.field-include-overwrites",
    "sync.persist-list-replaced",
    "reset.drops-overrides",
    "visibility.zone-stores-override-only",
    "enable.zone-stores-override-only",
    "populate.overlap-rejected",
    "sync.overlap-rejected",
    "populate.overlap-scope",
    "response.required-members",
)
def test_menu_state_machine(target, api, store):
    # A real target answers at KLIKIT_MAX_RPS: its smoke run keeps the whole run within 500 requests.
    local = target.is_standin
    settings = profiles.examples(smoke=8 if local else 4, release=40, nightly=150)
    # No shrinking: every replay is a dozen HTTP round trips, and the failing
    # sequence is printed step by step as it was found.
    settings = type(settings)(
        settings,
        stateful_step_count={"smoke": 12 if local else 8, "release": 25, "nightly": 40}[profiles.current()],
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )
    # Hypothesis takes any factory of a state machine (its stub asks for the class)
    run_state_machine_as_test(lambda: MenuMachine(target, api), settings=settings)  # type: ignore[arg-type]
