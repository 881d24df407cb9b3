#!/usr/bin/env python3
"""The world the API fuzz test works on, and the document that names it.

Run by scripts/test-api (in the schemathesis venv, which also holds `websockets`) against a
fresh server: creates rooms, templates, live sessions with peers joined over the signaling
WebSocket, breakout sets in the phases the operations need, a recording and an invite; then writes a
copy of the server's OpenAPI document whose path-parameter examples (and a few body examples)
name what it created, so that schemathesis's example and coverage cases reach the operations
instead of answering 404. Operations that change state for good (delete, end, remove, open,
close, stop) each get a resource of their own, so the order schemathesis calls them in does
not matter.

It then holds the WebSocket connections open (reading every frame, so no write deadline
drops them) until it is terminated. It prints `ready` on stdout once the document is written.

Usage: api-fixture.py BASE_URL MANAGEMENT_TOKEN OUT_SPEC_PATH OUT_FIXTURE_PATH
"""

import asyncio
import copy
import json
import signal
import sys
import urllib.error
import urllib.request

from websockets.asyncio.client import connect

BASE, TOKEN, OUT_SPEC, OUT_FIXTURE = sys.argv[1:5]


def call(method, path, body=None, expect=(200, 201, 204)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        BASE + path,
        data=data,
        method=method,
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    if status not in expect:
        raise SystemExit(f"fixture: {method} {path} answered {status}: {raw[:300]!r}")
    return json.loads(raw) if raw else None


class Peer:
    """One joined signaling connection, read until the fixture ends."""

    def __init__(self, room, user_id, role):
        self.room, self.user_id, self.role = room, user_id, role
        self.peer_id = None
        self.ws = None

    async def join(self):
        token = call("POST", "/v1/tokens", {"room": self.room, "user_id": self.user_id, "role": self.role})
        url = BASE.replace("http://", "ws://", 1) + "/v1/rtc?room=" + self.room
        self.ws = await connect(url, max_size=2**20)
        await self.ws.send(json.dumps({"id": 1, "type": "join", "token": token["token"]}))
        while True:
            message = json.loads(await self.ws.recv())
            if message.get("type") == "reply" and message.get("id") == 1:
                if not message.get("ok"):
                    raise SystemExit(f"fixture: join of {self.user_id} in {self.room} refused: {message}")
                self.peer_id = message["data"]["joined"]["peer_id"]
                return

    async def drain(self):
        try:
            async for _ in self.ws:
                pass
        except Exception:  # a peer removed or a session ended by the fuzzer closes its socket
            pass


def room(room_id, template="breakout"):
    call("POST", "/v1/rooms", {"id": room_id, "name": room_id.title(), "template": template})


def template(template_id, roles):
    call("POST", "/v1/templates", {"id": template_id, "name": template_id.title(), "roles": roles})


async def main():
    # Templates: one to read and replace, one whose roles are added and removed, one to delete.
    guest = {"publish": {"allowed": ["audio", "video"]}, "subscribe": {"roles": ["guest"]}}
    template("fixture-tpl", {"guest": guest})
    template("fixture-roles", {"guest": guest, "spare": guest})
    template("fixture-doomed", {"guest": guest})

    # Rooms. `demo` carries the live session most operations read and edit: peers, an open
    # breakout set with a timer (extend, broadcast, moves). The others exist for one
    # operation each.
    for name in ["demo", "drafting", "closing", "pruning", "creating", "ending", "kick", "recorded", "doomed"]:
        room(name)

    peers = {}
    for room_id, users in {
        "demo": [("host-1", "host"), ("guest-1", "guest"), ("guest-2", "guest")],
        "drafting": [("host-1", "host"), ("guest-1", "guest")],
        "closing": [("host-1", "host"), ("guest-1", "guest")],
        "ending": [("guest-1", "guest")],
        "kick": [("guest-1", "guest"), ("guest-2", "guest")],
        "recorded": [("host-1", "host")],
    }.items():
        for user_id, role in users:
            peer = Peer(room_id, user_id, role)
            await peer.join()
            peers[(room_id, user_id)] = peer

    def breakouts(room_id, count):
        created = call("POST", f"/v1/rooms/{room_id}/breakouts", {"count": count})
        return [r["id"] for r in created["rooms"]]

    demo_rooms = breakouts("demo", 2)
    call("POST", "/v1/rooms/demo/breakouts/open", {"duration_s": 3600})
    drafting_rooms = breakouts("drafting", 2)
    closing_rooms = breakouts("closing", 2)
    pruning_rooms = breakouts("pruning", 2)
    call("POST", "/v1/rooms/closing/breakouts/open", {})
    recording = call("POST", "/v1/rooms/recorded/recordings", {"location": "main"})
    # An invite of `demo` to list and revoke (revoking again is fine, so any order works).
    invite = call("POST", "/v1/rooms/demo/invites", {"role": "guest", "max_uses": 5})

    demo_guest = peers[("demo", "guest-1")].peer_id
    fixture = {
        "rooms": {
            "read": "demo",
            "open": "drafting",
            "close": "closing",
            "end": "ending",
            "remove_peer": "kick",
            "delete": "doomed",
        },
        "peers": {
            "read": demo_guest,
            "remove": peers[("kick", "guest-2")].peer_id,
        },
        "breakouts": {"demo": demo_rooms, "drafting": drafting_rooms, "closing": closing_rooms, "pruning": pruning_rooms},
        "templates": {"read": "fixture-tpl", "roles": "fixture-roles", "delete": "fixture-doomed"},
        "recording": recording["id"],
        "invite": invite["id"],
    }

    # Which resource each operation's examples name: (method, path) → parameter → value.
    where = {
        ("delete", "/v1/rooms/{room_id}"): {"room_id": "doomed"},
        ("post", "/v1/rooms/{room_id}/end"): {"room_id": "ending"},
        ("delete", "/v1/rooms/{room_id}/peers/{peer_id}"): {
            "room_id": "kick",
            "peer_id": fixture["peers"]["remove"],
        },
        ("post", "/v1/rooms/{room_id}/breakouts/open"): {"room_id": "drafting"},
        ("post", "/v1/rooms/{room_id}/breakouts/close"): {"room_id": "closing"},
        ("get", "/v1/templates/{template_id}"): {"template_id": "fixture-tpl"},
        ("put", "/v1/templates/{template_id}"): {"template_id": "fixture-tpl"},
        ("delete", "/v1/templates/{template_id}"): {"template_id": "fixture-doomed"},
        ("put", "/v1/templates/{template_id}/roles/{role}"): {
            "template_id": "fixture-roles",
            "role": "extra",
        },
        ("delete", "/v1/templates/{template_id}/roles/{role}"): {
            "template_id": "fixture-roles",
            "role": "spare",
        },
        ("post", "/v1/rooms/{room_id}/breakouts"): {"room_id": "creating"},
        ("delete", "/v1/rooms/{room_id}/breakouts/{breakout_id}"): {
            "room_id": "pruning",
            "breakout_id": pruning_rooms[-1],
        },
    }
    defaults = {
        "room_id": "demo",
        "peer_id": demo_guest,
        "breakout_id": demo_rooms[0],
        "template_id": "fixture-tpl",
        "recording_id": recording["id"],
        "invite_id": invite["id"],
    }
    # Body examples that must name what exists (or that a random draw seldom gets right).
    bodies = {
        # No id: a slug of the name, made unique, so every try can succeed.
        ("post", "/v1/rooms"): {"name": "Fuzzed room", "template": "breakout"},
        ("post", "/v1/tokens"): {"room": "demo", "user_id": "fuzz-user", "role": "guest"},
        ("post", "/v1/templates"): {"name": "Fuzzed", "roles": {"guest": guest}},
        ("post", "/v1/rooms/{room_id}/breakouts"): {"count": 1},
        ("post", "/v1/rooms/{room_id}/breakouts/extend"): {"seconds": 60},
        # Nobody holds co-host in demo: the change is valid and moves no one.
        ("post", "/v1/rooms/{room_id}/roles/change"): {"from_roles": ["co-host"], "to_role": "guest"},
        ("post", "/v1/rooms/{room_id}/breakouts/assign"): {"assignments": {demo_guest: demo_rooms[0]}},
        ("put", "/v1/rooms/{room_id}/breakouts/preassignments"): {"by_user_id": {"guest-2": demo_rooms[0]}},
        ("patch", "/v1/rooms/{room_id}/peers/{peer_id}"): {"location": demo_rooms[0]},
        ("post", "/v1/rooms/{room_id}/breakouts/close"): {"breakout_id": closing_rooms[0], "countdown_s": 0},
        ("post", "/v1/rooms/{room_id}/invites"): {"role": "guest", "expires_in_s": 3600, "max_uses": 30},
    }

    with urllib.request.urlopen(BASE + "/v1/openapi.json", timeout=10) as response:
        spec = json.load(response)
    spec = copy.deepcopy(spec)
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            chosen = where.get((method, path), {})
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "path":
                    continue
                value = chosen.get(parameter["name"], defaults.get(parameter["name"]))
                if value is not None:
                    parameter["example"] = value
                    parameter.pop("examples", None)
                    parameter.setdefault("schema", {}).pop("example", None)
            body = bodies.get((method, path))
            if body is not None:
                media = operation["requestBody"]["content"]["application/json"]
                media["example"] = body
                media.pop("examples", None)
    with open(OUT_SPEC, "w") as f:
        json.dump(spec, f, indent=1)
    with open(OUT_FIXTURE, "w") as f:
        json.dump(fixture, f, indent=1)
    print("ready", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    drains = [asyncio.create_task(p.drain()) for p in peers.values()]
    await stop.wait()
    for peer in peers.values():
        await peer.ws.close()
    for task in drains:
        task.cancel()


asyncio.run(main())
