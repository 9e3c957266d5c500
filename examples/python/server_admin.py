#!/usr/bin/env python3
"""Lists a running voice-server's rooms, connected sessions, registered users and bans.

A client of the server's admin API (proto/proto/admin.proto) on its Unix socket, with
grpcio; it only reads. Generate the stubs once, then run with them on the path
(docs/api.md):

    python3 -m grpc_tools.protoc -I proto/proto --python_out=STUBS \
        --grpc_python_out=STUBS wire.proto admin.proto
    PYTHONPATH=STUBS python3 examples/python/server_admin.py [SOCKET]

SOCKET defaults to admin.sock in the server's data dir: $VOICE_SERVER_DATA_DIR,
else $XDG_DATA_HOME/voice-server, else ~/.local/share/voice-server (the systemd
unit's is /var/lib/voice-server/admin.sock; `admin_socket` in the config moves it).
"""

import os
import sys
import time

try:
    import grpc

    import admin_pb2
    import admin_pb2_grpc
except ImportError as e:
    sys.exit(
        f"server_admin: {e}: install grpcio and grpcio-tools "
        "(python3 -m pip install grpcio grpcio-tools) and put the stubs generated from "
        "proto/proto (wire.proto, admin.proto) on PYTHONPATH; see docs/api.md"
    )

# grpcio sends the socket's path as the HTTP/2 :authority, which the server's HTTP/2
# server refuses (every call fails with RST_STREAM); any host name does (docs/api.md).
CHANNEL_OPTIONS = [("grpc.default_authority", "localhost")]


def default_socket():
    """admin.sock in the data dir voice-server uses without --data-dir or a config."""
    data_dir = os.environ.get("VOICE_SERVER_DATA_DIR")
    if not data_dir:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.expanduser("~/.local/share")
        data_dir = os.path.join(base, "voice-server")
    return os.path.join(data_dir, "admin.sock")


def when(ms):
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000)) if ms else "never"


def print_rooms(rooms, sessions):
    by_room = {}
    for s in sessions:
        by_room.setdefault(s.room, []).append(s)
    ids = {r.id: r for r in rooms}

    def walk(room, depth):
        indent = "  " * depth
        print(f"{indent}{room.name}" + (" (root)" if room.id == 0 else f" (#{room.id})"))
        for s in sorted(by_room.get(room.id, []), key=lambda s: s.name.lower()):
            print(f"{indent}  - {s.name} (session {s.id})")
        children = [r for r in rooms if r.parent == room.id and r.id != room.id]
        for child in sorted(children, key=lambda r: (r.position, r.name.lower(), r.id)):
            walk(child, depth + 1)

    if 0 in ids:
        walk(ids[0], 0)


def main():
    path = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else default_socket())
    if not os.path.exists(path):
        sys.exit(
            f"server_admin: no socket at {path}: is voice-server running with this data dir? "
            "(give the admin socket's path as the first argument)"
        )
    if not os.access(path, os.R_OK | os.W_OK):
        sys.exit(f"server_admin: {path}: permission denied: run as the server's user or root")
    with grpc.insecure_channel(f"unix://{path}", options=CHANNEL_OPTIONS) as channel:
        admin = admin_pb2_grpc.AdminStub(channel)
        try:
            rooms = admin.Rooms(admin_pb2.Empty(), timeout=10)
            sessions = admin.Sessions(admin_pb2.Empty(), timeout=10).sessions
            users = admin.Users(admin_pb2.Empty(), timeout=10).users
            bans = admin.Bans(admin_pb2.Empty(), timeout=10).bans
        except grpc.RpcError as e:
            sys.exit(f"server_admin: {path}: {e.code().name}: {e.details()}")
    print(f"rooms (state hash {rooms.hash.hex()[:16]}):")
    print_rooms(rooms.rooms, sessions)
    print(f"sessions: {len(sessions)}")
    for s in sessions:
        roles = ", ".join(s.roles) or "-"
        print(f"  {s.id:>5}  {s.name}  key {s.public_key.hex()[:16]}  roles: {roles}")
    print(f"registered users: {len(users)}")
    for u in users:
        roles = ", ".join(u.roles) or "-"
        print(f"  {u.name}  key {u.public_key[:16]}  roles: {roles}  last seen {when(u.last_seen_ms)}")
    print(f"bans: {len(bans)}")
    for b in bans:
        until = when(b.expires_ms) if b.expires_ms else "permanent"
        print(f"  {b.name or b.public_key[:16]}  by {b.banned_by}  until {until}: {b.reason}")


if __name__ == "__main__":
    main()
