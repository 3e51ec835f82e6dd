"""Who may see what: personal agency links and the office's password (library behind ``collect
links``, ``collect passwd`` and ``toolkit serve``).

A link carries a random token (32 bytes, URL-safe); the store keeps only its sha256, so a copy of
the database does not hand out working links. A token has 256 bits of entropy, so a plain sha256
is enough (a slow hash protects low-entropy passwords, not random keys); lookups go by the hash and
the found hash is compared again with :func:`hmac.compare_digest`. The office password is hashed with
argon2 (argon2-cffi), imported only here, only when a password is set or checked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from . import tables as t
from .errors import CollectionError
from .model import CollectionInfo
from .store import Store


@dataclass(frozen=True)
class Link:
    collection: CollectionInfo
    agency_code: str
    agency_name: str
    agency_group: str
    token: str = ""          # only when just issued

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/a/" + self.token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def issue_links(store: Store, collection: str | int | None = None, agencies: list[str] | None = None) -> list[Link]:
    """A new token for every agency of the collection (or only ``agencies``); older links of those
    agencies are revoked. The tokens are returned once and never stored."""
    coll = store.collection(collection)
    roster = store.agencies(coll)
    if agencies:
        unknown = sorted(set(agencies) - {a.code for a in roster})
        if unknown:
            raise CollectionError(f"收集 {coll.key} 的名单中没有单位 {'、'.join(unknown)}",
                                  f"no agency {', '.join(unknown)} on the roster of {coll.key}")
        roster = [a for a in roster if a.code in set(agencies)]
    now = _now()
    out = [Link(coll, a.code, a.name, a.group, secrets.token_urlsafe(32)) for a in roster]
    with store.engine.begin() as conn:
        conn.execute(t.agency_links.update().where(
            t.agency_links.c.collection_id == coll.id, t.agency_links.c.agency_code.in_([a.code for a in roster]),
            t.agency_links.c.revoked_at.is_(None)).values(revoked_at=now))
        conn.execute(t.agency_links.insert(), [{"token_sha256": token_hash(x.token), "collection_id": coll.id,
                                                "agency_code": x.agency_code, "created_at": now} for x in out])
    return out


def revoke(store: Store, agency: str, collection: str | int | None = None) -> int:
    """Revoke every link of one agency; returns how many were active."""
    coll = store.collection(collection)
    with store.engine.begin() as conn:
        return conn.execute(t.agency_links.update().where(
            t.agency_links.c.collection_id == coll.id, t.agency_links.c.agency_code == agency,
            t.agency_links.c.revoked_at.is_(None)).values(revoked_at=_now())).rowcount


def link_for_token(store: Store, token: str) -> Link | None:
    """The agency a token opens, or None (unknown, revoked, malformed) — the caller says 404 either way."""
    if not token or len(token) > 100:
        return None
    h = token_hash(token)
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t.agency_links).where(t.agency_links.c.token_sha256 == h)).mappings().first()
    if row is None or row["revoked_at"] is not None or not hmac.compare_digest(row["token_sha256"], h):
        return None
    coll = store.collection(row["collection_id"])
    agency = next((a for a in store.agencies(coll) if a.code == row["agency_code"]), None)
    if agency is None:
        return None
    return Link(coll, agency.code, agency.name, agency.group)


# ---- settings: the office password and the signing key --------------------------------------------

def _get(store: Store, key: str) -> str | None:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(t.web_settings.c.value).where(t.web_settings.c.key == key)).scalar()


def _put(store: Store, key: str, value: str, replace: bool = True) -> str:
    """Write a setting; with ``replace=False`` the first writer wins (several server processes
    starting at once agree on one signing key)."""
    from .store import _insert_ignore

    with store.engine.begin() as conn:
        if replace:
            conn.execute(t.web_settings.delete().where(t.web_settings.c.key == key))
        conn.execute(_insert_ignore(conn, t.web_settings, ["key"]).values(key=key, value=value))
    got = _get(store, key)
    assert got is not None
    return got


MIN_PASSWORD = 8


def set_password(store: Store, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise CollectionError(f"密码太短（至少 {MIN_PASSWORD} 个字符）", f"the password is too short (at least {MIN_PASSWORD} characters)")
    from argon2 import PasswordHasher

    _put(store, "office_password", PasswordHasher().hash(password))
    _put(store, "secret_key", secrets.token_hex(32))      # a new password logs every session out


def check_password(store: Store, password: str) -> bool:
    stored = _get(store, "office_password")
    if not stored or not password or len(password) > 1000:
        return False
    from argon2 import PasswordHasher
    from argon2.exceptions import Argon2Error, InvalidHashError

    try:
        return PasswordHasher().verify(stored, password)
    except (Argon2Error, InvalidHashError):
        return False


def has_password(store: Store) -> bool:
    return _get(store, "office_password") is not None


def secret_key(store: Store) -> str:
    """The key that signs session cookies and CSRF tokens, made on first use and shared by all servers."""
    return _get(store, "secret_key") or _put(store, "secret_key", secrets.token_hex(32), replace=False)


def template_password(store: Store) -> str:
    """The sheet-protection password of templates the web hands out (made once, kept in the store)."""
    from ..template import generate_password

    return _get(store, "template_password") or _put(store, "template_password", generate_password(), replace=False)
