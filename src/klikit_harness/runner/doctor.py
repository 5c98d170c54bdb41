"""``klikit-harness doctor``: check a configuration against its target before a long run.

Owns: one line per item (reachable, credential, scopes, each store, fresh
stores and how many a run needs, optional credentials) with what to fix. Must not: write anything to
the target — scopes are probed with requests the API rejects before any write
(an empty publish body fails validation only after the scope check passed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator

import httpx

from .. import contract
from ..checking.config import Credential, Settings, guard_production, load_settings
from ..checking.failures import Violation
from ..checking.freshstores import FRESH_STORES_NEEDED, menu_sections
from ..checking.target import Target, TargetClient
from ..partner.envelope import is_success
from .exits import EXIT_OK, EXIT_UNREACHABLE, EXIT_VIOLATIONS


def _status_for(target: Target, meaning: str) -> int:
    """The status errors.yaml gives ``meaning`` in the target's reading."""
    return contract.errors().code_for(meaning, target.reading).status


class _Report:
    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.problems = 0

    def ok(self, item: str, detail: str = "") -> None:
        self.echo(f"  ok    {item}" + (f" — {detail}" if detail else ""))

    def bad(self, item: str, fix: str) -> None:
        self.problems += 1
        self.echo(f"  FIX   {item} — {fix}")

    def skip(self, item: str, why: str) -> None:
        self.echo(f"  --    {item} — {why}")


def _status(client: TargetClient, op: str, **kw: object) -> tuple[int, str]:
    r = client.call(op, **kw)  # type: ignore[arg-type]
    try:
        code = r.json().get("error", {}).get("code", "")
    except (ValueError, AttributeError):
        code = ""
    return r.status_code, str(code)


def _probe_write(client: TargetClient) -> tuple[int, str]:
    # auth, rate limit and scope come before body validation: 400 means the scope is there
    return _status(client, "publishMenu", body={}, key=str(uuid.uuid4()))


def _standin_settings() -> Generator[tuple[Settings, Target], None, None]:
    from ..standin.sandbox import serve_in_thread

    with serve_in_thread() as sandbox:
        settings = load_settings(None, **{k.removeprefix("KLIKIT_").lower(): v for k, v in sandbox.env().items()})
        yield settings, Target(sandbox.base_url, settings, service=sandbox.service)


def diagnose(settings: Settings, *, echo: Callable[[str], None] = print) -> int:
    """Run every check; 0 when all hold, 1 when something needs fixing, 3 when unreachable."""
    if settings.base_url is None:
        echo("doctor: no KLIKIT_BASE_URL — checking the embedded stand-in")
        gen = _standin_settings()
        standin_settings, target = next(gen)
        try:
            return _diagnose(standin_settings, target, echo)
        finally:
            gen.close()
    echo(f"doctor: {settings.base_url}")
    read_only = guard_production(settings)  # raises ConfigError unless KLIKIT_ALLOW_PRODUCTION=1
    return _diagnose(settings, Target(settings.base_url, settings, read_only=read_only), echo)


