"""Who may use which models: allow-lists per role and per user, as admins set them on
Admin → Access (and ``PUT /api/v1/admin/access``).

Nobody is restricted until an admin lists models for a role or a user::

    a user's own list     applies to that user (it may grant more than the role's)
    else the role's list  applies to every user of the role
    else                  every model

A list holds provider × model pairs; model ``*`` is every model of the provider, today's and
any added later (for Replicate, fal and AUTOMATIC1111 that includes any id typed). An empty
list allows nothing. Generate, Compare, Styles and the API offer only what the grant allows
(``book_for``), and submit refuses the rest with a sentence (``Grant.refusal``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from lib.audit import Action, record
from lib.auth.access import ROLES
from lib.catalog import book as catalog
from lib.core.errors import PromptboardError
from lib.providers import registry
from lib.providers.types import ModelLine

if TYPE_CHECKING:
    from lib.db.database import Database

ANY = "*"
SCOPES = ("role", "user")


class GrantError(PromptboardError, ValueError):
    """A model the caller may not use, or an allow-list or cap an admin cannot set; the
    message says why and what to do."""


@dataclass(frozen=True)
class Grant:
    """What one user may use: ``pairs`` (None: everything) and the list it comes from."""

    pairs: frozenset[tuple[str, str]] | None
    source: str  # "everything", "the member role's list", "ann's own list"

    def allows(self, provider: str, model: str) -> bool:
        """True when ``provider``/``model`` is granted."""
        return self.pairs is None or (provider, ANY) in self.pairs or (provider, model) in \
            self.pairs

    def allows_provider(self, provider: str) -> bool:
        """True when any model of ``provider`` is granted."""
        return self.pairs is None or any(p == provider for p, _ in self.pairs)

    def any_model(self, provider: str) -> bool:
        """True when every model of ``provider`` is granted (typed ids included)."""
        return self.pairs is None or (provider, ANY) in self.pairs

    def refusal(self, provider: str, model: str) -> str:
        """Why ``provider``/``model`` is refused, and what is allowed instead."""
        label = registry.get(provider).label if provider in registry.PROVIDERS else provider
        allowed = sorted(f"{registry.get(p).label if p in registry.PROVIDERS else p} "
                         f"{'(any model)' if m == ANY else m}" for p, m in self.pairs or ())
        offer = f"You may use: {', '.join(allowed)}." if allowed else "It allows no model."
        return (f"{label} {model} is not on {self.source}. {offer} Ask an admin to change it "
                "on Admin → Access.")


EVERYTHING = Grant(None, "everything")


@dataclass(frozen=True)
class GrantList:
    """One role's or user's allow-list."""

    scope: str
    subject: str
    pairs: tuple[tuple[str, str], ...]
    set_by: str
    set_at: datetime


def lists(db: Database) -> list[GrantList]:
    """Every allow-list, roles first, then users, by name."""
    def load() -> list[GrantList]:
        heads = db.fetchall("SELECT scope, subject, set_by, set_at FROM grant_lists "
                            "ORDER BY scope, subject")
        pairs = db.fetchall("SELECT scope, subject, provider, model FROM model_grants "
                            "ORDER BY provider, model")
        return [GrantList(s, subj, tuple((p, m) for sc, su, p, m in pairs
                                         if (sc, su) == (s, subj)), by, at)
                for s, subj, by, at in heads]
    return db.cached("grants.lists", load, ("grant_lists", "model_grants"))


def grant_for(db: Database, username: str, role: str) -> Grant:
    """The grant of one user: their own list, else their role's, else everything."""
    found = {(g.scope, g.subject): g for g in lists(db)}
    if (own := found.get(("user", username))) is not None:
        return Grant(frozenset(own.pairs), f"{username}'s own list")
    if (theirs := found.get(("role", role))) is not None:
        return Grant(frozenset(theirs.pairs), f"the {role} role's list")
    return EVERYTHING


def _check_pairs(db: Database, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    book = catalog.book(db)
    out: list[tuple[str, str]] = []
    for provider, model in dict.fromkeys((p.strip(), m.strip()) for p, m in pairs):
        if provider not in registry.PROVIDERS:
            raise GrantError(f"There is no provider {provider!r}.")
        cls, line = registry.get(provider), book.line(provider)
        if model != ANY and not line.known(model) and model not in line.disabled \
                and not cls.caps.open_models:
            raise GrantError(f"{cls.label} has no model {model!r}; choose one of "
                             f"{', '.join(line.offered)} or {ANY} for all.")
        out.append((provider, model))
    return out


def set_list(db: Database, who: str, scope: str, subject: str,
             pairs: Iterable[tuple[str, str]] | None, now: datetime) -> None:
    """Set (or with ``None`` remove) a role's or user's allow-list; GrantError when the
    scope, the subject or a pair does not exist."""
    if scope not in SCOPES:
        raise GrantError(f"An allow-list is for a role or a user, not {scope!r}.")
    if scope == "role" and subject not in ROLES:
        raise GrantError(f"There is no role {subject!r}; roles are {', '.join(ROLES)}.")
    if scope == "user" and db.fetchone("SELECT 1 FROM users WHERE username = ?",
                                       [subject]) is None:
        raise GrantError(f"There is no user {subject!r}.")
    checked = None if pairs is None else _check_pairs(db, pairs)
    with db.write() as cur:
        cur.execute("DELETE FROM model_grants WHERE scope = ? AND subject = ?", [scope, subject])
        cur.execute("DELETE FROM grant_lists WHERE scope = ? AND subject = ?", [scope, subject])
        record(cur, Action.ACCESS_LIST, f"{scope}:{subject}",
               {"models": "every model" if checked is None
                else ", ".join(f"{p}/{m}" for p, m in checked) or "none"}, at=now, actor=who)
        if checked is None:
            return
        cur.execute("INSERT INTO grant_lists (scope, subject, set_by, set_at) "
                    "VALUES (?, ?, ?, ?)", [scope, subject, who, now])
        for provider, model in checked:
            cur.execute("INSERT INTO model_grants (scope, subject, provider, model) "
                        "VALUES (?, ?, ?, ?)", [scope, subject, provider, model])


def _line(line: ModelLine, keep: tuple[str, ...]) -> ModelLine:
    default = line.default if line.default in keep else (keep[0] if keep else line.default)
    return ModelLine(keep, default, line.shutdowns, line.generic,
                     line.disabled | frozenset(m for m in line.offered if m not in keep),
                     line.caps)


def book_for(book: catalog.Book, grant: Grant) -> catalog.Book:
    """``book`` with only what ``grant`` allows offered: the forms, Compare's choices and
    Styles read it; a provider with nothing granted offers no model."""
    if grant.pairs is None:
        return book
    return catalog.Book({pid: _line(line, tuple(m for m in line.offered
                                                if grant.allows(pid, m)))
                         for pid in registry.PROVIDERS
                         for line in (book.line(pid),)})
