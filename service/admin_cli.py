"""``evsum users ...``: add users and revoke their keys in the workflow database (what the CLI calls).

The database is ``EVSUM_DATABASE_URL`` (the same one ``evsum serve`` uses); pending
migrations are applied first.  ``add`` prints the new key alone on stdout's last line.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from service.domain import Role
from service.store.sql import SqlStore, validate_user_name

ROLES = [r.value for r in Role]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``users`` subcommands."""
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: EVSUM_DATABASE_URL or data/evsum.sqlite).")
    sub = parser.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="Create a user and print a new API key (shown once).")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    key = sub.add_parser("key", help="Issue another API key for an existing user.")
    key.add_argument("name")
    revoke = sub.add_parser("revoke", help="Revoke every key of a user at once.")
    revoke.add_argument("name")
    sub.add_parser("list", help="List users, roles and active keys.")


def run(args: argparse.Namespace, database_url: str) -> int:
    """Run one ``users`` subcommand against ``database_url``."""
    store = SqlStore.open(args.database_url or database_url)
    try:
        if args.users_command == "add":
            user, key = store.add_user(validate_user_name(args.name), Role(args.role), actor="cli")
            print(f"added {user.name} ({user.role}); API key (shown once, send as 'Authorization: Bearer <key>'):",
                  file=sys.stderr)
            print(key)
        elif args.users_command == "key":
            print(store.new_key(args.name, actor="cli"))
        elif args.users_command == "revoke":
            count = store.revoke(args.name, actor="cli")
            print(f"revoked {count} key{'s' if count != 1 else ''} of {args.name}")
        else:
            for user in store.list_users():
                print(f"{user.name}\t{user.role}\t{user.active_keys} active key(s)\tsince {user.created_at:%Y-%m-%d}")
        return 0
    finally:
        store.close()


@dataclass(frozen=True, slots=True)
class DemoKeys:
    """Keys for trying the workflow: an admin, a librarian and a reviewer."""

    admin: str
    librarian: str
    reviewer: str


def bootstrap_demo_users(database_url: str) -> DemoKeys:
    """Create (or issue new keys for) the demo users ``admin``, ``librarian`` and ``reviewer``."""
    store = SqlStore.open(database_url)
    try:
        existing = {user.name for user in store.list_users()}
        keys: dict[str, str] = {}
        for name, role in (("admin", Role.ADMIN), ("librarian", Role.LIBRARIAN), ("reviewer", Role.REVIEWER)):
            keys[name] = (store.new_key(name, actor="demo") if name in existing
                          else store.add_user(name, role, actor="demo")[1])
        return DemoKeys(**keys)
    finally:
        store.close()
