"""The schema, as append-only migrations: each runs once, in order, and is recorded.

Never edit one that has shipped: add a new one at the end. ``lib.db.database.Database.migrate`` runs
them inside one write transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from lib.db import (
    audit_tables,
    board_tables,
    catalog_tables,
    grant_tables,
    postgres_only,
    tag_tables,
)
from lib.db.cursor import Cursor


def _m001_core(cur: Cursor) -> None:
    """Jobs, their events, images, prices, users and budgets."""
    cur.execute(
        """
        CREATE TABLE users (
            username TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT,
            role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'analyst')),
            password_hash TEXT,
            disabled BOOLEAN NOT NULL DEFAULT false,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TIMESTAMP,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            batch_id TEXT,
            user_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt TEXT NOT NULL,
            negative_prompt TEXT,
            style TEXT,
            width INTEGER,
            height INTEGER,
            aspect_ratio TEXT,
            quality TEXT,
            seed BIGINT,
            n INTEGER NOT NULL DEFAULT 1,
            reference_key TEXT,
            watermark TEXT,
            params TEXT,
            client_token TEXT,
            provider_state TEXT,
            worker_id TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL DEFAULT 4,
            next_run_at TIMESTAMP NOT NULL,
            cancel_requested BOOLEAN NOT NULL DEFAULT false,
            progress DOUBLE,
            progress_note TEXT,
            error_type TEXT,
            error_message TEXT,
            request_id TEXT,
            usage TEXT,
            estimated_cost_usd DECIMAL(18, 8),
            cost_usd DECIMAL(18, 8),
            duration_ms INTEGER,
            created_at TIMESTAMP NOT NULL,
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            demo BOOLEAN NOT NULL DEFAULT false,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE INDEX jobs_status_idx ON jobs (status);
        CREATE INDEX jobs_user_idx ON jobs (user_id);
        CREATE SEQUENCE job_events_seq;
        CREATE TABLE job_events (
            id BIGINT PRIMARY KEY DEFAULT nextval('job_events_seq'),
            job_id TEXT NOT NULL,
            "at" TIMESTAMP NOT NULL,
            from_status TEXT,
            to_status TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX job_events_job_idx ON job_events (job_id);
        CREATE TABLE images (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            user_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt TEXT NOT NULL,
            negative_prompt TEXT,
            style TEXT,
            quality TEXT,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            seed BIGINT,
            original_key TEXT NOT NULL,
            watermarked_key TEXT,
            thumb_key TEXT NOT NULL,
            bytes BIGINT NOT NULL,
            cost_usd DECIMAL(18, 8),
            duration_ms INTEGER,
            request_id TEXT,
            shared BOOLEAN NOT NULL DEFAULT false,
            demo BOOLEAN NOT NULL DEFAULT false,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE image_ratings (
            image_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
            rated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (image_id, user_id)
        );
        CREATE TABLE favourites (
            image_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            added_at TIMESTAMP NOT NULL,
            PRIMARY KEY (image_id, user_id)
        );
        CREATE INDEX images_job_idx ON images (job_id);
        CREATE INDEX images_user_idx ON images (user_id);
        CREATE INDEX images_created_idx ON images (created_at);
        CREATE SEQUENCE claim_turn_seq;
        CREATE TABLE claim_turns (
            user_id TEXT PRIMARY KEY,
            turn BIGINT NOT NULL
        );
        CREATE SEQUENCE prices_seq;
        CREATE TABLE prices (
            id BIGINT PRIMARY KEY DEFAULT nextval('prices_seq'),
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            variant TEXT NOT NULL DEFAULT '*',
            unit TEXT NOT NULL,
            usd_per_unit DECIMAL(18, 10) NOT NULL CHECK (usd_per_unit >= 0),
            effective_from TIMESTAMP NOT NULL,
            source TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE budgets (
            scope TEXT NOT NULL CHECK (scope IN ('user', 'team')),
            subject TEXT NOT NULL,
            monthly_usd DECIMAL(18, 2) NOT NULL CHECK (monthly_usd >= 0),
            warn_fraction DOUBLE NOT NULL DEFAULT 0.8,
            updated_by TEXT NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (scope, subject)
        );
        """
    )


def _m002_auth_sessions(cur: Cursor) -> None:
    """Server-side session revocation, and the last sign-in time."""
    cur.execute("ALTER TABLE users ADD COLUMN sessions_valid_after TIMESTAMP")
    cur.execute("ALTER TABLE users ADD COLUMN last_login_at TIMESTAMP")


def _m003_styles(cur: Cursor) -> None:
    """The team's styles library: prompt templates, curated by admins, proposed by members."""
    cur.execute(
        """
        CREATE TABLE styles (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            template TEXT NOT NULL,
            negative TEXT NOT NULL DEFAULT '',
            settings TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL CHECK (status IN ('active', 'proposed', 'archived')),
            builtin BOOLEAN NOT NULL DEFAULT false,
            preview_key TEXT,
            created_by TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )
        """
    )


def _m004_price_audit(cur: Cursor) -> None:
    """Which price rows priced each job, and an audit trail of price changes and recomputes."""
    cur.execute("ALTER TABLE jobs ADD COLUMN price_ids TEXT")
    cur.execute("CREATE SEQUENCE price_audit_seq")
    cur.execute(
        """
        CREATE TABLE price_audit (
            id BIGINT PRIMARY KEY DEFAULT nextval('price_audit_seq'),
            "at" TIMESTAMP NOT NULL,
            by_user TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL
        )
        """
    )


def _m005_comparisons(cur: Cursor) -> None:
    """Saved comparisons (the Compare page): axes, the job of each cell, a winner per row."""
    cur.execute(
        """
        CREATE TABLE comparisons (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            title TEXT NOT NULL,
            axes TEXT NOT NULL,
            shared BOOLEAN NOT NULL DEFAULT false,
            client_token TEXT,
            created_at TIMESTAMP NOT NULL
        );
        CREATE INDEX comparisons_owner_idx ON comparisons (owner);
        CREATE TABLE comparison_cells (
            comparison_id TEXT NOT NULL,
            row_idx INTEGER NOT NULL,
            col_idx INTEGER NOT NULL,
            job_id TEXT,
            note TEXT,
            images_shared BOOLEAN NOT NULL DEFAULT false,
            PRIMARY KEY (comparison_id, row_idx, col_idx)
        );
        CREATE TABLE comparison_winners (
            comparison_id TEXT NOT NULL,
            row_idx INTEGER NOT NULL,
            col_idx INTEGER NOT NULL,
            by_user TEXT NOT NULL,
            "at" TIMESTAMP NOT NULL,
            PRIMARY KEY (comparison_id, row_idx)
        );
        """
    )


def _m006_style_preview_jobs(cur: Cursor) -> None:
    """The job drawing a style's preview through the queue (lib.jobs.style_previews)."""
    cur.execute("ALTER TABLE styles ADD COLUMN preview_job_id TEXT")


def _m007_storage_debt(cur: Cursor) -> None:
    """Storage prefixes whose delete failed (storage down), retried until it succeeds."""
    cur.execute(
        "CREATE TABLE storage_debt (prefix TEXT PRIMARY KEY, reason TEXT NOT NULL, "
        "since TIMESTAMP NOT NULL)"
    )


def _m008_job_image_counts(cur: Cursor) -> None:
    """``jobs.images``: how many ``images`` rows the job has, kept with them in the same
    transactions (stored, deleted, recovered), so analytics need not count them per job."""
    cur.execute("ALTER TABLE jobs ADD COLUMN images INTEGER DEFAULT 0")
    cur.execute(
        "UPDATE jobs SET images = c.n FROM (SELECT job_id, count(*) AS n FROM images "
        "GROUP BY 1) c WHERE jobs.id = c.job_id"
    )


def _m009_deleted_images(cur: Cursor) -> None:
    """``jobs.images_deleted`` and ``jobs.deleted_cost_usd``: images deleted from a job and
    what they cost, so a deleted image keeps its cost on its own ledger line (never moved
    onto its siblings) and cost per image counts every image made."""
    cur.execute("ALTER TABLE jobs ADD COLUMN images_deleted INTEGER DEFAULT 0")
    cur.execute("ALTER TABLE jobs ADD COLUMN deleted_cost_usd DECIMAL(18, 8)")


def _m010_api_tokens(cur: Cursor) -> None:
    """Personal API tokens: only a SHA-256 of each is kept (a token is 256 random bits, so a
    fast hash is enough), with its owner, name, scope and when it was made, used, revoked."""
    cur.execute(
        "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, username TEXT NOT NULL, "
        "name TEXT NOT NULL, scope TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, "
        "hint TEXT NOT NULL, created_at TIMESTAMP NOT NULL, last_used_at TIMESTAMP, "
        "revoked_at TIMESTAMP)"
    )


def _m011_webhooks(cur: Cursor) -> None:
    """Outgoing webhooks (lib.webhooks): the endpoints admins register, one delivery row per
    event and endpoint (the body exactly as sent, kept until delivered or given up, so it
    survives a restart), the outbox's read positions in ``job_events`` and ``price_audit``
    (set to their ends now: history is not announced), and what was announced once only
    (a finished batch, a budget's threshold in a month)."""
    cur.execute(
        """
        CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('standard', 'slack')),
            events TEXT NOT NULL,
            secret TEXT,
            threshold DOUBLE,
            created_by TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            disabled BOOLEAN NOT NULL DEFAULT false,
            last_status TEXT,
            last_error TEXT,
            last_delivery_at TIMESTAMP
        );
        CREATE SEQUENCE webhook_deliveries_seq;
        CREATE TABLE webhook_deliveries (
            id BIGINT PRIMARY KEY DEFAULT nextval('webhook_deliveries_seq'),
            endpoint_id TEXT NOT NULL,
            webhook_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            payload TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TIMESTAMP NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'delivered', 'failed', 'gave_up')),
            last_status_code INTEGER,
            last_error TEXT,
            created_at TIMESTAMP NOT NULL,
            delivered_at TIMESTAMP
        );
        CREATE TABLE webhook_cursors (name TEXT PRIMARY KEY, position BIGINT NOT NULL);
        INSERT INTO webhook_cursors
            SELECT 'job_events', coalesce(max(id), 0) FROM job_events
            UNION ALL SELECT 'price_audit', coalesce(max(id), 0) FROM price_audit;
        CREATE TABLE webhook_announced (key TEXT PRIMARY KEY, "at" TIMESTAMP NOT NULL);
        """
    )


def _m012_api_idempotency(cur: Cursor) -> None:
    """The answers to API writes sent with an Idempotency-Key, per user and key, for a day: a
    repeat gets the same answer instead of a second job."""
    cur.execute(
        "CREATE TABLE api_idempotency (username TEXT NOT NULL, idem_key TEXT NOT NULL, "
        "fingerprint TEXT NOT NULL, state TEXT NOT NULL, status INTEGER, body BLOB, "
        "content_type TEXT, created_at TIMESTAMP NOT NULL, PRIMARY KEY (username, idem_key))"
    )


def _m013_credentials_changed(cur: Cursor) -> None:
    """When a user's password or role last changed or they were disabled: API tokens made
    before it stop (a sign-out, which stamps sessions_valid_after, does not stop them)."""
    cur.execute("ALTER TABLE users ADD COLUMN credentials_changed_at TIMESTAMP")
    cur.execute("UPDATE users SET credentials_changed_at = sessions_valid_after")


def _m014_meta(cur: Cursor) -> None:
    """Facts about the installation itself (key → value): e.g. the id of the image storage
    this database's rows point into, so a replica mounted on other storage is refused."""
    cur.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _m015_worker_leases(cur: Cursor) -> None:
    """A running job's lease: its worker renews ``lease_until`` while it lives; a job whose
    lease ran out (the worker was killed, froze or lost the network) is queued again by any
    live worker. ``workers`` lists the worker processes, each renewing its ``seen_at``."""
    cur.execute("ALTER TABLE jobs ADD COLUMN lease_until TIMESTAMP")
    cur.execute(
        "CREATE TABLE workers (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, "
        "threads INTEGER NOT NULL, started_at TIMESTAMP NOT NULL, seen_at TIMESTAMP NOT NULL)"
    )


def _m018_provider_cost(cur: Cursor) -> None:
    """What the provider itself said a job cost (BFL's credits, a gateway's cost header),
    beside ``cost_usd``, the cost Promptboard computed from usage and prices: admins see
    where the two differ instead of one being chosen silently."""
    cur.execute("ALTER TABLE jobs ADD COLUMN provider_cost_usd DECIMAL(18, 8)")


MIGRATIONS: list[tuple[str, Callable[[Cursor], None]]] = [
    ("001_core", _m001_core),
    ("002_auth_sessions", _m002_auth_sessions),
    ("003_styles", _m003_styles),
    ("004_price_audit", _m004_price_audit),
    ("005_comparisons", _m005_comparisons),
    ("006_style_preview_jobs", _m006_style_preview_jobs),
    ("007_storage_debt", _m007_storage_debt),
    ("008_job_image_counts", _m008_job_image_counts),
    ("009_deleted_images", _m009_deleted_images),
    ("010_api_tokens", _m010_api_tokens),
    ("011_webhooks", _m011_webhooks),
    ("012_api_idempotency", _m012_api_idempotency),
    ("013_credentials_changed", _m013_credentials_changed),
    ("014_meta", _m014_meta),
    ("015_worker_leases", _m015_worker_leases),
    ("016_postgres_analytics_indexes", postgres_only.analytics_indexes),
    ("017_postgres_job_days", postgres_only.job_days),
    ("018_provider_cost", _m018_provider_cost),
    ("019_model_catalog", catalog_tables.create_tables),
    ("020_model_caps", catalog_tables.model_caps),
    ("021_model_check_deprecated", catalog_tables.check_deprecated),
    ("022_model_grants", grant_tables.create_tables),
    ("023_audit_log", audit_tables.create_tables),
    ("024_image_tags", tag_tables.create_tables),
    ("025_boards", board_tables.create_tables),
]
