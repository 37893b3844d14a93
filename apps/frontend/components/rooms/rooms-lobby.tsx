"use client";

import { useQuery } from "@tanstack/react-query";
import { Plus, Radio, Users } from "lucide-react";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";

import { Alert } from "@/components/ui/alert";
import { Button, buttonVariants } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { useUser } from "@/hooks/use-user";
import { continueAsGuest, createRoom, listRooms } from "@/lib/api";

const roomHref = (id: string) => `/rooms/live/?id=${encodeURIComponent(id)}`;

/** Live rooms to join, and a form to start one. */
export function RoomsLobby() {
  const rooms = useQuery({
    queryKey: ["rooms"],
    queryFn: () => listRooms(),
    refetchInterval: 10_000,
  });
  const [creating, setCreating] = useState(false);
  return (
    <div className="mx-auto w-full max-w-4xl px-4 py-10">
      <div className="flex flex-wrap items-center justify-between gap-4">
        <div>
          <h1 className="text-3xl font-semibold tracking-tight">Social spaces</h1>
          <p className="mt-2 text-muted-foreground">
            Live audio rooms. You join under your pseudonym; listen, or raise your hand to speak.
          </p>
        </div>
        <Button onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          <Plus aria-hidden /> Start a room
        </Button>
      </div>
      {creating && <CreateRoom />}
      <ul className="mt-8 grid gap-4 sm:grid-cols-2" data-testid="room-list">
        {(rooms.data ?? []).map((room) => (
          <li key={room.id} className="rounded-2xl border border-border bg-card p-5 shadow-sm">
            <p className="flex items-center gap-2 text-xs font-medium uppercase tracking-wider text-accent">
              <Radio aria-hidden className="size-3.5" /> Live
            </p>
            <h2 className="mt-1 text-lg font-semibold">{room.title}</h2>
            {room.topic && <p className="mt-1 text-sm text-muted-foreground">{room.topic}</p>}
            <div className="mt-4 flex items-center justify-between">
              <span className="flex items-center gap-1 text-sm text-muted-foreground">
                <Users aria-hidden className="size-4" /> {room.participant_count} / {room.capacity}
              </span>
              <Link href={roomHref(room.id)} className={buttonVariants({ size: "sm" })}>
                Join <span className="sr-only">{room.title}</span>
              </Link>
            </div>
          </li>
        ))}
      </ul>
      {rooms.data?.length === 0 && (
        <p className="mt-8 text-muted-foreground">No rooms are live right now. Start one!</p>
      )}
      {rooms.isError && <Alert className="mt-8">The rooms could not be loaded.</Alert>}
    </div>
  );
}

function CreateRoom() {
  const router = useRouter();
  const { status, setSession } = useUser();
  const [title, setTitle] = useState("");
  const [topic, setTopic] = useState("");
  const [visibility, setVisibility] = useState<"public" | "private">("public");
  const [error, setError] = useState<string | null>(null);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      if (status !== "signed-in") setSession(await continueAsGuest());
      const room = await createRoom({ title, topic: topic || undefined, visibility });
      router.push(roomHref(room.id));
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "The room could not be created.");
    }
  }

  return (
    <form
      onSubmit={onSubmit}
      className="mt-6 flex flex-col gap-4 rounded-2xl border border-border bg-card p-5"
      aria-label="Start a room"
    >
      <Field
        label="Title"
        name="title"
        value={title}
        maxLength={80}
        required
        onChange={(e) => setTitle(e.target.value)}
      />
      <Field
        label="Topic (optional)"
        name="topic"
        value={topic}
        maxLength={280}
        onChange={(e) => setTopic(e.target.value)}
      />
      <fieldset className="flex gap-4 text-sm">
        <legend className="sr-only">Who can find it</legend>
        {(["public", "private"] as const).map((v) => (
          <label key={v} className="flex items-center gap-2">
            <input
              type="radio"
              name="visibility"
              checked={visibility === v}
              onChange={() => setVisibility(v)}
            />
            {v === "public" ? "Listed for everyone" : "Only people with the link"}
          </label>
        ))}
      </fieldset>
      {error && <Alert>{error}</Alert>}
      <Button type="submit" className="self-start">
        Create and join
      </Button>
    </form>
  );
}
