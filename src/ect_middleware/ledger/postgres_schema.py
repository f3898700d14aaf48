"""The PostgreSQL ledger's schema, and the rules the database itself enforces.

The tables mirror the SQLite engine's (``meta``, ``entries``, ``chain_head``), but nothing
here trusts the writer:

- ``entries`` is append-only: any UPDATE, DELETE or TRUNCATE statement on it is refused,
  even one that matches no row.
- Rows can only be inserted as consecutive entries that link to each other by
  ``prev_hash`` and extend the current chain head. A statement-level trigger checks that
  over all the rows one statement inserted and then moves the head to the last of them, in
  the same transaction. So a second writer can never fork the chain, even one that skipped
  the head lock, and the head is never moved by the application itself.
- ``chain_head`` has exactly one row. INSERT, DELETE and TRUNCATE are refused, and an
  UPDATE is refused unless it advances the head to an entry that exists with that hash,
  which only the append path can arrange (no entry ever exists beyond the head).

The database cannot recompute entry hashes (Python's canonical JSON is the reference), so
a forged but well-linked insert is still possible for whoever may INSERT: ``verify_chain``
finds it, as it finds everything a superuser does with the triggers disabled. Deploy the
services under a role that does not own these tables (owners and superusers can disable
triggers), with the privileges in ``GRANTS``: UPDATE on ``chain_head`` is needed to lock
the row, and safe, since the guard refuses every update but the append path's.
"""

from __future__ import annotations

from psycopg import sql

from .base import GENESIS_HASH

SCHEMA_VERSION = 2

#: Serialises schema creation and migration between processes starting at once.
_LOCK_NAMESPACE = "ect_middleware.ledger.schema:"


def lock_key(schema: str) -> str:
    """Text hashed (``hashtextextended``) into the advisory lock key for ``schema``."""
    return _LOCK_NAMESPACE + schema


