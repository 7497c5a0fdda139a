"""The audit log's own rules, on both backends: refused actions leave no row, secrets never
land in one, the retention prune removes only old rows, the CSV guards hostile cells, the
filters and the cursor."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from lib import audit
from lib.audit import Action, Actor
from lib.auth import accounts as auth
from lib.auth import tokens
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.money import budgets
from lib.webhooks import endpoints as webhooks
from tests.builders import T0
from tests.helpers import TEST_PASSWORD as PASSWORD

ROOT = Actor("root", "session:s-root")


@pytest.fixture
def eng(fast_bcrypt: None) -> Iterator[Engine]:
    engine = Engine(config.load(), clock=FakeClock(T0))
    auth.create_user(engine.db, "root", "Root", None, "admin", PASSWORD, now=T0)
    auth.create_user(engine.db, "ann", "Ann", None, "member", PASSWORD, now=T0)
    yield engine
    engine.close()


def _all(eng: Engine) -> list[audit.Entry]:
    return audit.search(eng.db, audit.Filter(), limit=10_000)


def test_refused_actions_write_no_row(eng: Engine) -> None:
    before = len(_all(eng))
    ann, root = auth.get_user(eng.db, "ann"), auth.get_user(eng.db, "root")
    assert ann is not None and root is not None
    token, _ = tokens.create(eng.db, "root", "mine", now=T0)
    before = len(_all(eng))
    with audit.acting(ROOT), pytest.raises(auth.AuthError):
        auth.set_role(eng.db, "root", "member", now=T0)  # the last admin
    with audit.acting(ROOT), pytest.raises(auth.AuthError):
        auth.set_password(eng.db, "ann", "short", now=T0)
    with audit.acting(ROOT), pytest.raises(auth.AuthError):
        auth.create_user(eng.db, "ann", "Ann again", None, "member", PASSWORD, now=T0)
    with pytest.raises(auth.PermissionDenied):
        tokens.revoke(eng.db, ann, token.id, now=T0)  # not hers
    with pytest.raises(webhooks.WebhookError):
        webhooks.set_disabled(eng.db, root, "no-such-endpoint", True, now=T0)
    with pytest.raises(auth.PermissionDenied):
        webhooks.create(eng.db, ann, "http://127.0.0.1:9/h", "standard", ["job.succeeded"],
                        now=T0)
    with pytest.raises(ValueError):
        budgets.set_budget(eng.db, "user", "ann", Decimal("-1"), "root", T0)
    webhooks.delete(eng.db, root, "no-such-endpoint")  # nothing there: nothing deleted
    budgets.remove_budget(eng.db, "user", "ann")  # no budget: nothing removed
    assert len(_all(eng)) == before


def test_a_failed_write_rolls_its_audit_row_back(eng: Engine) -> None:
    before = len(_all(eng))
    with pytest.raises(RuntimeError), eng.db.write() as cur:
        audit.record(cur, Action.BUDGET_SET, "user:ann", {"monthly_usd": "5"})
        raise RuntimeError("the action failed after its row was written")
    assert len(_all(eng)) == before


def test_no_secret_is_written(eng: Engine) -> None:
    with audit.acting(ROOT):
        _, secret = tokens.create(eng.db, "ann", "ci", now=T0)
        auth.set_password(eng.db, "ann", PASSWORD + "-new", now=T0)
        auth.create_user(eng.db, "bob", "Bob", None, "member", PASSWORD + "-bob", now=T0)
    text = repr(_all(eng)) + audit.to_csv(_all(eng))
    for leaked in (secret, secret[:10], PASSWORD, "$2b$"):
        assert leaked not in text
    for key in ("password", "secret", "api_key", "token_hash", "Credential"):
        with eng.db.write() as cur, pytest.raises(ValueError, match="never carries a secret"):
            audit.record(cur, Action.TOKEN_CREATE, "x", {key: "hunter2"})


def test_who_acts_is_the_door_or_system(eng: Engine) -> None:
    assert audit.current() == audit.SYSTEM
    with audit.acting(Actor("ann", "token:abc")):
        assert audit.current() == Actor("ann", "token:abc")
        with eng.db.write() as cur:
            audit.record(cur, Action.BUDGET_SET, "t1")
    with eng.db.write() as cur:
        audit.record(cur, Action.BUDGET_SET, "t2")
        audit.record(cur, Action.BUDGET_SET, "t3", actor="root")
    found = {r.target: (r.actor, r.via) for r in audit.search(
        eng.db, audit.Filter(action="budget_set"))}
    assert found == {"t1": ("ann", "token:abc"), "t2": ("system", "system"),
                     "t3": ("root", "system")}


def test_retention_prunes_only_rows_older_than_the_setting(eng: Engine) -> None:
    for days in (400, 366, 364, 1):
        with eng.db.write() as cur:
            audit.record(cur, Action.PRICE_ADD, f"{days}d", at=T0 - timedelta(days=days))
    assert audit.prune(eng.db, T0, 0) == 0  # 0: kept forever
    assert audit.prune(eng.db, T0, 365) == 2
    left = {r.target for r in audit.search(eng.db, audit.Filter(action="price_add"))}
    assert left == {"364d", "1d"}


def test_the_engine_prunes_at_start_by_the_setting(eng: Engine,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with eng.db.write() as cur:
        audit.record(cur, Action.PRICE_ADD, "old", at=T0 - timedelta(days=40))
        audit.record(cur, Action.PRICE_ADD, "new", at=T0 - timedelta(days=2))
    eng.close()
    monkeypatch.setenv("PROMPTBOARD_AUDIT_RETENTION_DAYS", "30")
    assert config.load().audit_retention_days == 30
    again = Engine(config.load(), clock=FakeClock(T0))
    try:
        left = {r.target for r in audit.search(again.db, audit.Filter(action="price_add"))}
        assert left == {"new"}
    finally:
        again.close()


def test_csv_guards_a_hostile_detail(eng: Engine) -> None:
    hostile = '=cmd|" /C calc"!A0'
    with audit.acting(Actor("=HYPERLINK(\"http://x\")", "session:s")), \
            eng.db.write() as cur:
        audit.record(cur, Action.BUDGET_SET, "+SUM(A1)", {"note": hostile})
        audit.record(cur, Action.BUDGET_SET, "@evil", None)
        audit.record(cur, Action.BUDGET_SET, "=cmd()", {"note": "x"})
    rows = list(csv.reader(io.StringIO(audit.to_csv(
        audit.search(eng.db, audit.Filter(action="budget_set"))))))
    assert rows[0] == ["at", "actor", "action", "target", "detail", "via"]
    cells = [c for row in rows[1:] for c in row[1:]]
    assert all(not c or c[0] not in "=+-@" for c in cells), cells
    assert "'@evil" in cells and "'+SUM(A1)" in cells and "'=cmd()" in cells
    details = [json.loads(row[4]) for row in rows[1:] if row[4]]
    assert {"note": hostile} in details  # kept whole, as JSON text (which opens with "{")


def test_filters_text_dates_and_cursor(eng: Engine) -> None:
    for i in range(5):
        with audit.acting(Actor("root" if i % 2 else "ann", "session:s")), \
                eng.db.write() as cur:
            audit.record(cur, Action.IMAGE_DELETE, f"img-{i}", {"owner": "Zoë"},
                         at=T0 + timedelta(hours=i))
    f = audit.Filter(action="image_delete")
    assert [r.target for r in audit.search(eng.db, f)] == [f"img-{i}" for i in (4, 3, 2, 1, 0)]
    assert [r.target for r in audit.search(eng.db, replace(f, actor="ann"))] == [
        "img-4", "img-2", "img-0"]
    assert len(audit.search(eng.db, replace(f, text="ZOË"))) == 5  # case-blind, in the detail
    assert audit.search(eng.db, replace(f, text="100%")) == []  # no LIKE wildcards
    window = replace(f, since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    assert [r.target for r in audit.search(eng.db, window)] == ["img-2", "img-1"]
    first = audit.search(eng.db, f, limit=2)
    rest = audit.search(eng.db, f, limit=10, after=(first[-1].at, first[-1].id))
    assert [r.target for r in first + rest] == [f"img-{i}" for i in (4, 3, 2, 1, 0)]
    with pytest.raises(ValueError):
        audit.search(eng.db, replace(f, action="drop table"))
    assert "ann" in audit.actors(eng.db) and "root" in audit.actors(eng.db)


def test_hostile_text_is_stored_cut_and_without_nul(eng: Engine) -> None:
    with eng.db.write() as cur:
        audit.record(cur, Action.SIGN_IN_FAILED, "a\x00b" + "x" * 500, actor="\x00")
    row = audit.search(eng.db, audit.Filter(action="sign_in_failed"))[0]
    assert "\x00" not in row.target + row.actor and len(row.target) == audit.log.MAX_TEXT


def test_action_names_are_a_closed_set_of_plain_names() -> None:
    names = [a.value for a in Action]
    assert len(set(names)) == len(names)
    assert all(n.replace("_", "").isalpha() and n.islower() for n in names)


def test_on_postgres_sql_itself_cannot_edit_or_delete_a_row(eng: Engine) -> None:
    """The trigger of migration 023 (PostgreSQL only): the prune's transaction may delete."""
    if eng.db.kind != "postgres":
        pytest.skip("DuckDB has no triggers: the code alone keeps it append-only there")
    with eng.db.write() as cur:
        audit.record(cur, Action.PRICE_ADD, "old", at=T0 - timedelta(days=900))
    for sql in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), eng.db.write() as cur:
            cur.execute(sql)
    assert audit.prune(eng.db, T0, 365) == 1
    assert audit.search(eng.db, audit.Filter(action="price_add")) == []


def test_a_webhook_url_is_kept_as_its_host_only(eng: Engine,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A Slack URL's path is its secret (and any URL's query may carry one)."""
    monkeypatch.setenv("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE", "1")
    root = auth.get_user(eng.db, "root")
    assert root is not None
    url = "http://127.0.0.1:9/services/T000/B000/XXXXsecretXXXX?sig=abc123"
    with audit.acting(ROOT):
        ep, _ = webhooks.create(eng.db, root, url, "slack", ["job.succeeded"], now=T0)
        webhooks.delete(eng.db, root, ep.id)
    rows = audit.search(eng.db, audit.Filter(text=ep.id))
    assert [(r.action, r.details().get("host")) for r in rows] == [
        ("webhook_delete", "127.0.0.1"), ("webhook_create", "127.0.0.1")]
    assert "XXXXsecretXXXX" not in repr(rows) and "abc123" not in repr(rows)


def test_setting_the_role_a_user_has_records_nothing(eng: Engine) -> None:
    before = len(_all(eng))
    with audit.acting(ROOT):
        auth.set_role(eng.db, "ann", "member", now=T0)
    assert len(_all(eng)) == before
