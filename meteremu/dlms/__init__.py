"""DLMS/COSEM: the protocol layer between the meter and a TCP (or HDLC) transport.

* formats, in construct, used for both parse and build: :mod:`.wrapper` (IEC
  62056-47 TCP wrapper), :mod:`.axdr` (A-XDR data), :mod:`.acse` (AARQ, AARE,
  RLRQ, RLRE), :mod:`.xdlms` (xDLMS-Initiate, GET/SET/ACTION, exception-response);
  :mod:`.apdu` decodes and encodes any of them;
* :mod:`.values`: COSEM Python values <-> A-XDR, by the types of the object table;
* :mod:`.association` and :mod:`.connection`: the server side as a sans-I/O
  state machine (bytes in, bytes and events out), :mod:`.security` the
  authentication strategies;
* :mod:`.client`: the client side, sans-I/O too.

See ``docs/DLMS.md``.
"""

from .client import DlmsClient
from .connection import ServerConnection
from .errors import ApduError
from .security import SecurityPolicy

__all__ = ["ApduError", "DlmsClient", "SecurityPolicy", "ServerConnection"]
