"""The one root of the errors a person reads: catch ``PromptboardError`` and show ``str(exc)``.

Every exception that ``lib`` raises *for a person* (a page, the CLI, later the API) derives from
:class:`PromptboardError`; its message says what happened and what to do, and holds no secret,
no SQL and no response body. Each keeps the built-in base it had (``ValueError``,
``PermissionError``, ...) so older ``except`` clauses still match. ::

    PromptboardError
    ├── AuthError (ValueError)               lib.auth.accounts: sign-in, passwords, users, roles
    ├── PermissionDenied                     lib.auth.accounts: the signed-in user may not do that
    ├── GalleryError (PermissionError)       lib.gallery.queries: not yours to see, rate or delete
    ├── DownloadRefused (PermissionError)    lib.gallery.media: no download of that image for you
    ├── TagError (ValueError)                lib.gallery.tagnames: a tag refused, or too many
    ├── BoardError (ValueError)              lib.boards.rules: a board name or change refused
    ├── BoardDenied (PermissionError)        lib.boards.rules: a board you may not change
    ├── BoardMissing (LookupError)           lib.boards.rules: no such board, or not visible
    ├── SubmitError (ValueError)             lib.jobs.model: a request refused before queueing
    │   ├── OverBudget                       ... it would take a monthly budget over its limit
    │   └── NotAllowed                       ... a model off the user's allow-list
    ├── BudgetExceeded (ValueError)          lib.money.budgets: a budget setting that cannot be
    ├── CompareError (ValueError)            lib.compare.grid: a grid that cannot run
    │   └── NeedsConfirmation                ... until its cost is confirmed
    ├── StyleError (ValueError)              lib.styles.library: a style that cannot be saved
    ├── CatalogError (ValueError)            lib.catalog.store: a model change that cannot be
    ├── GrantError (ValueError)              lib.grants.rules: an allow-list or cap not set
    │   └── CapReached                       lib.grants.caps: past the user's daily image cap
    ├── ReportError (ValueError)             lib.reporting.report: a report that cannot be written
    ├── WebhookError (ValueError)            lib.webhooks.targets: an endpoint that cannot be kept
    ├── ImageError (ValueError)              lib.imaging.pngmeta: not an image we can read
    ├── StreamError (ValueError)             lib.imaging.stream: an upload over its caps
    ├── StorageError                         lib.storage.base: the image store failed
    │   └── ObjectMissing                    ... an object is not there
    ├── DatabaseLocked (RuntimeError)        lib.db: another process holds the database file
    ├── CopyError (RuntimeError)             lib.db.transfer: a db copy refused or not matching
    ├── BackupError (RuntimeError)           lib.db.backup: a backup refused or not matching
    ├── ReplicaRefused (RuntimeError)        lib.replica: cannot run as one of several replicas
    ├── UnknownProvider (KeyError)           lib.providers.registry: no provider has that id
    ├── ConfigProblem (ValueError)           lib.providers.endpoints: an endpoint entry skipped
    ├── ApiError                             lib.api.errors: an HTTP refusal with its status
    ├── RemoteError                          lib.apiclient: the CLI's server refused or is away
    └── ProviderError                        lib.providers.base: a provider call failed; its
        ├── NeedsKey                         ``error_type`` is stored with the failed job
        ├── Rejected
        │   └── SafetyBlocked
        ├── QuotaExhausted
        ├── RateLimited                      (retryable)
        ├── Unavailable                      (retryable)
        ├── BadResponse
        ├── Uncertain
        └── Cancelled

Not under it, on purpose: ``lib.jobs.model.IllegalTransition`` (a job moved the wrong way: a
bug or a lost race, logged, never worded for a person), ``lib.providers.catalog_seed.SeedError``
(the shipped model file is malformed: a bug of the release, caught by its tests) and private
helpers (``_TooLarge``).
``tests/core/test_errors.py`` keeps this tree and the code in step.
"""

from __future__ import annotations


class PromptboardError(Exception):
    """An error whose message is written for the person who caused it."""
