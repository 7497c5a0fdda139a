"""Admin → Integrations under AppTest: add an endpoint (the secret shown once), send it a test
event that a real local receiver checks, disable, enable and delete it; Slack URLs masked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from lib import ui, webhooks
from tests.fakes.webhooks import Receiver
from tests.helpers import ROOT, ensure_user, sign_in, wait_until

PAGE = str(ROOT / "screens" / "admin.py")


@pytest.fixture(autouse=True)
def _dashboard(page_engine: None, fast_bcrypt: None,
               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE", "1")  # the receiver is local


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.close()


def _page() -> AppTest:
    ensure_user("root", "admin")
    at = AppTest.from_file(PAGE, default_timeout=30)
    sign_in(at, "root")
    at.session_state["admin_tab"] = "Integrations"
    return at.run()


def _button(at: AppTest, label: str) -> AppTest:
    return at.button(key=next(b.key for b in at.button if b.label == label)).click().run()


def _add(at: AppTest, url: str, kind: str, *events: str) -> AppTest:
    next(w for w in at.text_input if w.label == "Endpoint URL").input(url)
    next(w for w in at.radio if w.label == "Kind").set_value(kind)
    for name in events:
        next(w for w in at.checkbox if w.label == name).check()
    return _button(at, "Add endpoint")


def _shown(at: AppTest) -> str:
    parts = [m.value for m in (*at.markdown, *at.caption, *at.code, *at.warning)]
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(parts)


def test_an_admin_adds_an_endpoint_sees_its_secret_once_and_sends_a_test_event(
        receiver: Receiver) -> None:
    at = _page()
    assert not at.exception
    assert "tell #design-costs when the team passes 80 % of its month" in _shown(at)
    assert "No endpoints yet: nothing is sent anywhere." in [i.value for i in at.info]
    at = _add(at, receiver.url, "standard", "job.succeeded", "budget.threshold")
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.success] == ["Added the endpoint; its signing secret is below."]
    [ep] = webhooks.list_endpoints(ui.engine().db)
    assert ep.events == ("job.succeeded", "budget.threshold") and ep.threshold is None
    assert [c.value for c in at.code] == [ep.secret]  # shown once ...
    receiver.secret = ep.secret
    at.run()
    assert not at.code and (ep.secret or "-") not in _shown(at)  # ... and never again

    at = _button(at, "Send test event")
    assert [s.value for s in at.success] == ["Test event queued; its delivery is listed below."]
    wait_until(lambda: receiver.deliveries, what="the ping, sent by the dashboard's dispatcher")
    [ping] = receiver.deliveries
    assert ping.json()["type"] == "ping" and ping.verified
    wait_until(lambda: webhooks.recent(ui.engine().db)[0].status == "delivered")
    at = _button(at, "Refresh")
    table = at.dataframe[-1].value
    assert list(table["Event"]) == ["ping"] and list(table["Status"]) == ["delivered"]
    assert "HTTP 200" in _shown(at)


def test_disable_enable_and_delete_from_the_card(receiver: Receiver) -> None:
    at = _add(_page(), receiver.url, "standard", "job.failed")
    eng = ui.engine()
    [ep] = webhooks.list_endpoints(eng.db)
    at = _button(at, "Disable")
    assert [s.value for s in at.success] == ["Disabled the endpoint."]
    assert webhooks.list_endpoints(eng.db)[0].disabled
    assert at.button(key=f"admin_wh_test_{ep.id}").disabled
    at = _button(at, "Enable")
    assert not webhooks.list_endpoints(eng.db)[0].disabled
    at = _button(at, "Delete")
    assert [s.value for s in at.success] == ["Deleted the endpoint and its deliveries."]
    assert webhooks.list_endpoints(eng.db) == []
    assert "No endpoints yet: nothing is sent anywhere." in [i.value for i in at.info]


def test_a_slack_url_is_masked_and_gets_no_secret(receiver: Receiver) -> None:
    url = receiver.url + "/services/T0AAA/B0BBB/s3cr3tp4rtofth3url1234"
    at = _add(_page(), url, "slack", "budget.threshold")
    assert [s.value for s in at.success] == ["Added the endpoint."]
    assert not at.code and "s3cr3t" not in _shown(at)
    assert "…1234" in _shown(at)


def test_a_refused_url_says_why_and_keeps_the_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE")
    at = _add(_page(), "https://169.254.169.254/latest", "standard", "job.failed")
    assert any("private, local or reserved" in e.value for e in at.error)
    assert webhooks.list_endpoints(ui.engine().db) == []
    assert next(w for w in at.text_input if w.label == "Endpoint URL").value == \
        "https://169.254.169.254/latest"
