"""Account health reaches `GET /status` (degraded, naming the account) and integrations.json
(state, scopes, expiry), never a token."""

from __future__ import annotations

import json

import trio

from actors.accounts import AccountTokenSource
from actors.publisher import account_integrations
from exports.builders import build_integrations
from exports.canonical import canonical_bytes
from exports.files import ExportContext
from exports.health import status_report
from exports.schemas import validate
from tests.fakes.identity import FakeIdentity
from tests.fakes.token_store import MemoryTokenStore
from tests.unit.actors.accounts.test_actor import SCOPES, fake_now, start_account, stored_from


async def test_a_needs_login_account_degrades_status_and_is_listed_in_integrations(
    autojump_clock, nursery
):
    identity = FakeIdentity(trio.current_time, lifetime=3600)
    store = MemoryTokenStore()
    store.tokens["bot"] = stored_from(identity, SCOPES)
    sup, source = await start_account(nursery, identity, store)
    await trio.sleep(1)
    assert status_report(sup.tree()).ok
    healthy = account_integrations(sup.tree())
    assert healthy[0].status == "connected" and healthy[0].state == "logged_in"

    token = await source.token()
    identity.revoke_all()
    await AccountTokenSource(lambda: sup.ref("bot")).unauthorized(token)
    await trio.sleep(5)
    report = status_report(sup.tree())
    assert report.status == "degraded"
    (problem,) = report.body(version="test")["degraded"]
    assert problem["path"] == "accounts/bot" and problem["state"] == "failed"
    assert problem["reason"].startswith("needs_login: ")
    assert "python -m runtime login bot" in problem["reason"]

    rows = account_integrations(sup.tree())
    ctx = ExportContext(now=fake_now(), started_at=fake_now())
    document = build_integrations(ctx, rows)
    validate("integrations.json", document)
    (item,) = document["items"]
    assert item["id"] == "account:bot" and item["provider"] == "twitch"
    assert item["status"] == "error" and item["state"] == "needs_login"
    assert item["scopes"] == sorted(SCOPES)
    assert item["token_expires_at"] is not None
    text = canonical_bytes(document).decode() + json.dumps(problem)
    for grant in identity.grants:
        assert not any(value in text for value in grant.access)
    await sup.stop()
