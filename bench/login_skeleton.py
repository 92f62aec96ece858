"""The least a Python server can do for one Kratos-style password login, as Warden's architecture
shapes it: what `bench/login.py --modes skeleton` measures beside Warden, to tell Warden's own cost
from the architecture's (issue 17).

It is not Warden and serves nothing else. Per login it does what Warden's all-in-one does on
PostgreSQL, on the same stack (aiohttp on uvloop, asyncpg with prepared statements, argon2-cffi on a
pool of one thread per core at a lower priority, the access log on, to a file), and nothing more:
no middleware, no schema, no UI rendering, no tracing, no metrics, no events delivered anywhere.

- GET  /self-service/login/api: one INSERT of the flow; a flow document as JSON.
- POST /self-service/login?flow=: the flow's SELECT; the throttle's counting upsert as a CTE of the
  identity's load (one statement); the argon2 verify; the throttle's clearing; the session's INSERT
  with its event (one statement); the flow's close with its event (one statement). The same six
  statements, each its own transaction, as Warden's (tests/integration/test_round_trips.py).
- An outbox relay, woken by the commits and lingering 0.2 s as Warden's, deletes the events in batches.
- PATCH /admin/identities (the bench's import), GET /sessions/whoami (its primed session, through
  Redis as Warden's cache), GET /health/ready.

    python bench/login_skeleton.py --dsn postgres://... --port P --redis URL --prefix PREFIX --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import asyncpg
import redis.asyncio as redis
import uvloop
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

SCHEMA = """
CREATE TABLE flows (id uuid PRIMARY KEY, type text NOT NULL, state text NOT NULL, request_url text NOT NULL,
  issued_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, requested_aal text NOT NULL);
