"use client";

import {
  Hand,
  LogOut,
  Mic,
  MicOff,
  MoreHorizontal,
  ShieldCheck,
  Volume2,
  VolumeX,
  Wifi,
} from "lucide-react";
import Link from "next/link";
import { useState } from "react";

import { Alert } from "@/components/ui/alert";
import { Button, buttonVariants } from "@/components/ui/button";
import { useRoom, type RoomProblem } from "@/hooks/use-room";
import type { Participant } from "@/lib/api";
import { cn } from "@/lib/utils";

const PROBLEMS: Record<RoomProblem, string> = {
  mic_denied:
    "Your microphone is blocked. Allow it in the browser's site settings to speak; you can still listen.",
  mic_missing: "No microphone was found. Plug one in to speak; you can still listen.",
  room_full: "This room is full. Try another one, or come back a little later.",
  removed: "A moderator removed you from this room.",
  room_closed: "This room has ended.",
  replaced: "You are in this room from another tab or device, so this one went quiet.",
  network: "We could not connect to the room. Check your connection and try again.",
};

/** A live room: who is here, who is speaking, and the controls for your part in it. */
export function RoomView({ roomId }: { roomId: string }) {
  const r = useRoom(roomId);
  if (r.loading) {
    return (
      <p role="status" className="p-10 text-center text-muted-foreground">
        Loading the room…
      </p>
    );
  }
  if (!r.room) {
    return (
      <div className="mx-auto max-w-md p-10 text-center">
        <p className="text-muted-foreground">
          {r.loadError
            ? "This room does not exist or has ended."
            : "Join the room to see who is here."}
        </p>
        {!r.loadError && (
          <Button className="mt-4" onClick={() => void r.join()} data-testid="join-room">
            Join
          </Button>
        )}
        <Link href="/rooms/" className="mt-4 block text-primary underline-offset-4 hover:underline">
          Back to the rooms
        </Link>
      </div>
    );
  }
  const { room, you } = r.room;
  const inRoom = you !== null && r.connection !== "idle" && r.connection !== "closed";
  const moderator = you?.role === "host" || you?.role === "moderator";
  const speakers = r.room.participants.filter((p) => p.role !== "listener");
  const listeners = r.room.participants.filter((p) => p.role === "listener");

  return (
    <div className="mx-auto w-full max-w-5xl px-4 py-8">
      <header className="flex flex-wrap items-start justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold">{room.title}</h1>
          {room.topic && <p className="mt-1 text-muted-foreground">{room.topic}</p>}
        </div>
        <p
          className="flex items-center gap-2 rounded-full bg-muted px-3 py-1 text-sm"
          role="status"
          data-testid="connection-state"
        >
          <Wifi aria-hidden className="size-4" />
          {
            {
              idle: "Not connected",
              connecting: "Connecting…",
              connected: "Connected",
              reconnecting: "Reconnecting…",
              closed: "Disconnected",
            }[r.connection]
          }
        </p>
      </header>

      {r.problem && (
        <Alert className="mt-4" data-testid="room-problem">
          {PROBLEMS[r.problem]}
        </Alert>
      )}
      {inRoom && r.audioBlocked && (
        <Alert tone="info" className="mt-4 flex items-center justify-between gap-3">
          <span>Your browser is holding the room&apos;s sound back.</span>
          <Button size="sm" onClick={() => void r.startAudio()}>
            <Volume2 aria-hidden /> Start audio
          </Button>
        </Alert>
      )}
      {inRoom && you?.invited_to_speak && you.role === "listener" && (
        <Alert tone="info" className="mt-4 flex flex-wrap items-center justify-between gap-3">
          <span>You are invited to speak.</span>
          <span className="flex gap-2">
            <Button size="sm" onClick={() => void r.act("speak", { on: true })}>
              Accept
            </Button>
            <Button size="sm" variant="outline" onClick={() => void r.act("speak", { on: false })}>
              Not now
            </Button>
          </span>
        </Alert>
      )}

      <section aria-labelledby="speakers" className="mt-8">
        <h2
          id="speakers"
          className="text-sm font-medium uppercase tracking-wider text-muted-foreground"
        >
          On stage
        </h2>
        <ul
          className="mt-3 grid grid-cols-2 gap-4 sm:grid-cols-3 md:grid-cols-4"
          data-testid="speakers"
        >
          {speakers.map((p) => (
            <Tile key={p.handle} p={p} r={r} you={you} moderator={moderator} />
          ))}
        </ul>
      </section>
      <section aria-labelledby="listeners" className="mt-8">
        <h2
          id="listeners"
          className="text-sm font-medium uppercase tracking-wider text-muted-foreground"
        >
          Listening ({listeners.length})
        </h2>
        <ul
          className="mt-3 grid grid-cols-3 gap-3 sm:grid-cols-4 md:grid-cols-6"
          data-testid="listeners"
        >
          {listeners.map((p) => (
            <Tile key={p.handle} p={p} r={r} you={you} moderator={moderator} small />
          ))}
        </ul>
      </section>

      <footer className="sticky bottom-4 mt-10 flex flex-wrap items-center gap-2 rounded-2xl border border-border bg-card p-3 shadow-lg">
        {!inRoom ? (
          <Button onClick={() => void r.join()} data-testid="join-room">
            Join the room
          </Button>
        ) : (
          <>
            {you && you.role !== "listener" && (
              <Button
                variant={you.muted ? "outline" : "primary"}
                onClick={() => void r.setMuted(!you.muted)}
                aria-pressed={!you.muted}
              >
                {you.muted ? <MicOff aria-hidden /> : <Mic aria-hidden />}
                {you.muted ? "Unmute" : "Mute"}
              </Button>
            )}
            {you?.role === "listener" && (
              <Button
                variant="outline"
                onClick={() => void r.act("hand", { on: !you.hand_raised })}
                aria-pressed={you.hand_raised}
              >
                <Hand aria-hidden /> {you.hand_raised ? "Lower hand" : "Raise hand"}
              </Button>
            )}
            {you?.role === "speaker" && (
              <Button variant="ghost" onClick={() => void r.act("speak", { on: false })}>
                Back to listening
              </Button>
            )}
            {moderator && (
              <Button variant="outline" onClick={() => void r.act("mute-all")}>
                <VolumeX aria-hidden /> Mute all
              </Button>
            )}
            {r.devices.length > 1 && (
              <label className="flex items-center gap-2 text-sm">
                <span className="sr-only">Microphone</span>
                <select
                  className="h-9 rounded-md border border-border bg-background px-2"
                  value={r.deviceId ?? ""}
                  onChange={(e) => void r.selectDevice(e.target.value)}
                >
                  {r.devices.map((d) => (
                    <option key={d.deviceId} value={d.deviceId}>
                      {d.label || "Microphone"}
                    </option>
                  ))}
                </select>
              </label>
            )}
            <Button variant="ghost" className="ml-auto text-danger" onClick={() => void r.leave()}>
              <LogOut aria-hidden /> Leave
            </Button>
          </>
        )}
        {you?.role === "host" && (
          <Button variant="ghost" onClick={() => void r.act("close")}>
            End room
          </Button>
        )}
        <Link
          href="/rooms/"
          className={cn(buttonVariants({ variant: "link", size: "sm" }), !inRoom && "ml-auto")}
        >
          All rooms
        </Link>
      </footer>
    </div>
  );
}

