"""`appstore-publish sandbox serve|keygen`: run the App Store Connect simulator for other processes (a flow run,
`act`, Docker), and make a throwaway API key it accepts."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from publish.commands._arguments import bounded_float, bounded_int, local_path
from publish.errors import InputError

if TYPE_CHECKING:
    from publish.cli import CliContext
    from publish.sandbox.server import SandboxServer


MAX_PART_SIZE = 5 * 1024**3  # S3's largest part
DAY = 86_400.0


def _share(flag: str) -> Callable[[str], float]:
    """A share from 0 to 1, refused in the words `build_server` uses for the same mistake."""
    parse = bounded_float(0, 1, example=0.05)

    def share(text: str) -> float:
        try:
            return parse(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"{flag} must be between 0 and 1; got {text!r}, e.g. {flag} 0.05") \
                from None
    return share


def _path(text: str) -> Path:
    return Path(local_path(text))


def _host(text: str) -> str:
    """A host name or address to bind: socket refuses a NUL with a TypeError, and DNS names stop at 253."""
    if not text or "\x00" in text or len(text) > 253 or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError("not a host name or address; give e.g. 127.0.0.1, 0.0.0.0 or localhost")
    return text


def _bundle_id(text: str) -> str:
    """keygen's --bundle-id, held to the data file's own rule so that `sandbox serve` loads what keygen wrote."""
    if not re.fullmatch(r"[A-Za-z0-9.-]{1,255}", text):
        raise argparse.ArgumentTypeError(f"{text[:60]!r} is not a bundle ID: letters, digits, hyphens and periods "
                                         "only (at most 255), e.g. com.example.app")
    return text


def _app_name(text: str) -> str:
    if not text.strip() or len(text) > 255:
        raise argparse.ArgumentTypeError("give the app's name (1 to 255 characters), e.g. Example")
    return text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run the App Store Connect simulator, or make a key for it",
        description="A local App Store Connect simulator: same API, same rules, no account, no network.",
    )
    commands = parser.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    commands.required = True

    serve = commands.add_parser(
        "serve",
        help="serve the simulator until Ctrl-C",
        description="Serve the App Store Connect simulator on HTTP until Ctrl-C. Point a flow at it with "
        "--api-base-url (or ASC_API_BASE_URL) and use a key registered in --data (see `sandbox keygen`).",
    )
    serve.add_argument("--host", default="127.0.0.1", type=_host,
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 inside Docker — plain HTTP, test only)")
    serve.add_argument("--port", type=bounded_int(0, 65535, example=8080), default=0,
                       help="port (default: any free port, printed at start)")
    serve.add_argument("--data", type=_path, metavar="FILE",
                       help="YAML/JSON data file: keys and apps (schemas/sandbox-data.schema.json)")
    serve.add_argument("--part-size", type=bounded_int(1, MAX_PART_SIZE, example=5 * 1024 * 1024),
                       default=64 * 1024 * 1024, metavar="BYTES",
                       help="size of each upload part (default 64 MiB)")
    serve.add_argument("--processing-polls", type=bounded_int(0, 10_000, example=2), default=2, metavar="N",
                       help="GETs of an upload (then of its build) before processing moves on (default 2)")
    serve.add_argument("--processing-seconds", type=bounded_float(0, DAY, example=5), default=None, metavar="S",
                       help="...or this many seconds, whichever comes first (default: polls only)")
    serve.add_argument("--rate-limit", type=bounded_int(1, 10**9, example=3500), default=3500, metavar="N",
                       help="requests per key per rolling hour before 429 (default 3500)")
    faults = serve.add_argument_group("fault injection")
    faults.add_argument("--error-rate", type=_share("--error-rate"), default=0.0, metavar="R",
                        help="share (0..1) of API calls and part uploads answered 500/503")
    faults.add_argument("--lost-response-rate", type=_share("--lost-response-rate"), default=0.0, metavar="R",
                        help="share of API writes that take effect but are answered 500")
    faults.add_argument("--rate-limit-after", type=bounded_int(1, 10**9, example=100), default=None, metavar="N",
                        help="answer 429 (Retry-After) after every N API calls")
    faults.add_argument("--drop-part-rate", type=_share("--drop-part-rate"), default=0.0, metavar="R",
                        help="share of part uploads whose connection is dropped half-way")
    faults.add_argument("--bandwidth-cap", type=bounded_float(0, 10**6, low_open=True, example=20), default=None,
                        metavar="MBPS",
                        help="per-connection cap on part uploads, in megabits per second")
    faults.add_argument("--latency-ms", type=bounded_int(0, 600_000, example=200), default=0, metavar="MS",
                        help="added before every answer")
    faults.add_argument("--seed", type=bounded_int(0, 2**63 - 1, example=7), default=0,
                        help="seed of the fault RNG (default 0)")
    serve.set_defaults(handler=serve_command)

    keygen = commands.add_parser(
        "keygen",
        help="write a throwaway API key and a data file that registers it",
        description="Write a throwaway P-256 API key (AuthKey_<KEY_ID>.p8), the same key in fastlane's API-key JSON "
        "format, and a sandbox data file registering its public key with one app. For the simulator only.",
    )
    keygen.add_argument("--out", type=_path, required=True, metavar="DIR", help="folder to write into")
    keygen.add_argument("--bundle-id", default="com.example.app", type=_bundle_id,
                        help="bundle ID of the app to create")
    keygen.add_argument("--app-name", default="Example", type=_app_name, help="name of the app to create")
    keygen.add_argument("--force", action="store_true", help="overwrite files that exist")
    keygen.set_defaults(handler=keygen_command)


def _fraction(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise InputError(f"{name} must be between 0 and 1; got {value}.", hint=f"for example {name} 0.05")
    return value


def build_server(args: argparse.Namespace) -> SandboxServer:
    """The server `serve` would run (not started). InputError on bad flags or data."""
    from publish.sandbox.data import SandboxDataError, read_data_file  # noqa: PLC0415 - keeps `--help` fast
    from publish.sandbox.faults import Faults  # noqa: PLC0415
    from publish.sandbox.server import SandboxServer  # noqa: PLC0415

    if args.part_size < 1:
        raise InputError(f"--part-size must be at least 1 byte; got {args.part_size}.")
    if args.processing_polls < 0:
        raise InputError(f"--processing-polls must be 0 or more; got {args.processing_polls}.")
    if args.bandwidth_cap is not None and args.bandwidth_cap <= 0:
        raise InputError(f"--bandwidth-cap must be a positive number of megabits per second; got {args.bandwidth_cap}.")
    faults = Faults(
        error_rate_5xx=_fraction("--error-rate", args.error_rate),
        lost_response_rate=_fraction("--lost-response-rate", args.lost_response_rate),
        rate_limit_after=args.rate_limit_after,
        drop_part_rate=_fraction("--drop-part-rate", args.drop_part_rate),
        bandwidth_bytes_per_sec=int(args.bandwidth_cap * 1_000_000 / 8) if args.bandwidth_cap else None,
        latency_ms=args.latency_ms,
        seed=args.seed,
    )
    data = None
    if args.data is not None:
        try:
            data = read_data_file(args.data)
        except SandboxDataError as exc:
            raise InputError(str(exc), hint="fix the data file, or write a fresh one with "
                             "`appstore-publish sandbox keygen --out DIR`") from None
    try:
        return SandboxServer(data, host=args.host, port=args.port, faults=faults, part_size=args.part_size,
                             processing_polls=args.processing_polls, processing_seconds=args.processing_seconds,
                             rate_limit_per_hour=args.rate_limit, seed=args.seed)
    except SandboxDataError as exc:
        raise InputError(str(exc), hint="fix the data file") from None
    except OSError as exc:
        if not (isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL):
            raise InputError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}).",
                             hint="choose another --port, or 0 for any free port") from None
        # the host, not the port: no such name, or an address of another machine
        raise InputError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}).",
                         hint="give --host an address of this machine: 127.0.0.1 (the default), 0.0.0.0 for every "
                         "interface (inside Docker), or localhost") from None


def _wait_for_interrupt() -> None:
    threading.Event().wait()


def serve_command(args: argparse.Namespace, ctx: CliContext, wait: Callable[[], None] | None = None) -> int:
    wait = wait or _wait_for_interrupt
    server = build_server(args)
    server.start()
    try:
        if not _is_loopback(args.host):
            ctx.error(f"warning: serving plain HTTP on {args.host}; the simulator is for testing only.")
        keys = len(server.keys)
        apps = len(server.store.all("apps"))
        ctx.print(f"App Store Connect simulator listening on {server.url}")
        ctx.print(f"  {keys} API key(s), {apps} app(s) loaded" + ("" if args.data else
                  " (no --data: write one with `appstore-publish sandbox keygen --out DIR`)"))
        ctx.print(f"  use it with: --api-base-url {server.url}   (or ASC_API_BASE_URL={server.url})")
        ctx.print("  Ctrl-C to stop")
        try:
            wait()
        except KeyboardInterrupt:
            pass
    finally:
        server.stop()
    ctx.print("simulator stopped")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def keygen_command(args: argparse.Namespace, ctx: CliContext) -> int:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - keeps `--help` fast
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    out: Path = args.out
    key_id = uuid.uuid4().hex[:10].upper()
    issuer_id = str(uuid.uuid4())
    private_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()).decode()
    public_pem = private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    files = {
        out / f"AuthKey_{key_id}.p8": private_pem,
        out / "api_key.json": json.dumps({"key_id": key_id, "issuer_id": issuer_id, "key": private_pem,
                                          "in_house": False}, indent=2) + "\n",
        out / "sandbox-data.json": json.dumps({
            "keys": [{"key_id": key_id, "issuer_id": issuer_id, "public_key": public_pem}],
            "apps": [{"bundle_id": args.bundle_id, "name": args.app_name, "sku": args.bundle_id.upper(),
                      "beta_groups": [{"name": "Team", "internal": True}, {"name": "Friends", "internal": False}]}],
        }, indent=2) + "\n",
    }
    existing = [str(p) for p in files if p.exists()] if not args.force else []
    if existing:
        raise InputError(f"refusing to overwrite {', '.join(existing)}.", hint="choose another --out or add --force")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            secret = path.suffix == ".p8" or path.name == "api_key.json"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(text)
    except OSError as exc:
        raise InputError(f"cannot write into {out} ({exc.strerror}).", hint="choose a writable --out") from None
    ctx.print(f"wrote a throwaway API key for the simulator into {out}:")
    for path in files:
        ctx.print(f"  {path}")
    ctx.print(f"key ID {key_id}, issuer ID {issuer_id} (not valid on App Store Connect)")
    ctx.print(f"next: appstore-publish sandbox serve --data {out / 'sandbox-data.json'}")
    return 0
