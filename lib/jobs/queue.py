"""The job queue's public verbs, under the name callers have imported them by.

::

    submit ──▶ queued ──claim──▶ running ──▶ succeeded
                 │  ▲               │ ├───▶ failed
                 │  └──retry/recover┘ └───▶ cancelled
                 └──────cancel─────────────▶ cancelled

The verbs live in ``jobs.submission`` (submit, submit_all, check_batch, resubmit),
``jobs.reads`` (load, get, events, any_active, active_for_user) and ``jobs.cancels``
(cancel, cancel_many); the states and the job row in ``jobs.model``. The jobs table is
the only source of truth and ``jobs.store`` its only writer: every transition is one
guarded ``UPDATE ... WHERE id=? AND status IN (...)`` there, which appends a
``job_events`` row in the same transaction. ``lib.jobs`` re-exports the same names, so
``from lib import jobs; jobs.submit(...)`` reads as this module does.
"""

from lib.jobs import (  # noqa: F401 - re-exported: this module is the queue's API
    ACTIVE,
    CANCELLED,
    DEDUPE_WINDOW_S,
    FAILED,
    HARD_PROMPT_LIMIT,
    JOB_COLUMNS,
    QUEUED,
    RUNNING,
    STATUSES,
    SUBMITTED,
    SUCCEEDED,
    TERMINAL,
    TRANSITIONS,
    CancelResult,
    IllegalTransition,
    Job,
    JobSpec,
    OverBudget,
    SubmitError,
    active_for_user,
    any_active,
    cancel,
    cancel_many,
    check_batch,
    event,
    events,
    get,
    load,
    request_for,
    request_for_spec,
    resubmit,
    submit,
    submit_all,
    transition,
)
