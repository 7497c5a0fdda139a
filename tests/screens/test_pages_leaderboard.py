"""The Quality per dollar tab of the Analytics page under AppTest: figures, roles, filters.

History (tests.builders.analytics_history): ann one openai image at $0.04; bob three gemini
images at $0.04 each (private) and a failed job; carol one stability image at $1.00.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib import ui
from lib.gallery import queries as gallery
from tests.builders import analytics_history as _history
from tests.helpers import analytics_page as _page

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py

TAB = {"an_tab": "Quality per dollar"}


def _rate(image_id: str, stars: dict[str, int]) -> None:
    eng = ui.engine()
    for user, n in stars.items():
        gallery.rate(eng.db, gallery.Viewer(user, "admin"), image_id, n, eng.clock.now())


def _board(at: AppTest) -> pd.DataFrame:
    [table] = [d.value for d in at.dataframe if "rating_per_usd" in d.value.columns]
    return table


def _open(user: str, role: str, **state: Any) -> AppTest:
    at = _page(user, role, **TAB, **state)
    assert not at.exception
    return at


def test_an_admin_ranks_every_model_with_its_sample_size() -> None:
    _history()
    _rate("a1-0", {"ann": 5, "bob": 4})
    _rate("b1-0", {"bob": 2})
    at = _open("root", "admin")
    df = _board(at).set_index("model")
    assert list(df.index) == ["gpt-image-2", "flash", "core"]  # best stars per dollar first
    assert df.loc["gpt-image-2", "rating_per_usd"] == pytest.approx(4.5 / 0.04)
    assert df.loc["gpt-image-2", "ratings"] == 2 and df.loc["gpt-image-2", "thin"]
    assert df.loc["flash", "images"] == 3 and df.loc["flash", "images_rated"] == 1
    assert df.loc["core", "note"] == "no ratings yet"
    assert df.loc["core", "per_usd"] == "— (no ratings)"
    assert not at.metric  # the Costs tab's queries did not run


def test_a_member_sees_their_own_and_shared_images_not_others_private_costs() -> None:
    _history()
    _rate("b1-0", {"bob": 1})
    at = _open("ann", "member")
    assert list(_board(at)["model"]) == ["gpt-image-2"]  # bob's images are private
    eng = ui.engine()
    gallery.set_shared(eng.db, gallery.Viewer("bob", "member"), ["b1-0"], True)
    at.run()
    df = _board(at).set_index("model")
    assert df.loc["flash", "images"] == 1 and df.loc["flash", "ratings"] == 1
    at.segmented_control(key="lb_whose").set_value("Only mine").run()
    assert list(_board(at)["model"]) == ["gpt-image-2"]


def test_rank_by_style_and_narrow_by_role() -> None:
    _history()
    with ui.engine().db.write() as cur:
        cur.execute("UPDATE images SET style = 'cartoon' WHERE user_id = 'bob'")
    at = _open("root", "admin")
    at.segmented_control(key="lb_by").set_value("style").run()
    assert set(_board(at)["style"]) == {"cartoon", "none"}
    at.multiselect(key="lb_roles").set_value(["analyst"]).run()
    assert not at.exception
    assert any("No images in this period" in i.value for i in at.info)


def test_a_free_model_says_so_instead_of_infinity() -> None:
    _history()
    with ui.engine().db.write() as cur:
        cur.execute("UPDATE images SET cost_usd = 0 WHERE user_id = 'carol'")
    _rate("c1-0", {"ann": 5})
    at = _open("root", "admin")
    core = _board(at).set_index("model").loc["core"]
    assert pd.isna(core["rating_per_usd"]) and core["per_usd"] == "— (free)"
    assert "free: rating per dollar is undefined" in core["note"]