def _diagnose(settings: Settings, target: Target, echo: Callable[[str], None]) -> int:
    out = _Report(echo)
    try:
        with target.client(None, variable="") as anonymous:
            status, _ = _status(anonymous, "getMenu")
    except httpx.TransportError as exc:
        what = settings.bounds().timed_out(exc) if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
        out.bad("reachable", f"{what} — check KLIKIT_BASE_URL and the network")
        return EXIT_UNREACHABLE
    except Violation as exc:  # it answered, but not as the API does: a gateway, a proxy, a redirect
        out.bad("reachable", f"{exc.title} — check KLIKIT_BASE_URL points at the Partner API itself")
        return EXIT_VIOLATIONS
    out.ok("reachable", f"an anonymous getMenu answered {status}")
    with target.client() as api:
        status, code = _status(api, "getMenu")
        if not is_success(status):
            fix = (
                "KLIKIT_SECRET_KEY was rejected — the secret may have been rotated; ask the operator"
                if status == _status_for(target, "auth_invalid_credential")
                else f"HTTP {status} {code}"
            )
            out.bad("credential KLIKIT_PARTNER_KEY", fix)
            return EXIT_VIOLATIONS
        out.ok("credential KLIKIT_PARTNER_KEY", "menus:read works")
        if target.read_only:
            out.skip("scope for menu writes", "read-only run (production host): no write is sent, not even a probe")
        else:
            _check_write_scope(out, api, target)
        if not settings.stores:
            out.bad("KLIKIT_STORES", "empty: list brandID:branchID of stores the harness may write to")
        for store in settings.stores:
            status, code = _status(api, "getMenu", params={"brand_id": store.brand_id, "branch_id": store.branch_id})
            if is_success(status):
                out.ok(f"store {store}", "resolvable")
            else:
                out.bad(
                    f"store {store} (KLIKIT_STORES)", f"getMenu answered {status} {code}: not a store of this business"
                )
        _fresh_stores(out, api, settings)
        if settings.foreign_store:
            status, code = _status(
                api,
                "getMenu",
                params={"brand_id": settings.foreign_store.brand_id, "branch_id": settings.foreign_store.branch_id},
            )
            if status == _status_for(target, "resource_not_found"):
                out.ok("KLIKIT_FOREIGN_STORE", f"{status} {code} to this credential, as expected")
            else:
                out.bad("KLIKIT_FOREIGN_STORE", f"answered {status}: it must be a store of another business")
    if settings.old_secret and settings.partner_key:
        _expect_rejected(
            out, target, Credential(settings.partner_key, settings.old_secret.get_secret_value()), "KLIKIT_OLD_SECRET"
        )
    if settings.revoked_credential:
        _expect_rejected(out, target, settings.revoked_credential, "KLIKIT_REVOKED_CREDENTIAL")
    if settings.limited_credential:
        with target.client(settings.limited_credential.pair(), variable="") as limited:
            read, _ = _status(limited, "getMenu")
            write, code = (0, "") if target.read_only else _probe_write(limited)
        if target.read_only and is_success(read):
            out.ok("KLIKIT_LIMITED_CREDENTIAL", "reads (its write refusal is not probed on a read-only run)")
        elif is_success(read) and write == _status_for(target, "auth_forbidden"):
            out.ok("KLIKIT_LIMITED_CREDENTIAL", "reads, and is refused writes")
        else:
            out.bad(
                "KLIKIT_LIMITED_CREDENTIAL", f"getMenu {read}, write probe {write} {code}: it must read but not write"
            )
    for name, cred in (
        ("KLIKIT_SECOND_CREDENTIAL", settings.second_credential),
        ("KLIKIT_FOREIGN_CREDENTIAL", settings.foreign_credential),
        ("KLIKIT_BURST_CREDENTIAL", settings.burst_credential),
    ):
        if cred:
            with target.client(cred.pair(), variable="") as client:
                status, code = _status(client, "getMenu")
            if is_success(status):
                out.ok(name, "valid")
            else:
                out.bad(name, f"getMenu answered {status} {code}: check the key:secret")
    echo("doctor: all good" if not out.problems else f"doctor: {out.problems} item(s) to fix")
    return EXIT_OK if not out.problems else EXIT_VIOLATIONS


def _fresh_stores(out: _Report, api: TargetClient, settings: Settings) -> None:
    """Each listed fresh store serves no section, and enough of them are listed for the suite's plan."""
    need = f"every profile needs {FRESH_STORES_NEEDED} (one planned populate each)"
    if not settings.fresh_stores:
        out.skip("KLIKIT_FRESH_STORES", f"unset: first-time-push checks will be skipped; {need}")
        return
    fresh = 0
    for store in settings.fresh_stores:
        r = api.get_menu(store)
        try:
            data = r.json().get("data")
        except (ValueError, AttributeError):
            data = None
        sections = menu_sections(data)
        if not is_success(r.status_code):
            out.bad(f"fresh store {store}", f"getMenu answered {r.status_code}: not a store of this business")
        elif sections is None:
            out.bad(
                f"fresh store {store}", f"getMenu answered {r.status_code} without data.menu.sections: check the target"
            )
        elif sections:
            out.bad(
                f"fresh store {store}",
                "it serves sections: it was populated already; remove it from KLIKIT_FRESH_STORES",
            )
        else:
            fresh += 1
            out.ok(f"fresh store {store}", "serves no menu (never published)")
    summary = f"{fresh} of {len(settings.fresh_stores)} listed serve no section; {need}"
    if fresh >= FRESH_STORES_NEEDED:
        # a store populated but never published also serves nothing: only a write could tell, and doctor never writes
        out.ok("KLIKIT_FRESH_STORES", summary)
    else:
        out.skip("KLIKIT_FRESH_STORES", f"{summary}: the first-time-push checks of the missing ones will be skipped")


def _check_write_scope(out: _Report, api: TargetClient, target: Target) -> None:
    status, code = _probe_write(api)
    if status == _status_for(target, "auth_forbidden"):
        out.bad("scope for menu writes", f"{code}: ask the operator to grant menus:write to KLIKIT_PARTNER_KEY")
    else:
        out.ok("scope for menu writes", f"a write past the scope check answered {status} {code}")


def _expect_rejected(out: _Report, target: Target, cred: Credential, name: str) -> None:
    with target.client(cred.pair(), variable="") as client:
        status, code = _status(client, "getMenu")
    if status in {_status_for(target, "auth_invalid_credential"), _status_for(target, "auth_revoked")}:
        out.ok(name, f"rejected with {status} {code}, as expected")
    else:
        out.bad(name, f"answered {status}: it should be rejected (rotated out / revoked)")
