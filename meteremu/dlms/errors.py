"""The DLMS layer's own errors, in the project's one error model (``meteremu.errors``).

* :class:`ApduError` -- the peer sent bytes that are not a valid frame or APDU
  (the "peer sent garbage" error: every decoder raises it and nothing else);
* :class:`MechanismNotRecognised`, :class:`AuthenticationRequired` -- two more
  ways an association is refused, each with its AARE diagnostic;
* encoding something that cannot be encoded is the caller's bug:
  :class:`~meteremu.errors.UsageError`.

Each carries its DLMS answer as ``dlms`` (``dlms_outcome(exc)``), like every
meteremu error.
"""

from __future__ import annotations

from ..errors import AareRejection, AuthenticationFailure, Close, DlmsOutcome, PeerError

__all__ = ["ApduError", "AuthenticationRequired", "MechanismNotRecognised"]


class ApduError(PeerError):
    """Bytes from the peer that do not decode: a truncated, oversized or malformed
    wrapper frame or APDU. ``detail`` says where it broke. A server answers with an
    exception-response (or an AARE rejection for an AARQ) or closes the connection;
    the meter never sees the request."""

    dlms: DlmsOutcome = Close.CONNECTION

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.args = (detail,)  # str(exc) is the detail alone


class MechanismNotRecognised(AuthenticationFailure):
    """The AARQ names an authentication mechanism this client's association does not
    use (AARE diagnostic 11, authentication-mechanism-name-not-recognised)."""

    dlms = AareRejection(11)


class AuthenticationRequired(AuthenticationFailure):
    """The client's association needs authentication and the AARQ carries none
    (AARE diagnostic 14, authentication-required)."""

    dlms = AareRejection(14)
