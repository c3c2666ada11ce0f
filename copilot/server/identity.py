"""Who is on the other end of a connection, as the platform says: never as the client says.

A Unix socket gives the peer process's uid (`SO_PEERCRED`, set by the kernel
at connect); a mutual-TLS connection gives the certificate the firm's CA
signed (the user is its subject's common name).  Groups are the OS's for a
local account, none for a certificate (the policy then names the user).
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct

from copilot.core.errors import AccessDenied
from copilot.engine.access import Person


def unix_peer(sock: socket.socket) -> Person:
    """The OS account of the process at the other end of a Unix socket."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, gid = struct.unpack("3i", creds)
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        raise AccessDenied(f"uid {uid} has no account name: it cannot be in the access policy") from None
    return Person(user, _groups(user, gid))


def own_peer(sock: socket.socket) -> Person:
    """The peer of a private socket: this process's own OS user, or `AccessDenied`."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    if uid != os.getuid():
        raise AccessDenied(f"this engine is private to uid {os.getuid()}; uid {uid} may not use it")
    return unix_peer(sock)


def certificate_peer(cert: dict | None) -> Person:
    """The user a verified client certificate names (its subject's common name)."""
    subject = dict(item for rdn in (cert or {}).get("subject", ()) for item in rdn)
    user = subject.get("commonName", "")
    if not user:
        raise AccessDenied("the client certificate names no user (no common name in its subject)")
    return Person(user, frozenset())


def _groups(user: str, gid: int) -> frozenset[str]:
    names = set()
    for g in os.getgrouplist(user, gid):
        try:
            names.add(grp.getgrgid(g).gr_name)
        except KeyError:  # a group id with no name cannot be in a policy
            continue
    return frozenset(names)
