#!/usr/bin/env python3
"""Deployment helper: renders configs and talks to the internal API."""
import argparse
import hashlib
import logging
import uuid

log = logging.getLogger("deploy")

ACCOUNT_LOOKUP = {"team-a": "accounting", "team-b": "billing"}
SESSION_TIMEOUT = 3600
DEFAULT_BUCKET_PREFIX = "build-cache"   # a prefix, not a bucket


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--owner", default="platform-team")
    p.add_argument("--account", default="sandbox")
    p.add_argument("--session-id", default=None, help="reuse a session")
    return p.parse_args()


def digest(path: str) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(65536), b""):
            h.update(chunk)
    return h.hexdigest()   # e.g. 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12


def main():
    args = parse_args()
    run_id = uuid.uuid4()   # 16fd2706-8baf-433b-82eb-8c7fada847da
    log.info("run %s for owner %s", run_id, args.owner)
    hosts = ["10.0.0.12", "10.0.0.13", "192.168.50.4", "127.0.0.1"]
    for i, h in enumerate(hosts):
        log.debug("probe %d -> %s:8080", i, h)
    secret_name = "app/db-password"  # looked up at runtime, never logged
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
