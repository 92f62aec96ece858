"""`warden`: the command line, Kratos-style (`serve`, `migrate`, `version`) plus `routes`.

Usage errors and bad configuration print one line and exit with code 2; a database schema that is
out of date exits with code 1 and says what to run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from shared.errors import BusUnavailable, ConfigError, SchemaOutOfDate, StartupFailed
from shared.version import warden_version
from warden import identities_cli
from warden.cleanup import CLEANUP_BATCH, cleanup_options, duration_flag
from warden.services import SERVICE_NAMES, SERVICES, by_name

EXIT_USAGE = 2


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"warden: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="warden", description="Identity server speaking the Ory Kratos API")
    parser.add_argument("--version", action="version", version=f"Version: {warden_version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    # Not required: `warden` alone prints the usage instead of an error about a missing argument.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)

    serve = commands.add_parser("serve", help="run all services in one process, or one service")
    serve.add_argument("service", nargs="?", choices=SERVICE_NAMES, help="run only this service")
    _config_flag(serve)
    serve.add_argument("--dev", action="store_true", help="development mode: insecure cookies allowed")
    serve.add_argument("--watch-courier", action="store_true", help="accepted for Kratos compatibility")
    serve.add_argument("--sqa-opt-out", action="store_true", help="accepted for Kratos compatibility")
    serve.add_argument("--migrate", action="store_true", help="apply database migrations before serving")

    migrate = commands.add_parser("migrate", help="apply every service's database migrations")
    _sql_and_dsn(migrate, "migrate")
    _config_flag(migrate)
    migrate.add_argument("-e", "--read-from-env", action="store_true", help="read the DSN from the environment")
    migrate.add_argument("-y", "--yes", action="store_true", help="do not ask (Warden never asks)")

    cleanup = commands.add_parser(
        "cleanup",
        help="delete expired flows, codes, errors and sessions, old messages and web hook deliveries, forgotten "
        "password-throttle counts and old processed-event records, in batches",
    )
    _sql_and_dsn(cleanup, "clean up")
    _config_flag(cleanup)
    cleanup.add_argument("-e", "--read-from-env", action="store_true", help="read the DSN from the environment")
    # Kratos's spellings: `-b`/`--database.cleanup.batch_size`, `--keep-last`, `--database.cleanup.sleep.tables`.
    cleanup.add_argument(
        "-b",
        "--database.cleanup.batch_size",
        "--batch-size",
        dest="batch_size",
        type=_positive_int,
        metavar="N",
        help=f"rows deleted per transaction (default: database.cleanup.batch_size, else {CLEANUP_BATCH})",
    )
    cleanup.add_argument(
        "--keep-last",
        type=duration_flag,
        metavar="DURATION",
        help="keep what expired less than this long ago (default: database.cleanup.older_than, else 0s)",
    )
    cleanup.add_argument(
        "--database.cleanup.sleep.tables",
        dest="sleep_tables",
        type=duration_flag,
        metavar="DURATION",
        help="pause between two tables (default: database.cleanup.sleep.tables, else none)",
    )

    codes = commands.add_parser("backup-codes", help="backup recovery codes at rest")
    codes_tools = codes.add_subparsers(dest="tool", required=True, parser_class=_OneLineParser)
    seal = codes_tools.add_parser(
        "seal", help="put every set still stored as keyed hashes under argon2id (once every self-service knows it)"
    )
    _config_flag(seal)
    seal.add_argument("-e", "--read-from-env", action="store_true", help="read the DSN from the environment")
    seal.add_argument("--batch-size", type=_positive_int, default=100, help="identities read at a time (default 100)")

    commands.add_parser("version", help="print the version")

    hashers = commands.add_parser("hashers", help="password hasher tools")
    algorithms = hashers.add_subparsers(dest="algorithm", required=True, parser_class=_OneLineParser)
    argon2 = algorithms.add_parser("argon2", help="argon2 tools")
    argon2_tools = argon2.add_subparsers(dest="tool", required=True, parser_class=_OneLineParser)
    calibrate = argon2_tools.add_parser("calibrate", help="pick argon2 parameters for a target duration")
    calibrate.add_argument("duration", nargs="?", default="1s", help="target time of one hash (default 1s)")
    calibrate.add_argument("-m", "--memory", default="128MB", help="memory per hash (default 128MB)")
    calibrate.add_argument("-p", "--parallelism", type=int, default=1, help="lanes (default 1)")

    identities_cli.add_parser(commands, _OneLineParser)

    routes = commands.add_parser("routes", help="print the route table, or an nginx config made from it")
    routes.add_argument("--nginx", action="store_true", help="print an nginx config for the distributed setup")
    routes.add_argument(
        "--upstream",
        action="append",
        default=[],
        type=_nginx_arg("parse_upstream"),
        metavar="NAME=HOST[:PUBLIC:ADMIN[:GRPC]]",
        help="a replica of a service (repeatable; default: compose names)",
    )
    routes.add_argument("--listen-public", default="4433", type=_nginx_arg("parse_listen"), metavar="[HOST:]PORT")
    routes.add_argument("--listen-admin", default="4434", type=_nginx_arg("parse_listen"), metavar="[HOST:]PORT")
    routes.add_argument("--listen-grpc", default="4435", type=_nginx_arg("parse_listen"), metavar="[HOST:]PORT")
    routes.add_argument("--full", action="store_true", help="a whole nginx.conf for `nginx -p DIR -c FILE`")
    return parser


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def _nginx_arg(parse: str):  # type: ignore[no-untyped-def]
    """An argparse type from a parser in warden.routes, imported only when `routes` is used."""

    def convert(value: str):  # type: ignore[no-untyped-def]
        from warden import routes

        try:
            return getattr(routes, parse)(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return convert


def _sql_and_dsn(parser: argparse.ArgumentParser, verb: str) -> None:
    """Kratos's `migrate sql [DATABASE-URL]` and `cleanup sql [DATABASE-URL]`, and Warden's shorter
    spellings without `sql` (`_database_url` sorts them out): the URL, when given, wins over the
    config's and the environment's DSN."""
    parser.add_argument("sql", nargs="?", metavar="sql", help="Kratos's spelling (optional)")
    parser.add_argument("dsn", nargs="?", metavar="DATABASE-URL", help=f"database to {verb} (default: from config)")


def _database_url(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """argparse gives a lone positional to the first of two optional ones: a bare `migrate DSN` has
    its DSN where `sql` is expected."""
    if args.sql in (None, "sql"):
        return
    if args.dsn is not None:
        parser.error(f"{args.command}: expected `sql` before the database URL, not {args.sql!r}")
    args.sql, args.dsn = "sql", args.sql


def _config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", action="append", default=[], type=Path, help="config file (repeatable)")
    # SUPPRESS: given before the command (`warden --debug serve`) it is not reset by the subcommand.
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command in ("migrate", "cleanup"):
        _database_url(parser, args)
    try:
        if args.command == "version":
            print(f"Version: {warden_version()}")
            return 0
        if args.command == "routes":
            return _routes(args)
        if args.command == "migrate":
            return _migrate(args)
        if args.command == "backup-codes":
            return _seal_backup_codes(args)
        if args.command == "cleanup":
            return _cleanup(args)
        if args.command == "hashers":
            return _calibrate(args)
        if args.command == "identities":
            return identities_cli.run(args)
        return _serve(args)
    except ConfigError as exc:
        if args.debug:
            raise
        print(f"warden: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (SchemaOutOfDate, BusUnavailable, StartupFailed) as exc:
        if args.debug:
            raise
        print(f"warden: {_one_line(exc)}", file=sys.stderr)
        return 1


def _routes(args: argparse.Namespace) -> int:
    from warden.routes import Upstream, nginx_config, route_table_text

    if not args.nginx:
        listens = (args.listen_public, args.listen_admin, args.listen_grpc)
        if args.upstream or args.full or listens != ("4433", "4434", "4435"):
            raise ConfigError(
                "routes: --upstream, --listen-public, --listen-admin, --listen-grpc and --full need --nginx"
            )
        print(route_table_text(), end="")
        return 0
    upstreams: dict[str, list[Upstream]] = {}
    for name, upstream in args.upstream:
        upstreams.setdefault(name, []).append(upstream)
    try:
        config = nginx_config(
            upstreams,
            listen_public=args.listen_public,
            listen_admin=args.listen_admin,
            listen_grpc=args.listen_grpc,
            full=args.full,
        )
    except ValueError as exc:
        raise ConfigError(f"routes: {exc}") from exc
    print(config, end="")
    return 0


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _settings(args: argparse.Namespace, *, dev: bool = False):  # type: ignore[no-untyped-def]
    from shared.config import load_settings

    environ = dict(os.environ)
    if getattr(args, "dsn", None):
        environ["DSN"] = args.dsn
    return load_settings(args.config, environ, dev=dev)


def _migrate(args: argparse.Namespace) -> int:
    from warden.migrate import migrate_all

    settings = _settings(args)
    asyncio.run(migrate_all(settings, SERVICES))
    print("warden: every service's database schema is up to date")
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from warden.migrate import cleanup_all

    settings = _settings(args)
    options = cleanup_options(
        settings, batch_size=args.batch_size, keep_last=args.keep_last, sleep_tables=args.sleep_tables
    )
    deleted = asyncio.run(cleanup_all(settings, SERVICES, options))
    print("warden: cleaned up " + ", ".join(f"{n} rows of {s}" for s, n in deleted.items()))
    return 0


def _seal_backup_codes(args: argparse.Namespace) -> int:
    from warden.migrate import seal_backup_codes
    from warden.services import IDENTITY

    report = asyncio.run(seal_backup_codes(_settings(args), IDENTITY, args.batch_size))
    gone = f", {report.gone} of identities deleted meanwhile" if report.gone else ""
    print(f"warden: sealed {report.sealed} sets of backup codes{gone}")
    if report.changed:  # a code spent, or the codes replaced, while the set was being sealed
        print(f"warden: {report.changed} sets changed while being sealed: run it again", file=sys.stderr)
        return 1
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    """Prints a `hashers.argon2` block, as `kratos hashers argon2 calibrate` does."""
    import yaml

    from services.identity.hashing import calibrate_argon2
    from shared.units import parse_byte_size, parse_duration

    try:
        target = parse_duration(args.duration).total_seconds()
        memory = parse_byte_size(args.memory)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"hashers argon2 calibrate: {exc}") from exc
    result = calibrate_argon2(target, memory, args.parallelism)
    print(f"# one hash took {result['measured_duration']} on this machine (target {args.duration})")
    print(yaml.safe_dump({"hashers": {"algorithm": "argon2", "argon2": result["argon2"]}}, sort_keys=False), end="")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from shared.logging import setup_logging
    from shared.tracing.logs import log_context
    from warden import event_loop
    from warden.process import WardenProcess

    settings = _settings(args, dev=args.dev)
    setup_logging(
        settings.log.level,
        settings.log.format,
        args.service or "warden",
        leak_sensitive_values=settings.log.leak_sensitive_values,
        redaction_text=settings.log.redaction_text,
        context=log_context(settings, args.service),
    )
    services = [by_name(args.service)] if args.service else list(SERVICES)
    if args.service:
        _require_shared_infrastructure(settings, args.service)
    process = WardenProcess(settings, services, migrate=args.migrate)
    event_loop.run(_run_until_signalled(process))
    return 0


def _require_shared_infrastructure(settings, service: str) -> None:  # type: ignore[no-untyped-def]
    """A service alone in its process talks to the others through the broker and shares the cache:
    in-process adapters would silently cut it off. It calls the others' internal APIs, and they call
    its, with the internal token: without one, every such call would be refused."""
    if settings.bus.url == "memory":
        raise ConfigError(f"config: bus.url: `warden serve {service}` needs a broker (amqp://…), not memory")
    if settings.cache.url == "memory":
        raise ConfigError(f"config: cache.url: `warden serve {service}` needs a shared cache (redis://…), not memory")
    if not settings.internal_token:
        # Without it the internal API answers no one and every call to another service is refused:
        # say so now rather than let each request fail.
        raise ConfigError(
            f"config: services.internal_token: `warden serve {service}` needs the token the services share"
        )


def _where(process) -> str:  # type: ignore[no-untyped-def]
    """Where a newcomer finds things, printed once at start whatever the log format: the built-in UI,
    the admin API, the folder mail goes to when no delivery is configured, and the config's
    `revision` when it sets one (the schema says Kratos shows it at /health/config, an endpoint
    Kratos does not have: here it tells which config a process started with)."""
    from services.courier.config import CourierConfig

    names = {definition.name for definition in process.services}
    public = _reached_at(process, "public")
    rows = [
        ("public API", f"{public}/"),
        (f"admin API ({_admin_access(process.settings)})", f"{_reached_at(process, 'admin')}/admin/"),
    ]
    if "selfservice" in names:
        rows.insert(0, _sign_in_row(process.settings, public))
    rows += [
        (f"{port} port socket", process.url(port))
        for port in ("public", "admin")
        if process.url(port).startswith("unix:")
    ]
    if "courier" in names:
        courier = CourierConfig.from_settings(process.settings)
        if courier.email_http is None and not courier.smtp_uri:
            rows.append(("mail (no delivery configured)", f"{courier.mail_dir}/"))
    if revision := str(process.settings.get("revision") or ""):
        rows.append(("config revision", revision))
    width = max(len(label) for label, _ in rows)
    lines = ["warden is ready:"] + [f"  {label.ljust(width)}  {where}" for label, where in rows]
    return "\n".join(lines)


def _reached_at(process, port: str) -> str:  # type: ignore[no-untyped-def]
    """Where a port is reached: its address, or, on a Unix socket, the base URL of the proxy in
    front of it (a browser cannot open `unix:<path>/ui/login`); the socket gets a row of its own."""
    address = process.url(port)
    return getattr(process.settings.serve, port).base_url.rstrip("/") if address.startswith("unix:") else address


def _sign_in_row(settings, public: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The sign-in page browsers are sent to: the built-in UI's, or the UI a config names (Kratos's
    quickstarts name one on :4455), where the built-in page would only redirect."""
    login = str(settings.get("selfservice.flows.login.ui_url") or "")
    if not login or login.startswith(settings.serve.public.base_url.rstrip("/") + "/ui/"):
        return ("built-in UI (sign in)", f"{public}/ui/login")
    return ("sign-in UI (selfservice.flows.login.ui_url)", login)


def _admin_access(settings) -> str:  # type: ignore[no-untyped-def]
    keys = settings.get("serve.admin.api_keys") or []
    if not keys:
        return "no authentication: keep it private"
    return f"{len(keys)} API key{'s' if len(keys) > 1 else ''}: Authorization: Bearer <key>"


async def _run_until_signalled(process) -> None:  # type: ignore[no-untyped-def]
    from shared.logging import flush_logs

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await process.start()
        flush_logs()  # the start-up lines first, then where things are
        print(_where(process), file=sys.stderr, flush=True)
        # Everything built at start-up lives as long as the process: keep it out of the collector's
        # way, or each full collection stops the event loop for over 100 ms (whoami's p99).
        gc.collect()
        gc.freeze()
        await stop.wait()
    finally:
        await process.stop()


if __name__ == "__main__":
    sys.exit(main())
