#!/usr/bin/env python3
"""A breakout session driven only by a client generated from /v1/openapi.json.

Run by scripts/test-openapi in a venv that holds the client `openapi-python-client` generated
from the served document (package `caucus_client`) and `websockets`: creates a room, mints a
join token per person with the generated client, joins a host and three guests over the
signaling WebSocket (the one part of a session the REST API does not carry), then creates
breakout rooms, assigns one guest by hand and the rest automatically, opens the set, reads where
everyone is, closes it and reads that everyone is back in the main room. Every REST call is a
typed call of the generated client; every answer is checked. Exits non-zero on the first
answer that differs from what the document promises.

Usage: openapi-client-scenario.py BASE_URL MANAGEMENT_TOKEN
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect

from caucus_client import AuthenticatedClient
from caucus_client.api.breakouts import (
    assign_breakouts,
    close_breakouts,
    create_breakout_rooms,
    list_breakout_rooms,
    open_breakouts,
    set_breakout_options,
)
from caucus_client.api.rooms import create_room, get_room
from caucus_client.api.session import list_peers
from caucus_client.api.tokens import create_token
from caucus_client.models import (
    AssignBody,
    AssignBodyAssignmentsType0,
    AutoAssign,
    Breakouts,
    BreakoutsCreate,
    BreakoutsCreated,
    CloseBody,
    ErrorEnvelope,
    OpenBody,
    OptionsBody,
    PeerList,
    Phase,
    RoomCreate,
    RoomOut,
    TokenRequest,
    TokenResponse,
)

BASE, TOKEN = sys.argv[1:3]
ROOM = "openapi-client"


def check(condition, what):
    if not condition:
        raise SystemExit(f"openapi client scenario: {what}")


def answer(value, kind, what):
    """A typed answer of `kind`, not an error envelope or nothing."""
    if isinstance(value, ErrorEnvelope):
        raise SystemExit(f"openapi client scenario: {what} answered {value.error.code}: {value.error.message}")
    check(isinstance(value, kind), f"{what} answered {value!r}, not a {kind.__name__}")
    return value


async def join(client, user_id, role):
    """Mint a join token with the generated client and join over the signaling WebSocket."""
    token = answer(
        await create_token.asyncio(client=client, body=TokenRequest(room=ROOM, user_id=user_id, role=role)),
        TokenResponse,
        f"create_token for {user_id}",
    )
    check(token.token and token.expires_in_s > 0, f"token for {user_id}: {token!r}")
    ws = await connect(BASE.replace("http://", "ws://", 1) + "/v1/rtc?room=" + ROOM, max_size=2**20)
    await ws.send(json.dumps({"id": 1, "type": "join", "token": token.token}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if message.get("type") == "reply" and message.get("id") == 1:
            check(message.get("ok"), f"join of {user_id} refused: {message}")
            return ws, message["data"]["joined"]["peer_id"]


async def drain(ws):
    try:
        async for _ in ws:
            pass
    except Exception:  # closed when the scenario ends
        pass


async def main():
    client = AuthenticatedClient(base_url=BASE, token=TOKEN, raise_on_unexpected_status=True)
    async with client:
        room = answer(
            await create_room.asyncio(client=client, body=RoomCreate(id=ROOM, name="Client scenario", template="breakout")),
            RoomOut,
            "create_room",
        )
        check(room.id == ROOM and room.template == "breakout", f"created room {room!r}")
        room = answer(await get_room.asyncio(ROOM, client=client), RoomOut, "get_room")
        check(room.name == "Client scenario", f"read room {room!r}")

        people = [("host-1", "host"), ("guest-1", "guest"), ("guest-2", "guest"), ("guest-3", "guest")]
        sockets, peer_ids = [], {}
        for user_id, role in people:
            ws, peer_id = await join(client, user_id, role)
            sockets.append(ws)
            peer_ids[user_id] = peer_id
        drains = [asyncio.create_task(drain(ws)) for ws in sockets]
        guests = [peer_ids[u] for u, r in people if r == "guest"]

        listed = answer(await list_peers.asyncio(ROOM, client=client), PeerList, "list_peers")
        check(
            sorted(p.id for p in listed.peers) == sorted(peer_ids.values()),
            f"peers {[p.id for p in listed.peers]} are not the four who joined",
        )
        check(all(p.location == "main" for p in listed.peers), "someone is not in the main room")

        # Two breakout rooms, then the options: everyone moves when the set opens.
        created = answer(
            await create_breakout_rooms.asyncio(ROOM, client=client, body=BreakoutsCreate(count=2)),
            BreakoutsCreated,
            "create_breakout_rooms",
        )
        check(len(created.rooms) == 2, f"{len(created.rooms)} breakout rooms created, not 2")
        first, second = (r.id for r in created.rooms)
        options = answer(
            await set_breakout_options.asyncio(ROOM, client=client, body=OptionsBody(auto_move_on_open=True)),
            Breakouts,
            "set_breakout_options",
        )
        check(options.options.auto_move_on_open, "auto_move_on_open did not stick")
        check(options.phase == Phase.DRAFT, f"phase {options.phase} before opening, not draft")

        # guest-1 by hand into the first room; the others by the server, keeping that choice.
        hand = AssignBodyAssignmentsType0.from_dict({guests[0]: first})
        assigned = answer(
            await assign_breakouts.asyncio(ROOM, client=client, body=AssignBody(assignments=hand)),
            Breakouts,
            "assign_breakouts (by hand)",
        )
        rooms = {r.id: r for r in assigned.rooms}
        check(guests[0] in rooms[first].assigned, f"guest-1 not assigned to {first}: {rooms[first].assigned}")
        auto = answer(
            await assign_breakouts.asyncio(
                ROOM,
                client=client,
                body=AssignBody(auto=AutoAssign(exclude_roles=["host"], keep_previous=True, seed=7)),
            ),
            Breakouts,
            "assign_breakouts (auto)",
        )
        rooms = {r.id: r for r in auto.rooms}
        everyone_assigned = sorted(p for r in auto.rooms for p in r.assigned)
        check(everyone_assigned == sorted(guests), f"assigned {everyone_assigned}, not the three guests")
        check(guests[0] in rooms[first].assigned, "auto-assign did not keep guest-1's room")
        check(rooms[first].assigned and rooms[second].assigned, "auto-assign left a room empty")
        check(peer_ids["host-1"] not in everyone_assigned, "the excluded host was assigned")

        opened = answer(
            await open_breakouts.asyncio(ROOM, client=client, body=OpenBody(duration_s=600)),
            Breakouts,
            "open_breakouts",
        )
        check(opened.phase == Phase.OPEN, f"phase {opened.phase} after opening, not open")
        check(opened.version > auto.version, "opening did not bump the version")

        listed = answer(await list_breakout_rooms.asyncio(ROOM, client=client), Breakouts, "list_breakout_rooms")
        check(listed.phase == Phase.OPEN, f"listed phase {listed.phase}")
        check(isinstance(listed.ends_in_ms, int) and 0 < listed.ends_in_ms <= 600_000, f"ends_in_ms {listed.ends_in_ms!r}")
        for r in listed.rooms:
            check(sorted(r.peers) == sorted(r.assigned), f"room {r.id} holds {r.peers}, assigned {r.assigned}")
        where = {p.id: p.location for p in answer(await list_peers.asyncio(ROOM, client=client), PeerList, "list_peers").peers}
        check(where[peer_ids["host-1"]] == "main", f"the host is in {where[peer_ids['host-1']]}")
        check(where[guests[0]] == first, f"guest-1 is in {where[guests[0]]}, not {first}")
        check(all(where[g] in (first, second) for g in guests), f"guests are in {where}")

        closed = answer(
            await close_breakouts.asyncio(ROOM, client=client, body=CloseBody(countdown_s=0)),
            Breakouts,
            "close_breakouts",
        )
        check(closed.phase in (Phase.CLOSED, Phase.DRAFT), f"phase {closed.phase} after closing with no countdown")
        listed = answer(await list_breakout_rooms.asyncio(ROOM, client=client), Breakouts, "list_breakout_rooms")
        check(all(not r.peers for r in listed.rooms), "a breakout room still holds peers after closing")
        where = {p.id: p.location for p in answer(await list_peers.asyncio(ROOM, client=client), PeerList, "list_peers").peers}
        check(all(loc == "main" for loc in where.values()), f"not everyone is back in main: {where}")

        for ws in sockets:
            await ws.close()
        await asyncio.gather(*drains)
    print("openapi client scenario: ok")


asyncio.run(main())
