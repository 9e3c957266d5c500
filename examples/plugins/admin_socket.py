"""What both example bots share: finding the server's admin socket and following
`Admin.Watch` on it, reconnecting and resuming when the stream ends.

Imported by welcome_bot.py and command_bot.py from this directory (Python puts a
script's own directory on the path); the stubs generated from proto/proto must be
on PYTHONPATH (docs/api.md).
"""

import logging
import os
import sys
import time

try:
    import grpc

    import admin_pb2
    import admin_pb2_grpc
except ImportError as e:
    sys.exit(
        f"{os.path.splitext(os.path.basename(sys.argv[0]))[0]}: {e}: install grpcio and grpcio-tools "
        "(python3 -m pip install grpcio grpcio-tools) and put the stubs generated from "
        "proto/proto (wire.proto, admin.proto) on PYTHONPATH; see docs/api.md"
    )

# grpcio sends the socket's path as the HTTP/2 :authority, which the server's HTTP/2
# server refuses (every call fails with RST_STREAM); any host name does (docs/api.md).
CHANNEL_OPTIONS = [("grpc.default_authority", "localhost")]

# How long to wait before reconnecting when the server is gone or ended the stream.
RECONNECT_SECONDS = 1.0


def default_socket():
    """admin.sock in the data dir voice-server uses without --data-dir or a config
    (the same rule as examples/python/server_admin.py)."""
    data_dir = os.environ.get("VOICE_SERVER_DATA_DIR")
    if not data_dir:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.expanduser("~/.local/share")
        data_dir = os.path.join(base, "voice-server")
    return os.path.join(data_dir, "admin.sock")


def add_socket_argument(parser):
    parser.add_argument(
        "socket",
        nargs="?",
        help="the server's admin socket [default: admin.sock in $VOICE_SERVER_DATA_DIR, "
        "else $XDG_DATA_HOME/voice-server, else ~/.local/share/voice-server]",
    )


def checked_socket(prog, path):
    """The socket's absolute path, or exit saying why it cannot be used."""
    path = os.path.abspath(path or default_socket())
    if not os.path.exists(path):
        sys.exit(
            f"{prog}: no socket at {path}: is voice-server running with this data dir? "
            "(give the admin socket's path as the first argument)"
        )
    if not os.access(path, os.R_OK | os.W_OK):
        sys.exit(f"{prog}: {path}: permission denied: run as the server's user or root")
    return path


def setup_logging(prog):
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=f"{prog}: %(message)s")


def follow(path, after, on_connect, on_event):
    """Follows `Admin.Watch` on `path` for ever: `on_connect(admin, after)` once the
    server has registered the watcher (so nothing after that is missed), `on_event(admin,
    event)` for each event. Resumes after the last event handled when the stream ends
    (the server stopped) or the server cannot be reached. `after`: where to start
    (None: new events only)."""
    while True:
        with grpc.insecure_channel(f"unix://{path}", options=CHANNEL_OPTIONS) as channel:
            admin = admin_pb2_grpc.AdminStub(channel)
            request = admin_pb2.WatchRequest() if after is None else admin_pb2.WatchRequest(after=after)
            events = admin.Watch(request)
            try:
                # Headers come back once the server has placed the watcher in its log.
                events.initial_metadata()
                if not events.done():  # a refusal ends the call at once; iterating raises it
                    on_connect(admin, after)
                for event in events:
                    on_event(admin, event)
                    after = event.seq
                logging.info("the server ended the event stream; reconnecting")
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.UNAVAILABLE:
                    logging.info("%s: server unavailable (%s); retrying", path, e.details())
                elif e.code() == grpc.StatusCode.INVALID_ARGUMENT and after is not None:
                    # Our resume position is not this server's (another data dir?).
                    logging.warning("cannot resume after %d: %s; following new events only", after, e.details())
                    after = None
                    continue
                else:
                    sys.exit(f"{os.path.splitext(os.path.basename(sys.argv[0]))[0]}: {path}: {e.code().name}: {e.details()}")
        time.sleep(RECONNECT_SECONDS)
