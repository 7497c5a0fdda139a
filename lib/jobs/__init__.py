"""Jobs: the model, the queue's verbs, the job store, the worker pool and the pipeline.

The public verbs are re-exported here, so callers write ``from lib import jobs`` and
``jobs.submit(...)``, ``jobs.get(...)``, ``jobs.cancel(...)``. Where each one lives:
``submission`` (submit, submit_all, resubmit, check_batch), ``cancels``, ``reads`` (get,
load, events), ``requests`` (the provider request of a job), ``model`` (states, ``Job``,
``JobSpec``, errors) and ``store`` (the one writer of the job tables).
"""

from lib.jobs.cancels import CancelResult, cancel, cancel_many
from lib.jobs.model import (
    ACTIVE,
    CANCELLED,
    DEDUPE_WINDOW_S,
    FAILED,
    HARD_PROMPT_LIMIT,
    JOB_COLUMNS,
    QUEUED,
    REQUEST_KEY_WINDOW_S,
    RUNNING,
    STATUSES,
    SUBMITTED,
    SUCCEEDED,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    Job,
    JobSpec,
    OverBudget,
    SubmitError,
)
from lib.jobs.reads import active_for_user, any_active, events, get, load
from lib.jobs.requests import request_for
from lib.jobs.store import event, transition
from lib.jobs.submission import (
    check_batch,
    request_for_spec,
    resubmit,
    submit,
    submit_all,
)

__all__ = [
    "ACTIVE", "CANCELLED", "DEDUPE_WINDOW_S", "FAILED", "HARD_PROMPT_LIMIT", "JOB_COLUMNS",
    "QUEUED", "REQUEST_KEY_WINDOW_S", "RUNNING", "STATUSES", "SUBMITTED", "SUCCEEDED",
    "TERMINAL", "TRANSITIONS",
    "CancelResult", "IllegalTransition", "Job", "JobSpec", "OverBudget", "SubmitError",
    "active_for_user", "any_active", "cancel", "cancel_many", "check_batch", "event", "events",
    "get", "load", "request_for", "request_for_spec", "resubmit", "submit", "submit_all",
    "transition",
]
