"""The `flagstream` command: serve, token, publish, and the rollout and loadtest tools."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Sequence

from .config import ConfigError, Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        print(f"flagstream: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flagstream", description="Real-time notifications over SSE, rolled out behind flags.")
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", help="run the service (the embedded default with no options)")
    serve.add_argument("--config", help="a TOML file of settings (keys as in FLAGSTREAM_<NAME>, lower case)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--broker", choices=["memory", "redis", "redis-cluster"])
    serve.add_argument("--redis-url")
    serve.add_argument("--flags-file")
    serve.add_argument("--dev", action="store_true", help="dev mode: demo helpers, print a dev token and a curl command")
    serve.set_defaults(handler=_serve)

    token = commands.add_parser("token", help="mint a development JWT signed with FLAGSTREAM_JWT_SECRET")
    token.add_argument("--user", required=True, help="the user id (the `sub` claim)")
    token.add_argument("--ttl", type=float, default=3600, help="seconds until it expires (default 3600)")
    token.add_argument("--scope", help="space-separated scopes, e.g. 'publish' or 'admin'")
    token.add_argument("--config")
    token.set_defaults(handler=_token)

    publish = commands.add_parser("publish", help="send a notification to a running service")
    target = publish.add_mutually_exclusive_group(required=True)
    target.add_argument("--user", action="append", help="a recipient user id (repeat for several)")
    target.add_argument("--broadcast", action="store_true", help="send to every user")
    publish.add_argument("--data", required=True, help="the JSON payload")
    publish.add_argument("--event", default="notification")
    publish.add_argument("--idempotency-key")
    publish.add_argument("--url", default=None, help="service URL (default http://HOST:PORT from settings)")
    publish.add_argument("--config")
    publish.set_defaults(handler=_publish)

    _add_optional_commands(commands)
    return parser


def _add_optional_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    try:
        from rollout.cli import add_commands as add_rollout
    except ImportError:
        pass
    else:
        add_rollout(commands)
    try:
        from loadtest.cli import add_commands as add_loadtest
    except ImportError:
        pass
    else:
        add_loadtest(commands)


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    from .devsecrets import with_dev_secrets

    return with_dev_secrets(load_settings(getattr(args, "config", None), overrides=overrides))


def _serve(args: argparse.Namespace) -> int:
    from .server import run

    overrides = {
        "host": args.host,
        "port": args.port,
        "broker": args.broker,
        "redis_url": args.redis_url,
        "flags_file": args.flags_file,
    }
    if args.dev:
        overrides["dev_mode"] = True
    settings = _settings(args, **overrides)

    run(settings, on_ready=functools.partial(_announce, settings))
    return 0


def _announce(settings: Settings, url: str) -> None:
    if not settings.dev_mode:
        print(f"flagstream listening on {url}", file=sys.stderr, flush=True)
        return
    from .auth import mint_token

    token = mint_token(settings.jwt_secret, "demo-user", ttl=8 * 3600)
    print(_dev_banner(url, token, settings.publish_token), flush=True)


def _dev_banner(url: str, token: str, publish_token: str) -> str:
    return f"""
flagstream is running at {url}   (demo page: {url}/)
  dev user token (user demo-user, 8 h):
    {token}
  listen:   curl -N -H "Authorization: Bearer {token}" {url}/v1/stream
  publish:  curl -X POST -H "Authorization: Bearer {publish_token}" -H 'Content-Type: application/json' \\
              -d '{{"user_id": "demo-user", "data": {{"text": "hello"}}}}' {url}/v1/notifications
  inbox:    curl -H "Authorization: Bearer {token}" {url}/v1/notifications
"""


def _token(args: argparse.Namespace) -> int:
    from .auth import mint_token, valid_user_id

    if not valid_user_id(args.user):
        print("flagstream token: --user must be a non-empty id without control characters", file=sys.stderr)
        return 2
    if args.ttl <= 0:
        print("flagstream token: --ttl must be positive", file=sys.stderr)
        return 2
    settings = _settings(args)
    print(mint_token(settings.jwt_secret, args.user, ttl=args.ttl, scope=args.scope))
    return 0


def _publish(args: argparse.Namespace) -> int:
    from flagstream_publisher import Notification, Publisher, PublishRefused, PublishUnavailable, RetryPolicy

    settings = _settings(args)
    try:
        data = json.loads(args.data)
    except ValueError as exc:
        print(f"flagstream publish: --data is not JSON: {exc}", file=sys.stderr)
        return 2
    key = args.idempotency_key
    if args.broadcast:
        notification = Notification.to_everyone(data, event=args.event, idempotency_key=key)
    else:
        notification = Notification.to_users(args.user, data, event=args.event, idempotency_key=key)
    url = (args.url or os.environ.get("FLAGSTREAM_URL") or f"http://{settings.host}:{settings.port}").rstrip("/")
    try:
        with Publisher(url, settings.publish_token, retry=RetryPolicy(deadline=30)) as publisher:
            ids = publisher.publish(notification)
    except PublishRefused as exc:
        print(f"flagstream publish: refused: {exc}", file=sys.stderr)
        return 2
    except PublishUnavailable as exc:
        print(f"flagstream publish: {url} unavailable: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"ids": ids}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
