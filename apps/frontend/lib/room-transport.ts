/**
 * How a browser's audio reaches a room: the embedded SFU (RTCPeerConnection + Solace's
 * signalling protocol v1) or LiveKit. `useRoom()` talks to this interface only.
 */
import { getLiveKitGrant, getSignalGrant } from "@/lib/api";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

export interface TransportEvents {
  /** A speaker's voice arrived (keyed by their handle). */
  voice: (handle: string, stream: MediaStream) => void;
  voiceGone: (handle: string) => void;
  /** Someone changed something in the room: fetch it again. */
  roomChanged: () => void;
  state: (state: ConnectionState) => void;
  /** Who is speaking now (handles), as the audio server hears it. */
  speakers: (handles: string[]) => void;
  /** The server ended this person's audio: removed or room ended (`ended`), or the
   * same seat connected from another tab or device (`replaced`). */
  ended: (why: "ended" | "replaced") => void;
}

export interface RoomTransport {
  connect(): Promise<void>;
  /** Sends this microphone track (or silence with `null`). */
  setMic(track: MediaStreamTrack | null): Promise<void>;
  close(): void;
  /** WebRTC statistics, for diagnostics and the browser tests. */
  stats(): Promise<RTCStatsReport | null>;
}

const RECONNECT_DELAYS = [500, 1000, 2000, 4000, 8000];

/** The embedded SFU: one peer connection, one send-only audio transceiver. */
export class EmbeddedTransport implements RoomTransport {
  private pc: RTCPeerConnection | null = null;
  private ws: WebSocket | null = null;
  private mic: MediaStreamTrack | null = null;
  private closed = false;
  private attempt = 0;

  constructor(
    private roomId: string,
    private on: TransportEvents,
  ) {}

  async connect(): Promise<void> {
    this.on.state(this.attempt === 0 ? "connecting" : "reconnecting");
    const grant = await getSignalGrant(this.roomId);
    const pc = new RTCPeerConnection({
      iceServers: grant.ice_servers,
      iceTransportPolicy: grant.ice_transport_policy,
    });
    this.pc = pc;
    const transceiver = pc.addTransceiver("audio", { direction: "sendonly" });
    if (this.mic) await transceiver.sender.replaceTrack(this.mic);
    pc.ontrack = (event) => {
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      const handle = stream.id;
      this.on.voice(handle, stream);
      event.track.onended = () => this.on.voiceGone(handle);
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === "connected") {
        this.attempt = 0;
        this.on.state("connected");
      } else if (pc.connectionState === "failed" || pc.connectionState === "disconnected") {
        this.retry();
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    // A path on this host, or the backend's own address when the pages are served
    // elsewhere (SIGNAL_ORIGIN: a CDN does not carry WebSockets).
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = /^wss?:\/\//.test(grant.url)
      ? grant.url
      : `${scheme}://${location.host}${grant.url}`;
    const ws = new WebSocket(`${socket}?token=${encodeURIComponent(grant.token)}`);
    this.ws = ws;
    ws.onopen = () =>
      ws.send(
        JSON.stringify({
          type: "join",
          v: 1,
          offer: { type: "offer", sdp: pc.localDescription?.sdp },
        }),
      );
    ws.onmessage = async (message) => {
      const data = JSON.parse(String(message.data)) as {
        type: string;
        answer?: { sdp: string };
        offer?: { sdp: string };
        handles?: string[];
      };
      if (data.type === "joined" && data.answer) {
        await pc.setRemoteDescription({ type: "answer", sdp: data.answer.sdp });
      } else if (data.type === "offer" && data.offer) {
        await pc.setRemoteDescription({ type: "offer", sdp: data.offer.sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        ws.send(
          JSON.stringify({
            type: "answer",
            answer: { type: "answer", sdp: pc.localDescription?.sdp },
          }),
        );
      } else if (data.type === "room_changed") {
        this.on.roomChanged();
      } else if (data.type === "speakers") {
        this.on.speakers(data.handles ?? []);
      } else if (data.type === "disconnected" || data.type === "replaced") {
        this.closed = true;
        this.on.ended(data.type === "replaced" ? "replaced" : "ended");
      }
    };
    ws.onclose = () => {
      if (ws === this.ws && !this.closed) this.retry();
    };
  }

  /** A dropped network comes back by itself: a fresh token, a fresh connection. */
  private retry(): void {
    if (this.closed) return;
    this.teardown();
    const delay = RECONNECT_DELAYS[Math.min(this.attempt, RECONNECT_DELAYS.length - 1)] ?? 8000;
    this.attempt += 1;
    this.on.state("reconnecting");
    setTimeout(() => {
      if (!this.closed) this.connect().catch(() => this.retry());
    }, delay);
  }

  async setMic(track: MediaStreamTrack | null): Promise<void> {
    this.mic = track;
    const sender = this.pc?.getTransceivers()[0]?.sender;
    if (sender) await sender.replaceTrack(track);
  }

  private teardown(): void {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "leave" }));
    ws?.close();
    this.pc?.close();
    this.pc = null;
  }

