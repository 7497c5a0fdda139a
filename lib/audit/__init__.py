"""The audit log: every security- and money-relevant action, appended with who, when, what and
through which session or token (``log``: recording; ``query``: reading, CSV, retention).

Low in the layers (it needs only ``lib/db`` and ``lib/core``), so the verbs that act
(``lib/auth``, ``lib/money``, ``lib/jobs``, ``lib/catalog``, ``lib/webhooks``, ...) record in
their own transactions.
"""

from lib.audit.log import (
    ANONYMOUS,
    SYSTEM,
    Action,
    Actor,
    acting,
    current,
    record,
    record_each,
    record_now,
    set_actor,
)
from lib.audit.query import CSV_LIMIT, Entry, Filter, actors, prune, search, to_csv

__all__ = ["ANONYMOUS", "CSV_LIMIT", "SYSTEM", "Action", "Actor", "Entry", "Filter", "acting",
           "actors", "current", "prune", "record", "record_each", "record_now", "search",
           "set_actor", "to_csv"]
