#!/usr/bin/env python3
"""Welcomes everyone who joins a voice-server: `Welcome, NAME!` in the room they joined,
sent as the server under a bot's name.

A plugin on the server's admin API (proto/proto/admin.proto, docs/plugins.md): it follows
`Admin.Watch` and answers each `add_session` with `Admin.SendChat`. With `--state FILE`
it keeps the number of the last event it handled there and resumes after it, so a
restarted bot welcomes whoever joined meanwhile (while the server's backlog holds them).
Generate the stubs once, then run with them on the path (docs/api.md):

    python3 -m grpc_tools.protoc -I proto/proto --python_out=STUBS \
        --grpc_python_out=STUBS wire.proto admin.proto
    PYTHONPATH=STUBS python3 examples/plugins/welcome_bot.py [SOCKET] [--name Greeter] [--state FILE]
"""

import argparse
import logging
import os
import sys

from admin_socket import add_socket_argument, checked_socket, follow, setup_logging

import admin_pb2
import grpc

PROG = "welcome_bot"


def read_state(path):
    """The last event handled, from `path`; None when there is none yet."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        sys.exit(f"{PROG}: cannot read the state file {path}: {e.strerror}")
    try:
        return int(text) if text else None
    except ValueError:
        sys.exit(f"{PROG}: the state file {path} should hold an event number, not {text[:40]!r}")


def write_state(path, seq):
    # Written aside and renamed, so a crash leaves the old number or the new, never half.
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as f:
        f.write(f"{seq}\n")
    os.replace(partial, path)


def main():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    add_socket_argument(parser)
    parser.add_argument("--name", default="Greeter", help="the bot's name in chat [default: Greeter]")
    parser.add_argument("--state", metavar="FILE", help="keep the last event's number here and resume after it")
    args = parser.parse_args()
    setup_logging(PROG)
    path = checked_socket(PROG, args.socket)
    after = read_state(args.state) if args.state else None

    def on_connect(_admin, resume):
        start = "new events" if resume is None else f"after event {resume}"
        logging.info("watching %s as %s (%s)", path, args.name, start)

    def on_event(admin, event):
        kind = event.WhichOneof("kind")
        if kind == "missed":
            logging.warning("missed %d events: %s", event.missed.count, event.missed.why)
        elif kind == "state" and event.state.change.WhichOneof("kind") == "add_session":
            session = event.state.change.add_session
            chat = admin_pb2.ServerChat(room=session.room, bot_name=args.name, text=f"Welcome, {session.name}!")
            try:
                admin.SendChat(chat, timeout=10)
            except grpc.RpcError as e:
                # A refusal (say, a bot name the server does not accept) is told and skipped.
                logging.error("cannot welcome %s: %s: %s", session.name, e.code().name, e.details())
        if args.state:
            write_state(args.state, event.seq)

    try:
        follow(path, after, on_connect, on_event)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
