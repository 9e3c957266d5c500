#!/usr/bin/env python3
"""The welcome bot over the plugin TCP listener: `Welcome, NAME!` to everyone who joins,
from another machine, with a plugin token.

The server must listen for plugins (`plugin_listen` in its config) and its operator gives
you a token with the `events` and `chat` scopes (docs/plugins.md):

    voice-server admin plugin-token create greeter --scope events,chat

The token goes in every call's metadata as `authorization: Bearer TOKEN`; this bot reads
it from $VOICE_PLUGIN_TOKEN (not an argument, which other users could see in `ps`). The
connection is TLS with the server's own certificate: give a self-signed server's
certificate (cert.pem in its data dir; its fingerprint is in its banner) with --cert, and
with --server-name a name on it (`localhost` for a self-signed one) when you connect by
address; a certificate from a CA (acme mode) needs neither. Generate the stubs once, then
run with them on the path (docs/api.md):

    python3 -m grpc_tools.protoc -I proto/proto --python_out=STUBS \
        --grpc_python_out=STUBS wire.proto admin.proto
    VOICE_PLUGIN_TOKEN=vpt_... PYTHONPATH=STUBS python3 examples/plugins/tcp_welcome_bot.py \
        voice.example.org:7879 [--cert cert.pem --server-name localhost] [--name Greeter]
"""

import argparse
import logging
import os
import sys
import time

PROG = "tcp_welcome_bot"

try:
    import grpc

    import admin_pb2
    import admin_pb2_grpc
except ImportError as e:
    sys.exit(
        f"{PROG}: {e}: install grpcio and grpcio-tools (python3 -m pip install grpcio grpcio-tools) "
        "and put the stubs generated from proto/proto (wire.proto, admin.proto) on PYTHONPATH; "
        "see docs/api.md"
    )

# The server closes a connection that sends nothing for 5 minutes; HTTP/2 pings keep a
# quiet Watch open (and notice a dead server). grpcio stops pinging after two pings
# without data unless told otherwise.
KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]

RECONNECT_SECONDS = 1.0


def channel_credentials(cert_path):
    """TLS trusting `cert_path` (a self-signed server's certificate), else the system's CAs."""
    if not cert_path:
        return grpc.ssl_channel_credentials()
    try:
        with open(cert_path, "rb") as f:
            return grpc.ssl_channel_credentials(root_certificates=f.read())
    except OSError as e:
        sys.exit(f"{PROG}: cannot read the server's certificate {cert_path}: {e.strerror}")


def main():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("address", help="the server's plugin listener, HOST:PORT")
    parser.add_argument("--cert", help="the server's certificate (PEM) to trust, for a self-signed server")
    parser.add_argument("--server-name", help="the name on the certificate, when it is not HOST (a self-signed one: localhost)")
    parser.add_argument("--name", default="Greeter", help="the bot's name in chat [default: Greeter]")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=f"{PROG}: %(message)s")
    token = os.environ.get("VOICE_PLUGIN_TOKEN", "").strip()
    if not token:
        sys.exit(
            f"{PROG}: set VOICE_PLUGIN_TOKEN to a plugin token with the events and chat scopes "
            "(the server's operator: voice-server admin plugin-token create NAME --scope events,chat)"
        )
    metadata = (("authorization", f"Bearer {token}"),)
    options = list(KEEPALIVE_OPTIONS)
    if args.server_name:
        options.append(("grpc.ssl_target_name_override", args.server_name))
    credentials = channel_credentials(args.cert)
    after = None
    while True:
        with grpc.secure_channel(args.address, credentials, options=options) as channel:
            admin = admin_pb2_grpc.AdminStub(channel)
            request = admin_pb2.WatchRequest() if after is None else admin_pb2.WatchRequest(after=after)
            events = admin.Watch(request, metadata=metadata)
            try:
                events.initial_metadata()
                if not events.done():  # a refusal ends the call at once; iterating raises it
                    logging.info("watching %s as %s", args.address, args.name)
                for event in events:
                    after = event.seq
                    if event.WhichOneof("kind") == "state" and event.state.change.WhichOneof("kind") == "add_session":
                        session = event.state.change.add_session
                        chat = admin_pb2.ServerChat(room=session.room, bot_name=args.name, text=f"Welcome, {session.name}!")
                        try:
                            admin.SendChat(chat, metadata=metadata, timeout=10)
                        except grpc.RpcError as e:
                            if e.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                                raise
                            logging.error("cannot welcome %s: %s: %s", session.name, e.code().name, e.details())
                logging.info("the server ended the event stream; reconnecting")
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.UNAVAILABLE:
                    logging.info("%s: unavailable (%s); retrying", args.address, e.details())
                else:
                    # A missing, revoked or too narrow token, a throttled address: say why, stop.
                    sys.exit(f"{PROG}: {args.address}: {e.code().name}: {e.details()}")
            except KeyboardInterrupt:
                return
        time.sleep(RECONNECT_SECONDS)


if __name__ == "__main__":
    main()
