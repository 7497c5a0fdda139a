"""A browser-like Streamlit session that speaks the real websocket protocol, without a browser.

It does what the Streamlit frontend does on the wire, and nothing more: it connects to
``/_stcore/stream`` (subprotocol ``streamlit``), sends ``BackMsg.rerun_script`` with a
``ClientState`` (page, widget values, fragment id), and reads ``ForwardMsg``\\ s until the
run's ``script_finished``. The server cannot tell it from a tab: same sessions, same script
threads, same ``st.cache_resource`` engine and workers. It never announces cached message
hashes, so every element arrives in full and can be inspected.

Widgets are found by their user key (element ids end in ``-<key>``) or by label; values set
with :meth:`Session.set` are sent with every later run of the page (as the browser does while
the widget is mounted) and forgotten on a page change; clicks are sent once. A custom
component's data (``self.tiles``) is kept by its key; a click inside one is its trigger
(:meth:`Session.click_tile`), as ``setTriggerValue`` sends it.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import ClientConnection, connect

from lib.ui.grid import describe

RUN_TIMEOUT = 60.0  # s: one run, from the rerun request to script_finished
_EARLY = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
_COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.FINISHED_WITH_COMPILE_ERROR
_ERROR = 1  # Alert.Format.ERROR
_TEXT_ELEMENTS = ("markdown", "heading", "alert", "toast", "exception")


class ProtocolError(RuntimeError):
    """The server answered in a way no browser would accept (or not at all)."""


@dataclass
class Render:
    """What one run put on the screen, and how long the user waited for it."""

    page: str
    action: str
    ms: float
    exceptions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    toasts: list[str] = field(default_factory=list)
    compile_error: bool = False

    def text(self) -> str:
        """Every visible text of this run, in one string."""
        return "\n".join(self.texts)


@dataclass
class _Widget:
    id: str
    kind: str
    label: str
    fragment_id: str  # "" unless drawn inside a st.fragment (or a st.dialog)


class Session:
    """One browser tab: a websocket, the current page and the widget values it would send."""

    def __init__(self, base_url: str, name: str = "") -> None:
        self.name = name
        ws_url = base_url.replace("http://", "ws://", 1).rstrip("/") + "/_stcore/stream"
        self._stack = ExitStack()
        self._ws: ClientConnection = self._stack.enter_context(connect(
            ws_url, subprotocols=["streamlit"], max_size=None,  # type: ignore[list-item]
            open_timeout=RUN_TIMEOUT))
        self.page = ""  # url path of the page on screen ("" = default)
        self.pages: dict[str, str] = {}  # url path -> page script hash, from st.navigation
        self.widgets: dict[str, _Widget] = {}
        self.tiles: dict[str, Any] = {}  # custom component key -> the data it was given
        self.fragments: dict[str, float] = {}  # fragment id -> auto-rerun interval (s)
        self._values: dict[str, WidgetState] = {}
        self._page_hash = ""
        self.largest = 0  # bytes of the largest message the server sent this tab

    # -- actions a person takes ----------------------------------------------------

    def open(self, page: str = "", action: str = "open") -> Render:
        """Go to a page by its url path (a click in the navigation, or typing the URL)."""
        self.page = page
        self._page_hash = self.pages.get(page, "")
        self._values.clear()
        self.fragments.clear()
        return self._run(action)

    def set(self, name: str, **value: Any) -> None:
        """Give a widget a value (e.g. ``string_value="fox"``) for this and later runs."""
        widget = self.widget(name)
        self._values[widget.id] = WidgetState(id=widget.id, **value)

    def click(self, name: str, action: str = "click") -> Render:
        """Press a button (or a form's submit button): one run that sees it pressed.

        Inside a fragment or dialog only that fragment runs, as in the browser.
        """
        widget = self.widget(name)
        return self._run(action, extra=[WidgetState(id=widget.id, trigger_value=True)],
                         fragment_id=widget.fragment_id)

    def click_tile(self, name: str, event: str, value: str, action: str = "click") -> Render:
        """A click inside a custom component: its trigger ``event`` with ``value``, once."""
        widget = self.widget(name)
        trigger = WidgetState(id=_make_trigger_id(widget.id, "events"),
                              json_trigger_value=json.dumps([{"event": event, "value": value}]))
        return self._run(action, extra=[trigger], fragment_id=widget.fragment_id)

    def change(self, name: str, action: str = "change", **value: Any) -> Render:
        """Set a widget's value and run (only its fragment, if it lives in one)."""
        widget = self.widget(name)
        self.set(name, **value)
        return self._run(action, fragment_id=widget.fragment_id)

    def rerun(self, action: str = "rerun") -> Render:
        """A run with the current values (what typing into a widget and leaving it does)."""
        return self._run(action)

    def poll(self) -> Render | None:
        """The browser's timer for a ``st.fragment(run_every=...)``; None if none is set."""
        if not self.fragments:
            return None
        fragment_id = next(iter(self.fragments))
        return self._run("poll", fragment_id=fragment_id)

    def widget(self, name: str) -> _Widget:
        """A widget on the screen, by its key or else its label."""
        found = self.widgets.get(name)
        if found is None:
            raise ProtocolError(f"{self.name}: no widget {name!r} on {self.page or 'home'}; "
                                f"have {sorted(self.widgets)}")
        return found

    def close(self) -> None:
        """Close the tab."""
        self._stack.close()

    # -- the wire ------------------------------------------------------------------

    def _run(self, action: str, extra: list[WidgetState] | None = None,
             fragment_id: str = "") -> Render:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        state.page_script_hash = self._page_hash
        state.page_name = self.page
        state.widget_states.widgets.extend([*self._values.values(), *(extra or [])])
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = action == "poll"
        else:
            self.widgets.clear()
            self.tiles.clear()
        render = Render(page=self.page or "home", action=action, ms=0.0)
        started = time.perf_counter()
        self._ws.send(msg.SerializeToString())
        self._read_until_finished(render, started)
        render.ms = (time.perf_counter() - started) * 1000
        return render

    def _read_until_finished(self, render: Render, started: float) -> None:
        deadline = started + RUN_TIMEOUT
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise ProtocolError(f"{self.name}: {render.action} on {render.page} did not "
                                    f"finish within {RUN_TIMEOUT:.0f} s")
            try:
                raw = self._ws.recv(timeout=left)
            except TimeoutError:
                continue
            self.largest = max(self.largest, len(raw))
            fwd = ForwardMsg()
            fwd.ParseFromString(raw if isinstance(raw, bytes) else raw.encode())
            kind = fwd.WhichOneof("type")
            if kind == "delta":
                self._delta(fwd, render)
            elif kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in fwd.navigation.app_pages}
                self._page_hash = fwd.navigation.page_script_hash
            elif kind == "auto_rerun":
                self.fragments[fwd.auto_rerun.fragment_id] = fwd.auto_rerun.interval
            elif kind == "new_session":
                self.fragments.clear()  # a full run defines its fragments' timers again
            elif kind == "ref_hash":
                raise ProtocolError("the server sent a cached-message reference unasked")
            elif kind == "script_finished":
                if fwd.script_finished == _COMPILE_ERROR:
                    render.compile_error = True
                if fwd.script_finished != _EARLY:  # a st.rerun() starts another run at once
                    return
                self.widgets.clear()
                self.tiles.clear()

    def _delta(self, fwd: ForwardMsg, render: Render) -> None:
        delta = fwd.delta
        if delta.WhichOneof("type") == "new_element":
            elements = [delta.new_element]
        elif delta.WhichOneof("type") == "new_transient":
            elements = list(delta.new_transient.elements)
        else:
            return
        fragment_id = delta.fragment_id
        for el in elements:
            kind = el.WhichOneof("type")
            if kind is None:
                continue
            body = getattr(el, kind)
            if kind == "exception":
                render.exceptions.append(f"{body.type}: {body.message}")
            elif kind == "alert" and body.format == _ERROR:
                render.errors.append(body.body)
            elif kind == "toast":
                render.toasts.append(body.body)
            if kind in _TEXT_ELEMENTS:
                render.texts.append(body.message if kind == "exception" else body.body)
            elif kind == "imgs":
                render.texts.extend(img.caption for img in body.imgs)
            elif kind == "bidi_component" and body.bytes:
                page = json.loads(body.bytes)  # the tiles as the browser reads them
                tiles = [describe(t, page["q"]) for t in page["tiles"]]
                self.tiles[body.id.split("-", 2)[2]] = tiles
                render.texts.extend(str(t.get("caption", "")) for t in tiles)
            widget_id = getattr(body, "id", "")
            if isinstance(widget_id, str) and widget_id.startswith("$$ID-"):
                label = str(getattr(body, "label", ""))
                widget = _Widget(widget_id, kind, label, fragment_id)
                self.widgets[widget_id.split("-", 2)[2]] = widget  # "$$ID-<hash>-<key>"
                if label:
                    self.widgets.setdefault(label, widget)
