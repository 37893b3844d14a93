"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";

import { useUser } from "@/hooks/use-user";
import { trackOnce } from "@/lib/analytics";
import {
  ApiError,
  continueAsGuest,
  getRoom,
  getSignalGrant,
  leaveRoom,
  roomAction,
  type RoomDetail,
} from "@/lib/api";
import { AudioMixer } from "@/lib/room-audio";
import {
  EmbeddedTransport,
  LiveKitTransport,
  type ConnectionState,
  type RoomTransport,
  type TransportEvents,
} from "@/lib/room-transport";

const roomKey = (id: string) => ["room", id] as const;

/** Why the person is not (or no longer) in the room. */
export type RoomProblem =
  "mic_denied" | "mic_missing" | "room_full" | "removed" | "room_closed" | "replaced" | "network";

declare global {
  interface Window {
    /** Diagnostics for the browser tests: the live transport's WebRTC statistics and
     * what each remote voice's player is doing. */
    __solaceRoom?: {
      stats: () => Promise<RTCStatsReport | null>;
      playback: () => Record<string, { volume: number; playing: boolean }>;
    };
  }
}

/** Picks the transport this server uses: the embedded SFU, else LiveKit. */
async function chooseTransport(roomId: string, on: TransportEvents): Promise<RoomTransport> {
  try {
    await getSignalGrant(roomId);
    return new EmbeddedTransport(roomId, on);
  } catch (error) {
    if (error instanceof ApiError && error.code === "sfu_not_in_use") {
      return new LiveKitTransport(roomId, on);
    }
    throw error;
  }
}

/**
 * One audio room: its state from the server, the audio connection (embedded SFU or
 * LiveKit, chosen by the server), the microphone, levels and every action.
 */