  close(): void {
    this.closed = true;
    this.teardown();
    this.on.state("closed");
  }

  stats(): Promise<RTCStatsReport | null> {
    return this.pc ? this.pc.getStats() : Promise.resolve(null);
  }
}

/** LiveKit: the livekit-client SDK with a token from our backend. */
export class LiveKitTransport implements RoomTransport {
  private room: import("livekit-client").Room | null = null;
  private mic: MediaStreamTrack | null = null;
  private published: import("livekit-client").LocalTrackPublication | null = null;

  constructor(
    private roomId: string,
    private on: TransportEvents,
  ) {}

  async connect(): Promise<void> {
    const { DisconnectReason, Room, RoomEvent, Track } = await import("livekit-client");
    const grant = await getLiveKitGrant(this.roomId);
    const room = new Room({ adaptiveStream: false, dynacast: false });
    this.room = room;
    room.on(RoomEvent.TrackSubscribed, (track, _publication, participant) => {
      if (track.kind === Track.Kind.Audio && track.mediaStreamTrack) {
        this.on.voice(participant.identity, new MediaStream([track.mediaStreamTrack]));
      }
    });
    room.on(RoomEvent.TrackUnsubscribed, (_track, _publication, participant) =>
      this.on.voiceGone(participant.identity),
    );
    room.on(RoomEvent.Reconnecting, () => this.on.state("reconnecting"));
    room.on(RoomEvent.Reconnected, () => this.on.state("connected"));
    room.on(RoomEvent.ParticipantConnected, () => this.on.roomChanged());
    room.on(RoomEvent.ParticipantDisconnected, () => this.on.roomChanged());
    room.on(RoomEvent.ActiveSpeakersChanged, (speakers) =>
      this.on.speakers(speakers.map((s) => s.identity)),
    );
    room.on(RoomEvent.Disconnected, (reason) =>
      this.on.ended(reason === DisconnectReason.DUPLICATE_IDENTITY ? "replaced" : "ended"),
    );
    this.on.state("connecting");
    await room.connect(grant.url, grant.token);
    this.on.state("connected");
    if (this.mic) await this.setMic(this.mic);
  }

  async setMic(track: MediaStreamTrack | null): Promise<void> {
    this.mic = track;
    const room = this.room;
    if (!room) return;
    if (this.published?.track) {
      await room.localParticipant.unpublishTrack(this.published.track);
      this.published = null;
    }
    if (track) this.published = await room.localParticipant.publishTrack(track);
  }

  close(): void {
    void this.room?.disconnect();
    this.room = null;
    this.on.state("closed");
  }

  async stats(): Promise<RTCStatsReport | null> {
    return null;
  }
}