type Room = ReturnType<typeof useRoom>;

function Tile({
  p,
  r,
  you,
  moderator,
  small,
}: {
  p: Participant;
  r: Room;
  you: Participant | null;
  moderator: boolean;
  small?: boolean;
}) {
  const [menu, setMenu] = useState(false);
  const [volume, setVolume] = useState(1);
  const isYou = you?.handle === p.handle;
  const level = (isYou ? r.levels.you : r.levels[p.handle]) ?? 0;
  // The audio server says who speaks; your own voice is measured here, before it leaves.
  const speaking = !p.muted && (r.speakers.includes(p.handle) || (isYou && level > 0.05));
  const canModerate =
    moderator &&
    !isYou &&
    p.role !== "host" &&
    !(you?.role === "moderator" && p.role === "moderator");
  const initials = p.name
    .split(" ")
    .map((w) => w[0])
    .join("")
    .slice(0, 2);
  return (
    <li
      className="relative flex flex-col items-center gap-2 text-center"
      data-testid="participant"
      data-handle={p.handle}
      data-speaking={speaking}
      data-connected={p.connected}
    >
      <div
        className={cn(
          "flex items-center justify-center rounded-full bg-primary-soft font-semibold transition-shadow motion-reduce:transition-none",
          small ? "size-12 text-sm" : "size-20 text-xl",
          speaking && "ring-4 ring-accent",
          !p.connected && "opacity-50",
        )}
        aria-hidden
      >
        {initials}
      </div>
      <span className="text-sm font-medium">
        {p.name}
        {isYou && " (you)"}
      </span>
      <span className="flex items-center gap-1 text-xs text-muted-foreground">
        {p.role === "host" && <ShieldCheck aria-hidden className="size-3" />}
        {p.role}
        {p.role !== "listener" && p.muted && <MicOff aria-label="muted" className="size-3" />}
        {p.hand_raised && <Hand aria-label="hand raised" className="size-3 text-accent" />}
        {!p.connected && <span className="italic">· connecting</span>}
      </span>
      {!isYou && p.role !== "listener" && (
        <label className="flex items-center gap-1 text-xs">
          <span className="sr-only">Volume for {p.name}</span>
          <input
            type="range"
            min={0}
            max={1}
            step={0.1}
            value={volume}
            onChange={(e) => {
              setVolume(Number(e.target.value));
              r.setVolume(p.handle, Number(e.target.value));
            }}
            className="w-20"
          />
        </label>
      )}
      {!isYou && (
        <Button
          size="icon"
          variant="ghost"
          className="absolute right-0 top-0 size-8"
          aria-label={`Options for ${p.name}`}
          aria-expanded={menu}
          onClick={() => setMenu((m) => !m)}
        >
          <MoreHorizontal aria-hidden />
        </Button>
      )}
      {menu && (
        <div
          role="menu"
          className="absolute top-8 z-10 flex w-44 flex-col rounded-lg border border-border bg-card p-1 text-left text-sm shadow-lg"
        >
          {canModerate && p.role === "listener" && (
            <MenuItem onClick={() => r.act(`participants/${p.handle}/invite`)}>
              Invite to speak
            </MenuItem>
          )}
          {canModerate && p.role !== "listener" && !p.muted && (
            <MenuItem onClick={() => r.act(`participants/${p.handle}/mute`)}>Mute</MenuItem>
          )}
          {canModerate && p.role === "speaker" && (
            <MenuItem onClick={() => r.act(`participants/${p.handle}/role`, { role: "listener" })}>
              Move to listeners
            </MenuItem>
          )}
          {you?.role === "host" && p.role !== "moderator" && (
            <MenuItem onClick={() => r.act(`participants/${p.handle}/role`, { role: "moderator" })}>
              Make moderator
            </MenuItem>
          )}
          {canModerate && (
            <MenuItem
              onClick={() => {
                const reason = window.prompt(`Why remove ${p.name}?`);
                return reason
                  ? r.act(`participants/${p.handle}/remove`, { reason })
                  : Promise.resolve();
              }}
            >
              Remove from room
            </MenuItem>
          )}
          <MenuItem onClick={() => r.act(`participants/${p.handle}/block`)}>Block</MenuItem>
        </div>
      )}
    </li>
  );
}

function MenuItem({
  onClick,
  children,
}: {
  onClick: () => Promise<unknown>;
  children: React.ReactNode;
}) {
  return (
    <button
      role="menuitem"
      className="rounded-md px-3 py-2 hover:bg-muted"
      onClick={() => void onClick()}
    >
      {children}
    </button>
  );
}
