"""Who may associate, and how each client proves who it is: one strategy object per client.

SPEC section 7: client SAP 16 is the public client (no authentication,
read-only), client SAP 1 the management client (Low Level Security: a
password in the AARQ). :class:`SecurityPolicy` maps each client SAP to a
:class:`ClientAccess` -- the COSEM client its requests run as, and its
:class:`Authentication` strategy.

A strategy looks at the AARQ and either refuses (raising an
:class:`~meteremu.errors.AuthenticationFailure`, whose ``dlms`` is the AARE
diagnostic) or grants (:class:`Granted`: what the AARE adds). High Level
Security (HLS, e.g. GMAC, suite 0) fits the same shape: its ``authenticate``
checks the mechanism, keeps the client's challenge (CtoS) and grants with
``pending=True`` and its own challenge (StoC) as the responding
authentication value; the association then accepts only the client's reply,
the ACTION ``reply_to_HLS_authentication`` (0.0.40.0.0.255 method 1), which
it hands to :meth:`Authentication.finish`, and answers with what that
returns. Nothing outside this module changes to add it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from ..device.cosem import Client
from ..errors import AuthenticationFailure
from .acse import MECHANISM_LLS, MECHANISM_LOWEST, Aarq
from .errors import AuthenticationRequired, MechanismNotRecognised

__all__ = [
    "Authentication",
    "ClientAccess",
    "Granted",
    "LowLevelSecurity",
    "NoAuthentication",
    "SecurityPolicy",
]


@dataclass(frozen=True)
class Granted:
    """An AARQ's authentication accepted: what the AARE carries for it."""

    mechanism_name: bytes | None = None  # echoed in the AARE (HLS)
    responding_authentication_value: bytes | None = None  # StoC (HLS)
    pending: bool = False  # HLS: the client must still answer the challenge


class Authentication(Protocol):
    """How one client's association authenticates (a fresh object per association
    is not needed: a strategy keeps per-association state only in what it returns)."""

    name: str

    def authenticate(self, aarq: Aarq) -> Granted:
        """Accept the AARQ (what the AARE adds) or raise an AuthenticationFailure."""
        ...

    def finish(self, granted: Granted, reply: bytes) -> bytes:
        """HLS pass 3 -> 4: check the client's ``reply`` to the StoC challenge and
        return the server's proof; raise AuthenticationFailure when it is wrong.
        Strategies without a challenge never get here."""
        ...


class NoAuthentication:
    """Lowest level security: no mechanism, or the "lowest" mechanism name."""

    name = "none"

    def authenticate(self, aarq: Aarq) -> Granted:
        if aarq.mechanism_name not in (None, MECHANISM_LOWEST):
            raise MechanismNotRecognised("this client associates without authentication")
        return Granted()

    def finish(self, granted: Granted, reply: bytes) -> bytes:
        raise AuthenticationFailure("no challenge to answer")


class LowLevelSecurity:
    """LLS: the AARQ names mechanism 2.16.756.5.8.2.1 and carries the password as
    its calling-authentication-value. Compared in constant time."""

    name = "low-level-security"

    def __init__(self, password: bytes) -> None:
        if not isinstance(password, bytes) or not password:
            raise ValueError("an LLS password is a non-empty bytes value")
        self._password = password

    def authenticate(self, aarq: Aarq) -> Granted:
        if aarq.mechanism_name is None or aarq.calling_authentication_value is None:
            raise AuthenticationRequired("the management client needs the LLS password")
        if aarq.mechanism_name != MECHANISM_LLS:
            raise MechanismNotRecognised("the management client uses low level security")
        if not hmac.compare_digest(aarq.calling_authentication_value, self._password):
            raise AuthenticationFailure("wrong password")
        return Granted()

    def finish(self, granted: Granted, reply: bytes) -> bytes:
        raise AuthenticationFailure("no challenge to answer")

    def __repr__(self) -> str:  # never show the password
        return "LowLevelSecurity(password=***)"


@dataclass(frozen=True)
class ClientAccess:
    """One client SAP: the COSEM client its requests run as, and how it authenticates."""

    sap: int
    client: Client
    authentication: Authentication


class SecurityPolicy:
    """The clients a server accepts, by SAP."""

    def __init__(self, clients: list[ClientAccess]) -> None:
        self.clients = {c.sap: c for c in clients}

    @classmethod
    def default(cls, password: bytes) -> SecurityPolicy:
        """SPEC section 7: SAP 16 public without authentication, SAP 1 management with
        the LLS ``password``."""
        return cls([
            ClientAccess(int(Client.PUBLIC), Client.PUBLIC, NoAuthentication()),
            ClientAccess(int(Client.MANAGEMENT), Client.MANAGEMENT, LowLevelSecurity(password)),
        ])

    def lookup(self, sap: int) -> ClientAccess:
        """The access of client ``sap``; an unknown client cannot associate."""
        access = self.clients.get(sap)
        if access is None:
            raise AuthenticationFailure(f"no association for client SAP {sap}")
        return access