export function useRoom(roomId: string) {
  const queryClient = useQueryClient();
  const { status, setSession } = useUser();
  const room = useQuery({
    queryKey: roomKey(roomId),
    queryFn: () => getRoom(roomId),
    enabled: status === "signed-in" && roomId !== "",
    refetchInterval: 15_000,
  });
  const [connection, setConnection] = useState<ConnectionState | "idle">("idle");
  const [problem, setProblem] = useState<RoomProblem | null>(null);
  const [levels, setLevels] = useState<Record<string, number>>({});
  const [speakers, setSpeakers] = useState<string[]>([]);
  const [audioBlocked, setAudioBlocked] = useState(false);
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [deviceId, setDeviceId] = useState<string | null>(null);
  const transport = useRef<RoomTransport | null>(null);
  const mixer = useRef<AudioMixer | null>(null);
  const mic = useRef<MediaStream | null>(null);

  const you = room.data?.you ?? null;
  const canSpeak = you !== null && you.role !== "listener";

  const refresh = useCallback(
    () => queryClient.invalidateQueries({ queryKey: roomKey(roomId) }),
    [queryClient, roomId],
  );
  /** Keeps the room an action answered; a fetch that started earlier (say, right after
   * becoming a guest) is cancelled so it cannot land afterwards with older news. */
  const update = useCallback(
    async (detail: RoomDetail) => {
      await queryClient.cancelQueries({ queryKey: roomKey(roomId) });
      queryClient.setQueryData(roomKey(roomId), detail);
    },
    [queryClient, roomId],
  );

  const stopAudio = useCallback(() => {
    transport.current?.close();
    transport.current = null;
    mic.current?.getTracks().forEach((t) => t.stop());
    mic.current = null;
    mixer.current?.close();
    mixer.current = null;
    setSpeakers([]);
    delete window.__solaceRoom;
  }, []);

  // Leaving the page leaves the audio: no sound from a room after it.
  useEffect(() => stopAudio, [stopAudio]);

  // The funnel's last step: the server heard you speak in a room.
  const yourHandle = you?.handle;
  useEffect(() => {
    if (yourHandle && speakers.includes(yourHandle)) trackOnce("room.spoke");
  }, [speakers, yourHandle]);

  // Speaking levels, ten times a second.
  useEffect(() => {
    if (connection === "idle") return;
    const timer = setInterval(() => {
      if (!mixer.current) return;
      setLevels(mixer.current.levels());
      setAudioBlocked(mixer.current.blocked);
    }, 100);
    return () => clearInterval(timer);
  }, [connection]);

  const openMic = useCallback(async (device: string | null) => {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          deviceId: device ? { exact: device } : undefined,
          echoCancellation: true,
          noiseSuppression: true,
        },
      });
      mic.current?.getTracks().forEach((t) => t.stop());
      mic.current = stream;
      mixer.current?.setMic(stream);
      setDevices(
        (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput"),
      );
      return stream.getAudioTracks()[0] ?? null;
    } catch (error) {
      const name = error instanceof DOMException ? error.name : "";
      setProblem(name === "NotFoundError" ? "mic_missing" : "mic_denied");
      return null;
    }
  }, []);

  // Speakers send their microphone (muted = disabled track); listeners send nothing.
  useEffect(() => {
    if (!transport.current || connection === "idle") return;
    let cancelled = false;
    void (async () => {
      if (!canSpeak) {
        mic.current?.getTracks().forEach((t) => t.stop());
        mic.current = null;
        mixer.current?.setMic(null);
        await transport.current?.setMic(null);
        return;
      }
      const track = mic.current?.getAudioTracks()[0] ?? (await openMic(deviceId));
      if (cancelled || !track) return;
      track.enabled = !(you?.muted ?? true);
      await transport.current?.setMic(track);
    })();
    return () => {
      cancelled = true;
    };
  }, [canSpeak, you?.muted, connection, deviceId, openMic]);

  const join = useCallback(
    async (showAs: "pseudonym" | "display_name" = "pseudonym") => {
      setProblem(null);
      try {
        if (status !== "signed-in") setSession(await continueAsGuest());
        const detail = await roomAction(roomId, "join", { show_as: showAs });
        trackOnce("room.entered");
        await update(detail);
        mixer.current = new AudioMixer();
        setAudioBlocked(mixer.current.blocked);
        const events: TransportEvents = {
          voice: (handle, stream) => mixer.current?.addVoice(handle, stream),
          voiceGone: (handle) => mixer.current?.removeVoice(handle),
          roomChanged: () => void refresh(),
          state: setConnection,
          speakers: setSpeakers,
          ended: (why) => {
            if (why === "replaced") setProblem("replaced");
            else
              void getRoom(roomId).then((after) => {
                void update(after);
                setProblem(after.room.status === "closed" ? "room_closed" : "removed");
              });
            stopAudio();
            setConnection("closed");
          },
        };
        const chosen = await chooseTransport(roomId, events);
        transport.current = chosen;
        window.__solaceRoom = {
          stats: () => chosen.stats(),
          playback: () => mixer.current?.playback() ?? {},
        };
        setConnection("connecting");
        await chosen.connect();
      } catch (error) {
        stopAudio();
        setConnection("idle");
        if (error instanceof ApiError && error.code === "room_full") setProblem("room_full");
        else if (error instanceof ApiError && error.code === "removed_from_room")
          setProblem("removed");
        else if (error instanceof ApiError && error.code === "room_closed")
          setProblem("room_closed");
        else setProblem("network");
      }
    },
    [roomId, status, setSession, update, refresh, stopAudio],
  );

  const leave = useCallback(async () => {
    stopAudio();
    setConnection("idle");
    await leaveRoom(roomId).catch(() => undefined);
    await refresh();
  }, [roomId, stopAudio, refresh]);

  /** Runs an action that answers the room, keeping the answer. */
  const act = useCallback(
    async (action: string, body: unknown = {}) => update(await roomAction(roomId, action, body)),
    [roomId, update],
  );

  return {
    room: room.data ?? null,
    loading: room.isPending && status !== "signed-out",
    loadError: room.error,
    you,
    connection,
    problem,
    levels,
    speakers,
    audioBlocked,
    startAudio: () => mixer.current?.resume().then(() => setAudioBlocked(false)),
    setVolume: (handle: string, volume: number) => mixer.current?.setVolume(handle, volume),
    devices,
    deviceId,
    selectDevice: async (id: string) => {
      setDeviceId(id);
      const track = await openMic(id);
      if (track) {
        track.enabled = !(you?.muted ?? true);
        await transport.current?.setMic(track);
      }
    },
    join,
    leave,
    act,
    setMuted: (on: boolean) => act("mute", { on }),
  };
}
