"""Check for new models where the provider looks ids up instead of listing them all (Replicate's
models.get and text-to-image collection, fal's model search), against each fake: a model
added, one removed (offered here, unknown there), one retired (its shutdown known here, still
or no longer there); nothing is enabled, errors say why without the key, hostile replies are
cut or refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from lib.catalog import checks
from lib.providers import discovery, errors
from lib.providers.fal import FalProvider
from lib.providers.replicate import ReplicateProvider
from lib.providers.types import ModelLine, Shutdown
from tests.fakes import fal as f
from tests.fakes import replicate as r
from tests.fakes.server import Reply

TODAY = date(2026, 12, 8)
SCHNELL, DEV = "black-forest-labs/flux-schnell", "black-forest-labs/flux-dev"
SDXL, PRO = "stability-ai/sdxl", "black-forest-labs/flux-1.1-pro"
FAL_SCHNELL, FAL_DEV, FAL_SDXL = "fal-ai/flux/schnell", "fal-ai/flux/dev", "fal-ai/fast-sdxl"


@pytest.fixture(scope="module")
def rep_server() -> Iterator[r.FakeReplicate]:
    fake = r.FakeReplicate()
    yield fake
    fake.close()


@pytest.fixture
def rep(rep_server: r.FakeReplicate) -> r.FakeReplicate:
    rep_server.reset()
    return rep_server


@pytest.fixture(scope="module")
def fal_server() -> Iterator[f.FakeFal]:
    fake = f.FakeFal()
    yield fake
    fake.close()


@pytest.fixture
def fal(fal_server: f.FakeFal, monkeypatch: pytest.MonkeyPatch) -> f.FakeFal:
    fal_server.reset()
    monkeypatch.delenv("FAL_API_URL", raising=False)  # derived from the queue's address
    return fal_server


def replicate(fake: r.FakeReplicate, token: str | None = None) -> ReplicateProvider:
    p = ReplicateProvider(base_url=fake.base_url, api_key=token or fake.token, timeout=5)
    p.line = ModelLine((SCHNELL, DEV, SDXL), SCHNELL,
                       {SDXL: Shutdown(date(2026, 11, 1), SCHNELL)})
    return p


def fal_provider(fake: f.FakeFal, key: str = f.KEY) -> FalProvider:
    p = FalProvider(base_url=fake.base_url, api_key=key, timeout=5)
    p.line = ModelLine((FAL_SCHNELL, FAL_DEV, FAL_SDXL), FAL_SCHNELL,
                       {FAL_SDXL: Shutdown(date(2027, 1, 15), FAL_SCHNELL)})
    return p


# -- Replicate -------------------------------------------------------------------------------


def test_replicate_a_new_model_a_vanished_one_and_the_retired_one(rep: r.FakeReplicate) -> None:
    rep.models.discard(DEV)  # Replicate no longer has flux-dev (404)
    provider = replicate(rep)
    before = provider.line
    found = discovery.check(provider, TODAY)
    assert found.new == (PRO,)  # in the text-to-image collection, unknown here
    assert found.gone == (DEV,)
    assert [(x.model, x.listed) for x in found.retired] == [(SDXL, True)]  # still there
    assert found.looked_up == (SCHNELL, DEV, SDXL) and found.skipped == 0
    assert "probably shut down" in found.summary() and "it knows 2" in found.summary()
    assert provider.line is before  # a check changes nothing
    gets = [q.path for q in rep.server.history]
    assert gets == ["/v1/collections/text-to-image", f"/v1/models/{SCHNELL}",
                    f"/v1/models/{DEV}", f"/v1/models/{SDXL}"]
    assert {q.headers.get("authorization") for q in rep.server.history} == {
        f"Bearer {rep.token}"}
    assert not rep.creates  # nothing run, nothing billed
    rep.models.discard(SDXL)  # the retired one is gone there too
    again = discovery.check(replicate(rep), TODAY)
    assert [(x.model, x.listed) for x in again.retired] == [(SDXL, False)]
    assert again.gone == (DEV,)  # retired on its date: no longer offered, not "gone"


def test_replicate_nothing_new_nothing_gone_and_a_version_id_is_looked_up_by_model(
        rep: r.FakeReplicate) -> None:
    rep.collection = [SCHNELL]
    provider = replicate(rep)
    provider.line = ModelLine((SCHNELL, f"{SDXL}:abc123", "bad/../id"), SCHNELL)
    found = discovery.check(provider, TODAY)
    assert (found.new, found.gone) == ((), ())
    assert "Nothing new, nothing gone." in found.summary()
    assert f"/v1/models/{SDXL}" in [q.path for q in rep.server.history]
    assert not any(".." in q.path for q in rep.server.history)  # a malformed id is skipped


def test_replicate_without_the_collection_still_looks_ids_up(rep: r.FakeReplicate) -> None:
    rep.server.script(r.COLLECTION, r.problem(404, "Not found."))
    found = discovery.check(replicate(rep), TODAY)
    assert found.listed == (SCHNELL, DEV, SDXL) and found.new == ()


def test_replicate_lookups_are_bounded_per_check(rep: r.FakeReplicate) -> None:
    provider = replicate(rep)
    many = tuple(f"acme/model-{i:02d}" for i in range(60))
    provider.line = ModelLine(many, many[0])
    found = discovery.check(provider, TODAY)
    assert len(found.looked_up or ()) == discovery.MAX_LOOKUPS and found.skipped == 10
    assert len(rep.server.history) == 1 + discovery.MAX_LOOKUPS
    assert found.gone == many[:discovery.MAX_LOOKUPS]  # the fake knows none of them
    assert "10 more were not looked up" in found.summary()


def test_replicate_hostile_collection_is_cut_and_markup_dropped(rep: r.FakeReplicate) -> None:
    rows = [r.FakeReplicate.model_view(f"acme/m{i}") for i in range(3000)]
    rows[:0] = [{"owner": "<script>alert(1)</script>", "name": "x"},
                {"owner": "acme", "name": "[click](http://evil)"}, "not a model"]
    rep.server.script(r.COLLECTION, Reply(200, {"models": rows}))
    found = discovery.check(replicate(rep), TODAY)
    assert len(found.new) == 500 and found.new[0] == "acme/m0"
    assert not any("<" in m or "[" in m for m in found.new)


@pytest.mark.parametrize("route", [r.COLLECTION, r.MODEL])
def test_replicate_failures_say_why_without_the_token(rep: r.FakeReplicate, route: str) -> None:
    wrong = "r8_" + "WRONGwrongWRONG0123456789"
    with pytest.raises(errors.NeedsKey, match="REPLICATE_API_TOKEN") as bad:
        discovery.check(replicate(rep, token=wrong), TODAY)
    assert wrong not in str(bad.value)
    rep.server.script(route, r.problem(500, f"internal error for token {rep.token}"))
    with pytest.raises(errors.Unavailable) as down:
        discovery.check(replicate(rep), TODAY)
    assert rep.token not in str(down.value)
    rep.server.script(route, Reply(200, "<html>maintenance</html>",
                                   {"Content-Type": "text/html"}))
    with pytest.raises(errors.BadResponse, match="not valid JSON"):
        discovery.check(replicate(rep), TODAY)


# -- fal -------------------------------------------------------------------------------------


def test_fal_a_vanished_model_a_deprecated_one_and_the_retired_one(fal: f.FakeFal) -> None:
    del fal.models[FAL_DEV]  # fal no longer has flux/dev
    provider = fal_provider(fal)
    before = provider.line
    fal.models["fal-ai/flux-2/turbo"] = "active"  # fal adds a model
    found = discovery.check(provider, TODAY)
    assert found.gone == (FAL_DEV,)
    assert found.new == ("fal-ai/flux-pro/v1.1", "fal-ai/flux-2/turbo")  # active, unknown here
    assert found.deprecated == (FAL_SDXL,)  # offered here, deprecated there
    assert [(x.model, x.listed) for x in found.retired] == [(FAL_SDXL, True)]
    summary = found.summary()
    assert "Deprecated by the provider: fal-ai/fast-sdxl" in summary
    assert "No longer listed, but offered here: fal-ai/flux/dev" in summary
    assert provider.line is before and not fal.submits()  # nothing run, nothing changed
    listing, search = fal.server.history
    assert listing.query == {"category": ["text-to-image"], "status": ["active"],
                             "limit": ["100"]}
    assert search.path == "/v1/models" and search.query["endpoint_id"] == [
        FAL_SCHNELL, FAL_DEV, FAL_SDXL]
    assert {q.headers.get("authorization") for q in fal.server.history} == {f"Key {f.KEY}"}
    del fal.models[FAL_SDXL]  # now the retired one is gone there too
    again = discovery.check(fal_provider(fal), TODAY)
    assert [(x.model, x.listed) for x in again.retired] == [(FAL_SDXL, False)]
    assert set(again.gone) == {FAL_DEV, FAL_SDXL}  # still offered until its date


def test_fal_a_model_added_here_is_found_there(fal: f.FakeFal) -> None:
    provider = fal_provider(fal)
    provider.line = ModelLine((FAL_SCHNELL, "fal-ai/flux-pro/v1.1"), FAL_SCHNELL)
    found = discovery.check(provider, TODAY)
    assert (found.listed or ())[:2] == (FAL_SCHNELL, "fal-ai/flux-pro/v1.1")
    assert (found.gone, found.deprecated) == ((), ())
    assert found.new == (FAL_DEV,)  # listed active there, not offered here
    fal.models = {FAL_SCHNELL: "active", "fal-ai/flux-pro/v1.1": "active"}
    again = discovery.check(provider, TODAY)
    assert "Nothing new, nothing gone." in again.summary()


def test_fal_pages_through_the_search(fal: f.FakeFal) -> None:
    two = {"models": [{"endpoint_id": FAL_SCHNELL, "metadata": {"status": "active"}}],
           "next_cursor": "MQ==", "has_more": True}
    rest = {"models": [{"endpoint_id": m, "metadata": {"status": "deprecated"}}
                       for m in (FAL_DEV, FAL_SDXL)], "next_cursor": None, "has_more": False}
    fal.server.script(f.SEARCH, Reply(200, two), Reply(200, rest))
    provider = fal_provider(fal)
    assert provider.lookup_models([FAL_SCHNELL, FAL_DEV, FAL_SDXL]) == {
        FAL_SCHNELL: "live", FAL_DEV: "deprecated", FAL_SDXL: "deprecated"}
    assert [q.query.get("cursor") for q in fal.server.history] == [None, ["MQ=="]]
    endless = {**two, "models": []}
    fal.server.script(f.SEARCH, *[Reply(200, endless)] * 5)
    with pytest.raises(errors.BadResponse, match="kept paging"):
        provider.lookup_models([FAL_SCHNELL])  # never "gone" on an unfinished search
    fal.server.history.clear()
    fal.server.script(f.SEARCH, *[Reply(200, two)] * 9)
    assert provider.list_models() == [FAL_SCHNELL]  # the list stops after 5 pages
    assert len(fal.server.history) == 5


def test_fal_hostile_search_rows_are_ignored(fal: f.FakeFal) -> None:
    rows = [{"endpoint_id": f"evil/<b>{i}</b>", "metadata": {"status": "active"}}
            for i in range(5000)] + ["junk", {"endpoint_id": FAL_SCHNELL}]
    hostile = Reply(200, {"models": rows, "next_cursor": None})
    fal.server.script(f.SEARCH, hostile, hostile)  # the list (cut), then the lookup (refused)
    with pytest.raises(errors.BadResponse, match="5002 rows for 3 ids"):
        discovery.check(fal_provider(fal), TODAY)
    few = Reply(200, {"models": rows[:3] + rows[-2:], "next_cursor": None})
    fal.server.script(f.SEARCH, few, few)
    found = discovery.check(fal_provider(fal), TODAY)
    assert found.new == () and found.gone == (FAL_SDXL, FAL_DEV)  # sorted
    assert set(found.listed or ()) <= {FAL_SCHNELL, FAL_DEV, FAL_SDXL}
    assert not any("<" in m for m in (*found.new, *found.gone, *(found.listed or ())))


def test_fal_failures_say_why_without_the_key(fal: f.FakeFal) -> None:
    wrong = "fal-" + "WRONGwrong0123456789:secretWRONG"
    with pytest.raises(errors.NeedsKey, match="FAL_KEY") as bad:
        discovery.check(fal_provider(fal, key=wrong), TODAY)
    assert wrong not in str(bad.value)
    fal.server.script(f.SEARCH, Reply(500, {"detail": f"upstream failed for Key {f.KEY}"}))
    with pytest.raises(errors.Unavailable) as down:
        discovery.check(fal_provider(fal), TODAY)
    assert f.KEY not in str(down.value)
    fal.server.script(f.SEARCH, Reply(200, "<html>oops</html>", {"Content-Type": "text/html"}))
    with pytest.raises(errors.BadResponse, match="not valid JSON"):
        discovery.check(fal_provider(fal), TODAY)
    fal.server.script(f.SEARCH, Reply(200, {"models": "everything"}))
    with pytest.raises(errors.BadResponse, match="no list of models"):
        discovery.check(fal_provider(fal), TODAY)


def test_fal_search_goes_where_an_admin_points_it(fal: f.FakeFal,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert FalProvider(api_key="k").api_url() == "https://api.fal.ai/v1"
    assert fal_provider(fal).api_url() == f"{fal.base_url}/v1"
    monkeypatch.setenv("FAL_API_URL", "https://proxy.example/fal/v1/")
    p = FalProvider(api_key="k")
    assert p.api_url() == "https://proxy.example/fal/v1"
    assert p.auth_headers("https://proxy.example/fal/v1/models") == {"Authorization": "Key k"}
    assert p.auth_headers("https://v3.fal.media/files/x.png") == {}  # never the CDN


def test_both_count_as_checked_daily() -> None:
    assert checks.lists_models(ReplicateProvider) and checks.lists_models(FalProvider)


# -- the lookups' fault matrix: each failure a fake serves, as an error with a sentence ------

FAULTS = {  # fault -> (the reply, the error it becomes)
    "rate_limit": (Reply(429, {"detail": "Request was throttled. Expected available in ~3s"},
                         {"Retry-After": "3"}), errors.RateLimited),
    "server_error": (Reply(503, {"detail": "Service unavailable"}), errors.Unavailable),
    "timeout": (Reply(200, {}, delay=0.9), errors.Unavailable),
    "reset": (Reply(reset=True), errors.Unavailable),
    "not_json": (Reply(200, "{not json"), errors.BadResponse),
    "forbidden": (Reply(403, {"detail": "Forbidden"}), errors.ProviderError),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("provider_id", ["replicate", "fal"])
def test_a_failing_lookup_is_an_error_with_a_sentence_and_no_key(
        provider_id: str, fault: str, rep: r.FakeReplicate, fal: f.FakeFal) -> None:
    reply, kind = FAULTS[fault]
    if provider_id == "replicate":
        rep.server.script(r.MODEL, reply)
        provider: ReplicateProvider | FalProvider = replicate(rep)
        secret = rep.token
    else:
        fal.server.script(f.SEARCH, reply)
        provider, secret = fal_provider(fal), f.KEY
    provider.timeout = 0.5
    with pytest.raises(kind) as caught:
        discovery.check(provider, TODAY)
    said = str(caught.value)
    assert provider.label in said and len(said) > 30 and secret not in said
    if fault == "rate_limit":
        assert caught.value.retry_after == 3.0