CREATE TABLE identities (id uuid PRIMARY KEY, schema_id text NOT NULL, state text NOT NULL, traits jsonb NOT NULL,
  created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE credentials (id uuid PRIMARY KEY, identity_id uuid NOT NULL REFERENCES identities, type text NOT NULL,
  config jsonb NOT NULL);
CREATE TABLE credential_identifiers (type text NOT NULL, identifier text NOT NULL, credential_id uuid NOT NULL,
  PRIMARY KEY (type, identifier));
CREATE TABLE throttle (key_hash text PRIMARY KEY, failures integer NOT NULL, updated_at double precision NOT NULL);
CREATE TABLE sessions (id uuid PRIMARY KEY, token_hash text NOT NULL UNIQUE, identity_id uuid NOT NULL,
  active boolean NOT NULL, aal text NOT NULL, authenticated_at timestamptz NOT NULL, issued_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL, methods jsonb NOT NULL, devices jsonb NOT NULL);
CREATE TABLE outbox (position bigserial PRIMARY KEY, id uuid NOT NULL, type text NOT NULL,
  occurred_at timestamptz NOT NULL, data text NOT NULL);
"""

INSERT_FLOW = "INSERT INTO flows VALUES ($1, 'api', 'choose_method', $2, $3, $4, 'aal1')"
SELECT_FLOW = "SELECT id, state, expires_at FROM flows WHERE id = $1"
# Both throttle keys counted, returned beside the identity's row (one row whether or not it exists).
COUNT_AND_LOAD = """
WITH counted AS (
  INSERT INTO throttle (key_hash, failures, updated_at) VALUES ($1, 1, $3), ($2, 1, $3)
  ON CONFLICT (key_hash) DO UPDATE SET
    failures = CASE WHEN throttle.updated_at < $4 THEN 1 ELSE throttle.failures + 1 END, updated_at = $3
  RETURNING key_hash, failures)
SELECT (SELECT array_agg(failures) FROM counted) AS failures, i.id, i.schema_id, i.state, i.traits,
  i.created_at, i.updated_at, c.config
FROM (SELECT 1) AS one
LEFT JOIN credential_identifiers ci ON ci.type = 'password' AND ci.identifier = $5
LEFT JOIN credentials c ON c.id = ci.credential_id
LEFT JOIN identities i ON i.id = c.identity_id
"""
CLEAR_THROTTLE = "DELETE FROM throttle WHERE key_hash = ANY($1::text[])"
INSERT_SESSION = """
WITH s AS (INSERT INTO sessions VALUES ($1, $2, $3, true, 'aal1', $4, $4, $5, $6, $7))
INSERT INTO outbox (id, type, occurred_at, data) VALUES ($8, 'session.issued', $4, $9)
"""
CLOSE_FLOW = """
WITH f AS (UPDATE flows SET state = 'passed' WHERE id = $1)
INSERT INTO outbox (id, type, occurred_at, data) VALUES ($2, 'selfservice.login.succeeded', $3, $4)
"""
RELAY = """
DELETE FROM outbox WHERE position IN (SELECT position FROM outbox ORDER BY position LIMIT 100 FOR UPDATE SKIP LOCKED)
RETURNING position, id, type, occurred_at, data
"""
SELECT_SESSION = """
SELECT s.id, s.identity_id, s.expires_at, s.authenticated_at, i.traits FROM sessions s
JOIN identities i ON i.id = s.identity_id WHERE s.token_hash = $1 AND s.active AND s.expires_at > now()
"""


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Skeleton:
    def __init__(self, pool: asyncpg.Pool, cache: redis.Redis, prefix: str, workers: int) -> None:
        self.pool, self.cache, self.prefix = pool, cache, prefix
        self.hashing = ThreadPoolExecutor(workers, initializer=self._lower_priority)
        self.written = asyncio.Event()
        self.hasher = PasswordHasher()

    @staticmethod
    def _lower_priority() -> None:  # as Warden's hashing pool, and how bench/login.py tells its threads
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)

    async def create_flow(self, request: web.Request) -> web.Response:
        now = datetime.now(UTC)
        flow_id = uuid.uuid4()
        url = str(request.url)
        await self.pool.execute(INSERT_FLOW, flow_id, url, now, now + timedelta(hours=1))
        action = f"{request.url.origin()}/self-service/login?flow={flow_id}"
        return web.json_response(
            {
                "id": str(flow_id),
                "type": "api",
                "expires_at": _iso(now + timedelta(hours=1)),
                "issued_at": _iso(now),
                "request_url": url,
                "refresh": False,
                "requested_aal": "aal1",
                "state": "choose_method",
                "ui": {"action": action, "method": "POST", "nodes": _NODES},
            }
        )

    async def submit(self, request: web.Request) -> web.Response:
        flow_id = uuid.UUID(request.query["flow"])
        body = await request.json()
        flow = await self.pool.fetchrow(SELECT_FLOW, flow_id)
        if flow is None or flow["state"] != "choose_method" or flow["expires_at"] < datetime.now(UTC):
            return web.json_response({"error": {"code": 410, "status": "Gone"}}, status=410)
        identifier = str(body["identifier"]).strip().lower()
        keys = [
            hashlib.sha256(b"identifier\0" + identifier.encode()).hexdigest(),
            hashlib.sha256(f"pair\0{identifier}\0{request.remote}".encode()).hexdigest(),
        ]
        now = time.time()
        row = await self.pool.fetchrow(COUNT_AND_LOAD, keys[0], keys[1], now, now - 3600, identifier)
        if row["id"] is None or not await self._verify(json.loads(row["config"])["hashed_password"], body["password"]):
            return web.json_response({"error": {"code": 400, "id": "4000006"}}, status=400)
        await self.pool.execute(CLEAR_THROTTLE, keys)
        session = await self._issue(request, row)
        occurred = datetime.now(UTC)
        event = json.dumps({"flow_id": str(flow_id), "identity_id": str(row["id"])}, separators=(",", ":"))
        await self.pool.execute(CLOSE_FLOW, flow_id, uuid.uuid4(), occurred, event)
        self.written.set()
        return web.json_response(session)

    async def _verify(self, encoded: str, password: str) -> bool:
        loop = asyncio.get_running_loop()
        try:
            return bool(await loop.run_in_executor(self.hashing, self.hasher.verify, encoded, password))
        except VerificationError:
            return False

    async def _issue(self, request: web.Request, identity: asyncpg.Record) -> dict:
        token = "ory_st_" + secrets.token_urlsafe(24)
        session_id = uuid.uuid4()
        now = datetime.now(UTC)
        expires = now + timedelta(hours=24)
        methods = [{"method": "password", "aal": "aal1", "completed_at": _iso(now)}]
        devices = [
            {"id": str(uuid.uuid4()), "ip_address": request.remote, "user_agent": request.headers.get("User-Agent", "")}
        ]
        event = json.dumps({"session_id": str(session_id), "identity_id": str(identity["id"])}, separators=(",", ":"))
        await self.pool.execute(
            INSERT_SESSION,
            session_id,
            hashlib.sha256(token.encode()).hexdigest(),
            identity["id"],
            now,
            expires,
            json.dumps(methods),
            json.dumps(devices),
            uuid.uuid4(),
            event,
        )
        return {
            "session_token": token,
            "session": {
                "id": str(session_id),
                "active": True,
                "expires_at": _iso(expires),
                "authenticated_at": _iso(now),
                "authenticator_assurance_level": "aal1",
                "authentication_methods": methods,
                "issued_at": _iso(now),
                "identity": {
                    "id": str(identity["id"]),
                    "schema_id": identity["schema_id"],
                    "state": identity["state"],
                    "traits": json.loads(identity["traits"]),
                    "created_at": _iso(identity["created_at"]),
                    "updated_at": _iso(identity["updated_at"]),
                },
                "devices": devices,
            },
        }

    async def relay(self) -> None:
        while True:
            await self.written.wait()
            await asyncio.sleep(0.2)  # Warden's LINGER_SECONDS
            self.written.clear()
            while True:
                async with self.pool.acquire() as conn, conn.transaction():
                    rows = await conn.fetch(RELAY)
                for row in rows:
                    json.loads(row["data"])  # what a publish would read
                if len(rows) < 100:
                    break

    async def whoami(self, request: web.Request) -> web.Response:
        digest = hashlib.sha256(request.headers.get("X-Session-Token", "").encode()).hexdigest()
        key = f"{self.prefix}session:{digest}"
        cached = await self.cache.get(key)
        if cached is not None:
            return web.Response(body=cached, content_type="application/json")
        row = await self.pool.fetchrow(SELECT_SESSION, digest)
        if row is None:
            return web.json_response({"error": {"code": 401}}, status=401)
        body = json.dumps({"id": str(row["id"]), "active": True, "identity": {"id": str(row["identity_id"])}}).encode()
        await self.cache.set(key, body, px=300_000)
        return web.Response(body=body, content_type="application/json")

    async def import_identities(self, request: web.Request) -> web.Response:
        results = []
        async with self.pool.acquire() as conn, conn.transaction():
            for item in (await request.json())["identities"]:
                create = item["create"]
                identity_id, credential_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
                await conn.execute(
                    "INSERT INTO identities VALUES ($1, $2, 'active', $3, $4, $4)",
                    identity_id,
                    create["schema_id"],
                    json.dumps(create["traits"]),
                    now,
                )
                config = {"hashed_password": create["credentials"]["password"]["config"]["hashed_password"]}
                await conn.execute(
                    "INSERT INTO credentials VALUES ($1, $2, 'password', $3)",
                    credential_id,
                    identity_id,
                    json.dumps(config),
                )
                await conn.execute(
                    "INSERT INTO credential_identifiers VALUES ('password', $1, $2)",
                    create["traits"]["email"].lower(),
                    credential_id,
                )
                results.append({"action": "create", "identity": str(identity_id), "patch_id": item["patch_id"]})
        return web.json_response({"identities": results})


_NODES = [
    {
        "type": "input",
        "group": group,
        "attributes": {"name": name, "type": kind, "value": value, "required": required, "disabled": False},
        "messages": [],
        "meta": meta,
    }
    for group, name, kind, value, required, meta in (
        ("default", "identifier", "text", "", True, {"label": {"id": 1070004, "text": "ID", "type": "info"}}),
        (
            "password",
            "password",
            "password",
            None,
            True,
            {"label": {"id": 1070001, "text": "Password", "type": "info"}},
        ),
        (
            "password",
            "method",
            "submit",
            "password",
            None,
            {"label": {"id": 1010001, "text": "Sign in", "type": "info"}},
        ),
    )
]


class _NoReset(asyncpg.Connection):  # type: ignore[misc]
    """asyncpg's pool resets a connection at each release with a query of its own (a round trip and a
    commit more per statement); the skeleton's statements leave nothing to reset, as Warden's pool
    (shared/storage/pg_pool.py) knows of its own."""

    def get_reset_query(self) -> str:
        return ""


async def serve(args: argparse.Namespace) -> None:
    pool = await asyncpg.create_pool(args.dsn, min_size=2, max_size=20, connection_class=_NoReset)
    async with pool.acquire() as conn:
        await conn.execute(SCHEMA)
    cache = redis.Redis.from_url(args.redis)
    skeleton = Skeleton(pool, cache, args.prefix, args.workers)
    app = web.Application()
    app.router.add_get("/self-service/login/api", skeleton.create_flow)
    app.router.add_post("/self-service/login", skeleton.submit)
    app.router.add_get("/sessions/whoami", skeleton.whoami)
    app.router.add_patch("/admin/identities", skeleton.import_identities)
    app.router.add_get("/health/ready", lambda _: web.json_response({"status": "ok"}))
    access = logging.getLogger("aiohttp.access")
    access.setLevel(logging.INFO)
    access.addHandler(logging.FileHandler(args.access_log))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    relay = asyncio.create_task(skeleton.relay())
    try:
        await asyncio.Event().wait()
    finally:
        relay.cancel()
        await runner.cleanup()
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--access-log", default=os.devnull)
    args = parser.parse_args()
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
