"""Caucus with a WebRTC stack nobody here wrote: aiortc (PyPI) peers against a live server.

Run by scripts/test-interop: `aiortc_peers.py BASE_URL ROOM TOKEN_HOST TOKEN_GUEST_B
TOKEN_GUEST_C MANAGEMENT_TOKEN`. Three peers join over the signaling WebSocket:

- the host publishes audio and video (frames aiortc encodes as VP8);
- guest B is receive-only and offers *no media section at all*: the server answers an empty
  session and then offers the m-lines B receives on;
- guest C is receive-only with a pool of recvonly m-lines (bundled: the server's candidates
  must be in every media section, where aiortc looks for them).

Both guests must decode the host's video and audio; then the host and B are moved into a
breakout (REST): B keeps decoding the host there and C, left in main, stops. Prints one line
per check and exits 1 on the first failure.
"""

import asyncio
import fractions
import json
import sys
import time
import urllib.request

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from websockets.asyncio.client import connect

TIMEOUT = 30.0


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def rest(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return json.loads(text) if text else None


class Frames(VideoStreamTrack):
    """A moving gray ramp, 320x240 at the stream's own pace."""

    def __init__(self):
        super().__init__()
        self.n = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(320, 240, "yuv420p")
        shade = (self.n * 7) % 256
        for i, plane in enumerate(frame.planes):
            plane.update(bytes([shade if i == 0 else 128]) * plane.buffer_size)
        self.n += 1
        frame.pts = pts
        frame.time_base = time_base
        return frame


class Signal:
    """One signaling connection: requests answered by id, pushed messages handed to `on_push`."""

    def __init__(self, ws, on_push):
        self.ws = ws
        self.on_push = on_push
        self.next_id = 1
        self.waiting = {}
        self.reader = asyncio.create_task(self.read())

    async def read(self):
        async for text in self.ws:
            message = json.loads(text)
            if message.get("type") == "reply" and message.get("id") in self.waiting:
                self.waiting.pop(message["id"]).set_result(message)
            else:
                await self.on_push(message)

    async def request(self, body):
        request_id = self.next_id
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[request_id] = future
        await self.ws.send(json.dumps({"id": request_id, **body}))
        reply = await asyncio.wait_for(future, TIMEOUT)
        if not reply.get("ok"):
            fail(f"{body['type']} refused: {reply.get('error')}")
        return reply.get("data") or {}


class Peer:
    def __init__(self, name):
        self.name = name
        self.pc = RTCPeerConnection()
        self.signal = None
        self.peer_id = None
        self.video_frames = 0
        self.audio_frames = 0
        self.last_video = 0.0
        self.readers = []

        @self.pc.on("track")
        def on_track(track):
            self.readers.append(asyncio.ensure_future(self.consume(track)))

    async def consume(self, track):
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            if track.kind == "video":
                self.video_frames += 1
                self.last_video = time.monotonic()
            else:
                self.audio_frames += 1

    async def join(self, ws_url, token):
        ws = await connect(ws_url)
        self.signal = Signal(ws, self.on_push)
        data = await self.signal.request({"type": "join", "token": token})
        self.peer_id = data["joined"]["peer_id"]

    async def on_push(self, message):
        if message.get("type") == "offer":
            # The server adds m-lines for what this peer receives.
            await self.pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
            await self.signal.request({"type": "answer", "sdp": self.pc.localDescription.sdp})

    async def negotiate(self):
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        data = await self.signal.request({"type": "offer", "sdp": self.pc.localDescription.sdp})
        answer = data["answer"]["sdp"]
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return offer.sdp, answer

    async def wait(self, what, check):
        deadline = time.monotonic() + TIMEOUT
        while not check():
            if time.monotonic() > deadline:
                fail(f"{self.name}: {what} (video frames {self.video_frames}, audio frames {self.audio_frames}, ice {self.pc.iceConnectionState})")
            await asyncio.sleep(0.1)
        print(f"ok: {self.name}: {what}", flush=True)


async def main():
    base, room, host_token, b_token, c_token, management = sys.argv[1:7]
    ws_url = base.replace("http", "ws", 1) + f"/v1/rtc?room={room}"

    host = Peer("host")
    host.pc.addTrack(AudioStreamTrack())
    host.pc.addTrack(Frames())
    await host.join(ws_url, host_token)
    _, answer = await host.negotiate()
    live = [s for s in answer.split("m=")[1:] if not s.split(" ")[1] == "0"]
    if not all("a=candidate:" in s and "a=end-of-candidates" in s for s in live):
        fail("the answer lacks candidates in some media section")
    print(f"ok: host: the answer names the candidates in all {len(live)} media sections", flush=True)
    for transceiver in host.pc.getTransceivers():
        source = "audio" if transceiver.kind == "audio" else "video"
        await host.signal.request(
            {"type": "publish", "source": source, "mid": transceiver.mid, "muted": False}
        )
    await host.wait("ICE and DTLS are up", lambda: host.pc.connectionState == "connected")

    b = Peer("guest B (no media section)")
    await b.join(ws_url, b_token)
    offer, answer = await b.negotiate()
    if "m=" in offer:
        fail("aiortc offered media sections; this peer was to offer none")
    if "m=" in answer:
        fail("the answer to an offer without media sections has some")
    print("ok: guest B: an offer without media sections is answered", flush=True)

    c = Peer("guest C (recvonly pool)")
    for kind in ["audio", "video", "video"]:
        c.pc.addTransceiver(kind, direction="recvonly")
    await c.join(ws_url, c_token)
    await c.negotiate()

    for guest in [b, c]:
        await guest.wait("decodes the host's video", lambda g=guest: g.video_frames >= 30)
        await guest.wait("decodes the host's audio", lambda g=guest: g.audio_frames >= 50)

    created = rest(base, management, "POST", f"/v1/rooms/{room}/breakouts", {"count": 1})
    breakout = created["rooms"][0]["id"]
    rest(base, management, "POST", f"/v1/rooms/{room}/breakouts/open", {})
    for peer in [host, b]:
        rest(base, management, "PATCH", f"/v1/rooms/{room}/peers/{peer.peer_id}", {"location": breakout})
    print(f"ok: host and guest B moved into {breakout}", flush=True)
    moved_at = b.video_frames
    await b.wait("decodes the host's video in the breakout", lambda: b.video_frames >= moved_at + 60)
    # C stays in main: the host's video stops reaching it (no frame for two seconds).
    await c.wait("no longer receives the host, who left main", lambda: time.monotonic() - c.last_video > 2.0)

    for peer in [host, b, c]:
        await peer.pc.close()
        await peer.signal.ws.close()
    print("PASS", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
