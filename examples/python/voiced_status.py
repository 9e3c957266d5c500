#!/usr/bin/env python3
"""Prints voiced's status and, when connected, the server's rooms with who is in each.

A client of voiced's control API (proto/proto/control.proto) on its Unix socket, with
grpcio. Generate the stubs once, then run with them on the path (docs/api.md):

    python3 -m grpc_tools.protoc -I proto/proto --python_out=STUBS \
        --grpc_python_out=STUBS wire.proto control.proto
    PYTHONPATH=STUBS python3 examples/python/voiced_status.py [SOCKET]

SOCKET defaults to where voiced listens: $VOICED_SOCKET, else
$XDG_RUNTIME_DIR/voice/voiced.sock, else /tmp/voice-UID/voiced.sock.
"""

import os
import sys

try:
    import grpc

    import control_pb2
    import control_pb2_grpc
except ImportError as e:
    sys.exit(
        f"voiced_status: {e}: install grpcio and grpcio-tools "
        "(python3 -m pip install grpcio grpcio-tools) and put the stubs generated from "
        "proto/proto (wire.proto, control.proto) on PYTHONPATH; see docs/api.md"
    )

# grpcio sends the socket's path as the HTTP/2 :authority, which voiced's HTTP/2
# server refuses (every call fails with RST_STREAM); any host name does (docs/api.md).
CHANNEL_OPTIONS = [("grpc.default_authority", "localhost")]


def default_socket():
    """Where voiced listens unless told otherwise (voiced_client::socket_path)."""
    explicit = os.environ.get("VOICED_SOCKET")
    if explicit:
        return explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime):
        return os.path.join(runtime, "voice", "voiced.sock")
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(tmp, f"voice-{os.getuid()}", "voiced.sock")


def room_path(rooms, room_id):
    """A room's path, "/" for the root (id 0)."""
    parts = []
    while room_id != 0 and room_id in rooms and len(parts) < 64:
        parts.append(rooms[room_id].name)
        room_id = rooms[room_id].parent
    return "/" + "/".join(reversed(parts))


def print_tree(snapshot, me):
    rooms = {r.id: r for r in snapshot.rooms}
    users = {}
    for s in snapshot.sessions:
        users.setdefault(s.room, []).append(s)

    def walk(room, depth):
        indent = "  " * depth
        label = room.name if room.id != 0 else f"{room.name} (root)"
        print(f"{indent}{label}")
        for s in sorted(users.get(room.id, []), key=lambda s: s.name.lower()):
            flags = [f for f, on in (("muted", s.self_mute), ("deaf", s.self_deaf),
                                     ("server-muted", s.server_mute)) if on]
            you = " (you)" if s.id == me else ""
            extra = f" [{', '.join(flags)}]" if flags else ""
            print(f"{indent}  - {s.name}{you}{extra}")
        children = [r for r in snapshot.rooms if r.parent == room.id and r.id != room.id]
        for child in sorted(children, key=lambda r: (r.position, r.name.lower(), r.id)):
            walk(child, depth + 1)

    if 0 in rooms:
        walk(rooms[0], 0)


def main():
    path = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else default_socket())
    if not os.path.exists(path):
        sys.exit(
            f"voiced_status: no socket at {path}: is voiced running? "
            "(start it with `voiced`, or give its socket's path as the first argument)"
        )
    with grpc.insecure_channel(f"unix://{path}", options=CHANNEL_OPTIONS) as channel:
        voiced = control_pb2_grpc.VoicedStub(channel)
        try:
            status = voiced.Status(control_pb2.Empty(), timeout=10)
            state = control_pb2.ConnectionState.Name(status.state).lower()
            if status.state != control_pb2.CONNECTED:
                print(f"voiced: {state}" + (f" ({status.server})" if status.server else ""))
                if status.last_error:
                    print(f"last error: {status.last_error}")
                return
            snapshot = voiced.State(control_pb2.Empty(), timeout=10)
        except grpc.RpcError as e:
            sys.exit(f"voiced_status: {path}: {e.code().name}: {e.details()}")
    rooms = {r.id: r for r in snapshot.state.rooms}
    print(
        f"voiced: connected to {status.server} as {status.display_name} "
        f"(session {status.session_id}) in {room_path(rooms, status.room)}"
    )
    print(f"mute: {'yes' if status.self_mute else 'no'}  deaf: {'yes' if status.self_deaf else 'no'}"
          f"  round trip: {status.rtt_ms} ms")
    print(f"rooms (state hash {snapshot.hash.hex()[:16]}):")
    print_tree(snapshot.state, status.session_id)


if __name__ == "__main__":
    main()