def create_statements(schema: str) -> list[sql.Composed]:
    """Everything ``SCHEMA_VERSION`` consists of, for an empty schema, in order."""
    s = sql.Identifier(schema)
    parts = [
        "CREATE SCHEMA IF NOT EXISTS {s}",
        "CREATE TABLE {s}.meta (key text PRIMARY KEY, value text NOT NULL)",
        """CREATE TABLE {s}.entries (
            seq bigint PRIMARY KEY,
            ect text NOT NULL,
            wit text,
            direction text NOT NULL,
            recorder text NOT NULL,
            jti text NOT NULL,
            wid text,
            iss text NOT NULL,
            iat double precision NOT NULL,
            par text[] NOT NULL,
            unresolved text[] NOT NULL,
            recorded_us bigint NOT NULL,
            prev_hash text NOT NULL,
            hash text NOT NULL,
            trace_id text
        )""",
        "CREATE INDEX entries_jti ON {s}.entries (jti)",
        # (wid, seq): one workflow's entries come back in chain order from the index alone.
        "CREATE INDEX entries_wid ON {s}.entries (wid, seq)",
        """CREATE TABLE {s}.chain_head (
            id integer PRIMARY KEY CHECK (id = 1),
            seq bigint NOT NULL,
            hash text NOT NULL
        )""",
        "INSERT INTO {s}.chain_head (id, seq, hash) VALUES (1, 0, {genesis})",
        # Not part of the chain: one row per server session, see ``FLUSH`` below.
        "CREATE TABLE {s}.flush_marks (backend integer PRIMARY KEY, flushes bigint NOT NULL)",
        """CREATE FUNCTION {s}.refuse_change() RETURNS trigger
        LANGUAGE plpgsql SET search_path = '' AS $body$
        BEGIN
            RAISE EXCEPTION 'the ECT ledger is append-only: % on % refused',
                TG_OP, TG_TABLE_NAME;
        END
        $body$""",
        # One query over the inserted rows (``added``) checks them all: in seq order, each
        # after the first follows the one before (seq + 1) and links to its hash.
        """CREATE FUNCTION {s}.extend_head() RETURNS trigger
        LANGUAGE plpgsql SET search_path = '' AS $body$
        DECLARE
            lo bigint;
            hi bigint;
            n bigint;
            linked boolean;
            first_prev text;
            last_hash text;
        BEGIN
            SELECT min(a.seq), max(a.seq), count(*),
                   bool_and(a.before IS NULL
                            OR (a.before = a.seq - 1 AND a.before_hash = a.prev_hash)),
                   min(a.prev_hash) FILTER (WHERE a.before IS NULL),
                   min(a.hash) FILTER (WHERE a.after IS NULL)
              INTO lo, hi, n, linked, first_prev, last_hash
              FROM (SELECT seq, prev_hash, hash,
                           lag(seq) OVER w AS before, lag(hash) OVER w AS before_hash,
                           lead(seq) OVER w AS after
                      FROM added WINDOW w AS (ORDER BY seq)) a;
            IF n = 0 THEN
                RETURN NULL;
            END IF;
            IF NOT linked THEN
                RAISE EXCEPTION
                    'ECT ledger entries must be consecutive and each link to the one before it';
            END IF;
            UPDATE {s}.chain_head h SET seq = hi, hash = last_hash
                WHERE h.id = 1 AND h.seq = lo - 1 AND h.hash = first_prev;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'ECT ledger entries must extend the chain head';
            END IF;
            RETURN NULL;
        END
        $body$""",
        """CREATE FUNCTION {s}.guard_head() RETURNS trigger
        LANGUAGE plpgsql SET search_path = '' AS $body$
        BEGIN
            IF NEW.id <> OLD.id OR NEW.seq <= OLD.seq OR NOT EXISTS (
                SELECT 1 FROM {s}.entries e WHERE e.seq = NEW.seq AND e.hash = NEW.hash
            ) THEN
                RAISE EXCEPTION 'the ECT ledger chain head only moves when entries are appended';
            END IF;
            RETURN NEW;
        END
        $body$""",
        """CREATE TRIGGER entries_append_only
            BEFORE UPDATE OR DELETE OR TRUNCATE ON {s}.entries
            FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_change()""",
        """CREATE TRIGGER entries_extend_head
            AFTER INSERT ON {s}.entries REFERENCING NEW TABLE AS added
            FOR EACH STATEMENT EXECUTE FUNCTION {s}.extend_head()""",
        """CREATE TRIGGER chain_head_single_row
            BEFORE INSERT OR DELETE OR TRUNCATE ON {s}.chain_head
            FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_change()""",
        """CREATE TRIGGER chain_head_moves_forward
            BEFORE UPDATE ON {s}.chain_head
            FOR EACH ROW EXECUTE FUNCTION {s}.guard_head()""",
        "INSERT INTO {s}.meta (key, value) VALUES ('schema_version', {version})",
    ]
    return [
        sql.SQL(part).format(
            s=s, genesis=sql.Literal(GENESIS_HASH), version=sql.Literal(str(SCHEMA_VERSION))
        )
        for part in parts
    ]


#: Run after an append has committed asynchronously and released the head lock: a tiny
#: write committed at the session's own ``synchronous_commit`` level. WAL is flushed in
#: order, so when this commit is durable the append before it is too, and the fsync
#: happens outside the lock, shared by concurrent writers (group commit).
FLUSH = """INSERT INTO {s}.flush_marks AS m (backend, flushes) VALUES (pg_backend_pid(), 1)
    ON CONFLICT (backend) DO UPDATE SET flushes = m.flushes + 1"""

#: Rows of server sessions that have ended (their process ids may be reused, harmlessly).
FORGET_ENDED_SESSIONS = """DELETE FROM {s}.flush_marks
    WHERE backend NOT IN (SELECT pid FROM pg_catalog.pg_stat_activity)"""

#: What a service role that does not own the schema needs ({s}: schema, {r}: role).
GRANTS = (
    "GRANT USAGE ON SCHEMA {s} TO {r}",
    "GRANT SELECT ON {s}.meta TO {r}",
    "GRANT SELECT, INSERT ON {s}.entries TO {r}",
    "GRANT SELECT, UPDATE ON {s}.chain_head TO {r}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.flush_marks TO {r}",
)

#: From version N to N + 1 (index N - 1). A migration runs under the schema lock, in the
#: same transaction as the version update, so a crash never half-applies one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1 -> 2: the OpenTelemetry trace id of an entry (NULL for the entries before).
    ("ALTER TABLE {s}.entries ADD COLUMN trace_id text",),
)
