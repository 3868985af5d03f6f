"""The `sportello` command: demo, serve, worker, and every management command.

sportello demo            migrate, load demo data, serve the site and run the worker
sportello serve           production web server (gunicorn)
sportello worker          background tasks and the periodic-job scheduler
sportello <command> ...   any Django management command (migrate, createsuperuser, ...)
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path


def _fail(message: str) -> int:
    print(f"sportello: {message}", file=sys.stderr)
    return 2


def _setup() -> None:
    """Set Django up, turning a configuration error into one line naming the variable."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    from sportello.core.env import SettingError

    try:
        django.setup()
    except SettingError as exc:
        raise SystemExit(_fail(f"configuration error: {exc}")) from None


def _manage(argv: list[str]) -> int:
    _setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["sportello", *argv])
    return 0


def _ensure_demo_secret() -> None:
    """The demo runs with DEBUG off like production, so it needs a secret key: make one once."""
    if os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE"):
        return
    from sportello.core.env import Env

    data_dir = Path(Env().string("SPORTELLO_DATA_DIR", str(Path(__file__).resolve().parent.parent / "var")))
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    os.environ["SECRET_KEY_FILE"] = str(key_file)


def _gunicorn(port: int, host: str, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "sportello.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        "4",
        "--access-logfile",
        "-",
        "--forwarded-allow-ips",
        os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    ]


def _port(value: str | None, default: int) -> int:
    raw = value if value is not None else os.environ.get("PORT")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(_fail(f"configuration error: PORT must be a port number from 1 to 65535, not {raw!r}"))
    return int(raw)


def demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sportello demo", description="Run the demo: data, site and worker.")
    parser.add_argument("--port", help="port to serve on (default: $PORT or 8000)")
    parser.add_argument("--no-serve", action="store_true", help="prepare the database and data, then exit")
    args = parser.parse_args(argv)
    port = _port(args.port, 8000)
    os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    _ensure_demo_secret()
    _setup()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    try:
        call_command("demo_load")
    except CommandError as exc:
        return _fail(str(exc))
    if args.no_serve:
        return 0
    from django.conf import settings

    print(f"\nClient area:  {settings.SITE_URL}/\nBack office:  {settings.SITE_URL}/staff/\n", flush=True)
    processes = []
    if settings.TASKS_BACKEND == "database":
        processes.append(subprocess.Popen([sys.executable, "-m", "sportello.cli", "worker"]))
    processes.append(subprocess.Popen(_gunicorn(port, "127.0.0.1", 2)))  # noqa: S603
    return _supervise(processes)


def _supervise(processes: list[subprocess.Popen[bytes]]) -> int:
    """Wait until one process ends or we are told to stop, then stop them all."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        while True:
            for process in processes:
                try:
                    returned = process.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    continue
                code = returned
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return code


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sportello serve", description="Serve the site with gunicorn.")
    parser.add_argument("--port", help="port (default: $PORT or 8000)")
    parser.add_argument(
        "--host", default=os.environ.get("HOST", "127.0.0.1"), help="address to bind (default: $HOST or 127.0.0.1)"
    )
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    args = parser.parse_args(argv)
    port = _port(args.port, 8000)
    _setup()  # fail here, with one line, on a bad setting
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    command = _gunicorn(port, args.host, args.workers)
    os.execv(command[0], command)  # noqa: S606
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "manage":  # manage.py passes its arguments through here
        argv = argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "demo":
        return demo(rest)
    if command == "serve":
        return serve(rest)
    # Commands are spelled with hyphens on this command line (load-vat-rates), like Django's
    # own spelling with underscores (load_vat_rates).
    return _manage([command if command.startswith("-") else command.replace("-", "_"), *rest])


if __name__ == "__main__":
    sys.exit(main())
