#!/usr/bin/env python3
"""Answers chat commands on a voice-server, in the room they were said in, as the server
under a bot's name:

    !roll [NdM]   rolls N dice of M sides (default 1d6; at most 100 dice of 1000 sides)
    !who          who is in this room

A plugin on the server's admin API (proto/proto/admin.proto, docs/plugins.md). It keeps a
mirror of who is where: `Sessions` and `Rooms` once, then the changes `Admin.Watch`
reports (and a reload when it says events were missed). Messages from sender 0 (this
bot's own and other bots') are never answered, so bots cannot set each other off.
Generate the stubs once, then run with them on the path (docs/api.md):

    python3 -m grpc_tools.protoc -I proto/proto --python_out=STUBS \
        --grpc_python_out=STUBS wire.proto admin.proto
    PYTHONPATH=STUBS python3 examples/plugins/command_bot.py [SOCKET] [--name Dice]
"""

import argparse
import logging
import random
import re

from admin_socket import add_socket_argument, checked_socket, follow, setup_logging

import admin_pb2
import grpc

PROG = "command_bot"
MAX_DICE = 100
MAX_SIDES = 1000
# Beyond this many dice the answer gives the total only, to stay a readable line.
MAX_LISTED = 20
DICE = re.compile(r"^(\d*)d(\d+)$", re.IGNORECASE)


class Mirror:
    """Who is where, and the rooms' names: what `!who` answers from."""

    def __init__(self):
        self.sessions = {}  # id -> Session
        self.rooms = {}  # id -> name

    def reload(self, admin):
        rooms = admin.Rooms(admin_pb2.Empty(), timeout=10).rooms
        sessions = admin.Sessions(admin_pb2.Empty(), timeout=10).sessions
        self.rooms = {r.id: r.name for r in rooms}
        self.sessions = {s.id: s for s in sessions}

    def apply(self, change):
        # Each change sets what it names, so one already in the loaded state is harmless.
        kind = change.WhichOneof("kind")
        if kind == "add_session":
            self.sessions[change.add_session.id] = change.add_session
        elif kind == "remove_session":
            self.sessions.pop(change.remove_session.id, None)
        elif kind == "move_session":
            if change.move_session.session in self.sessions:
                self.sessions[change.move_session.session].room = change.move_session.room
        elif kind == "rename_session":
            if change.rename_session.session in self.sessions:
                self.sessions[change.rename_session.session].name = change.rename_session.name
        elif kind == "add_room":
            self.rooms[change.add_room.id] = change.add_room.name
        elif kind == "edit_room" and change.edit_room.HasField("name"):
            self.rooms[change.edit_room.id] = change.edit_room.name
        elif kind == "remove_room":
            self.rooms.pop(change.remove_room.id, None)

    def who(self, room):
        names = sorted((s.name for s in self.sessions.values() if s.room == room), key=str.lower)
        where = self.rooms.get(room, f"room {room}")
        return f"In {where}: {', '.join(names)}" if names else f"No one is in {where}."


def roll(who, arg):
    """The answer to `!roll ARG` from `who`."""
    found = DICE.match(arg or "1d6")
    if not found:
        return f"Sorry {who}, I roll dice written like 2d6 (at most {MAX_DICE} dice of {MAX_SIDES} sides)."
    dice = int(found.group(1) or "1")
    sides = int(found.group(2))
    if not (1 <= dice <= MAX_DICE and 1 <= sides <= MAX_SIDES):
        return f"Sorry {who}, I roll at most {MAX_DICE} dice of at most {MAX_SIDES} sides."
    rolls = [random.randint(1, sides) for _ in range(dice)]
    answer = f"{who} rolled {dice}d{sides}: {sum(rolls)}"
    if 1 < dice <= MAX_LISTED:
        answer += f" ({', '.join(map(str, rolls))})"
    return answer


def answer(mirror, chat):
    """The bot's reply to a chat message, or None."""
    words = chat.text.split()
    if not words:
        return None
    if words[0] == "!roll" and len(words) <= 2:
        return roll(chat.sender_name, words[1] if len(words) == 2 else None)
    if words[0] == "!who" and len(words) == 1:
        return mirror.who(chat.room)
    return None


def main():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    add_socket_argument(parser)
    parser.add_argument("--name", default="Dice", help="the bot's name in chat [default: Dice]")
    args = parser.parse_args()
    setup_logging(PROG)
    path = checked_socket(PROG, args.socket)
    mirror = Mirror()

    def on_connect(admin, _after):
        # Loaded once the watcher is in place: nothing between the two is lost.
        mirror.reload(admin)
        logging.info("watching %s as %s (%d sessions)", path, args.name, len(mirror.sessions))

    def on_event(admin, event):
        kind = event.WhichOneof("kind")
        if kind == "missed":
            logging.warning("missed %d events: %s; reloading", event.missed.count, event.missed.why)
            mirror.reload(admin)
        elif kind == "state":
            mirror.apply(event.state.change)
        elif kind == "chat" and event.chat.sender != 0:
            reply = answer(mirror, event.chat)
            if reply is None:
                return
            try:
                admin.SendChat(admin_pb2.ServerChat(room=event.chat.room, bot_name=args.name, text=reply), timeout=10)
            except grpc.RpcError as e:
                logging.error("cannot answer in room %d: %s: %s", event.chat.room, e.code().name, e.details())

    try:
        follow(path, None, on_connect, on_event)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
