"""What the benchmarks share: running a statement on PostgreSQL's maintenance database (to create
and drop a database of the run's own)."""

from __future__ import annotations

import asyncio
import os

PG_ADMIN = os.environ.get("WARDEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg(statement: str) -> None:
    import asyncpg

    async def execute() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(execute())
