"""Users and API keys (admin only)."""

from __future__ import annotations

from fastapi import APIRouter, status

from service.deps import Admin, StoreDep
from service.store.sql import validate_user_name
from service.workflow_schemas import KeyOut, RevokedOut, UserIn, UserListOut, UserOut

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.get("", response_model=UserListOut, summary="List users")
def list_users(who: Admin, store: StoreDep) -> UserListOut:
    """Every user with their role and number of active keys."""
    return UserListOut(users=[UserOut.of(u) for u in store.list_users()])


@router.post("", response_model=KeyOut, status_code=status.HTTP_201_CREATED, summary="Add a user")
def add_user(body: UserIn, who: Admin, store: StoreDep) -> KeyOut:
    """Create a user and return their API key (shown once; stored only as a hash)."""
    user, key = store.add_user(validate_user_name(body.name), body.role, who.name)
    return KeyOut(name=user.name, role=str(user.role), api_key=key)


@router.post("/{name}/keys", response_model=KeyOut, status_code=status.HTTP_201_CREATED, summary="New key")
def new_key(name: str, who: Admin, store: StoreDep) -> KeyOut:
    """Issue another key for a user (shown once)."""
    key = store.new_key(name, who.name)
    user = next(u for u in store.list_users() if u.name == name)
    return KeyOut(name=name, role=str(user.role), api_key=key)


@router.post("/{name}/revoke", response_model=RevokedOut, summary="Revoke a user's keys")
def revoke(name: str, who: Admin, store: StoreDep) -> RevokedOut:
    """Revoke every active key of the user; they stop working on the next request."""
    return RevokedOut(name=name, revoked=store.revoke(name, who.name))
