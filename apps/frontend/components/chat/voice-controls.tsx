"use client";

import { useQuery } from "@tanstack/react-query";
import { Headphones, Mic, MicOff, PhoneOff, Square, Volume2 } from "lucide-react";
import { useRef } from "react";

import { Button } from "@/components/ui/button";
import type { useVoice } from "@/hooks/use-voice";
import { getVoices } from "@/lib/api";
import { cn } from "@/lib/utils";

type Voice = ReturnType<typeof useVoice>;

/** Held at least this long, the microphone button is push-to-talk. */
const HOLD_MS = 400;

function clock(ms: number) {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** A bar that follows the microphone's loudness. */
function LevelMeter({ level }: { level: number }) {
  return (
    <span
      className="relative h-2 w-16 overflow-hidden rounded-full bg-muted"
      role="meter"
      aria-label="Microphone level"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(Math.min(1, level * 8) * 100)}
    >
      <span
        className="absolute inset-y-0 left-0 bg-accent transition-[width] duration-75 motion-reduce:transition-none"
        style={{ width: `${Math.min(1, level * 8) * 100}%` }}
      />
    </span>
  );
}

/**
 * The microphone button: click to talk and it stops by itself when you pause (or click
 * again); hold it down to talk only while pressed (push-to-talk).
 */
export function MicButton({ voice, disabled }: { voice: Voice; disabled: boolean }) {
  const pressedAt = useRef(0);
  const wasRecording = useRef(false);
  if (!voice.canTranscribe) return null;
  const recording = voice.mic === "recording";
  const busy = voice.mic === "transcribing" || voice.handsFree !== "off";
  return (
    <div className="flex items-center gap-2">
      {recording && (
        <span
          className="flex items-center gap-2 text-xs text-muted-foreground"
          data-testid="recording"
        >
          <span aria-hidden className="size-2 animate-pulse rounded-full bg-danger" />
          <LevelMeter level={voice.level} />
          <span aria-label="Recording time">{clock(voice.elapsedMs)}</span>
        </span>
      )}
      {voice.mic === "transcribing" && (
        <span role="status" className="text-xs text-muted-foreground" data-testid="transcribing">
          {voice.model.status === "loading"
            ? `Loading the speech model${voice.model.total ? ` ${Math.round((voice.model.loaded / voice.model.total) * 100)}%` : "…"}`
            : "Transcribing…"}
        </span>
      )}
      <Button
        type="button"
        size="icon"
        variant={recording ? "primary" : "outline"}
        disabled={disabled || busy || !voice.micAvailable}
        aria-label={recording ? "Stop recording" : "Record a voice message"}
        aria-pressed={recording}
        title="Click to talk (it stops when you pause), or hold to talk"
        onPointerDown={() => {
          pressedAt.current = performance.now();
          wasRecording.current = recording;
          // Recording starts on press: held down it is push-to-talk, clicked it stops
          // by itself when you pause.
          if (!recording) void voice.startRecording(true);
        }}
        onPointerUp={() => {
          const held = performance.now() - pressedAt.current >= HOLD_MS;
          if (held && !wasRecording.current) void voice.stopRecording();
        }}
        onClick={(event) => {
          const keyboard = event.detail === 0;
          if (keyboard && !recording) void voice.startRecording(true);
          else if (keyboard || wasRecording.current) void voice.stopRecording();
        }}
      >
        {recording ? <Square aria-hidden /> : <Mic aria-hidden />}
      </Button>
    </div>
  );
}

/** Spoken replies on or off, the voice, and hands-free conversation. */
export function VoiceSettings({ voice, onHandsFree }: { voice: Voice; onHandsFree: () => void }) {
  const voices = useQuery({
    queryKey: ["voices"],
    queryFn: () => getVoices(),
    enabled: voice.canSpeak,
    staleTime: 10 * 60_000,
  });
  return (
    <div className="flex flex-wrap items-center gap-3 text-xs text-muted-foreground">
      {voice.canSpeak && (
        <label className="inline-flex items-center gap-1.5">
          <input
            type="checkbox"
            checked={voice.autoSpeak}
            onChange={(e) => voice.setAutoSpeak(e.target.checked)}
            data-testid="auto-speak"
          />
          <Volume2 aria-hidden className="size-3.5" /> Read replies aloud
        </label>
      )}
      {voice.canSpeak && voices.data && voices.data.voices.length > 0 && (
        <label className="inline-flex items-center gap-1.5">
          Voice
          <select
            className="max-w-40 rounded-md border border-border bg-card px-1.5 py-0.5 text-foreground"
            value={voice.voice ?? voices.data.default_voice ?? ""}
            onChange={(e) => voice.setVoice(e.target.value)}
            data-testid="voice-picker"
          >
            {voices.data.voices.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {voice.canSpeak && voice.canTranscribe && voice.handsFree === "off" && (
        <Button
          type="button"
          size="sm"
          variant="outline"
          className="h-7"
          onClick={onHandsFree}
          disabled={!voice.micAvailable}
        >
          <Headphones aria-hidden /> Talk hands-free
        </Button>
      )}
      {voice.ready && !voice.canTranscribe && (
        <span data-testid="no-transcription">
          Talking is not set up on this server yet: an administrator can add the speech model with{" "}
          <code>solace model pull-whisper</code>.
        </span>
      )}
      {!voice.micAvailable && (
        <span data-testid="mic-insecure">
          The microphone needs a secure connection: use HTTPS (or localhost) to talk.
        </span>
      )}
    </div>
  );
}

const HANDS_FREE_TEXT: Record<Exclude<Voice["handsFree"], "off">, string> = {
  listening: "Listening… just talk, and pause when you are done.",
  muted: "Muted. Unmute when you want to talk again.",
  thinking: "Thinking… (talk to interrupt)",
  speaking: "Speaking… (talk to interrupt)",
};

/** The hands-free conversation's state and its two buttons. */
export function HandsFreeBar({ voice }: { voice: Voice }) {
  if (voice.handsFree === "off") return null;
  return (
    <div
      className="flex items-center gap-3 rounded-2xl border border-border bg-primary-soft px-4 py-2"
      data-testid="hands-free"
      data-state={voice.handsFree}
    >
      <span
        aria-hidden
        className={cn(
          "size-3 rounded-full",
          voice.handsFree === "listening" ? "animate-pulse bg-accent" : "bg-muted-foreground",
        )}
      />
      <p className="flex-1 text-sm" role="status">
        {voice.mic === "transcribing" ? "Transcribing…" : HANDS_FREE_TEXT[voice.handsFree]}
      </p>
      {voice.handsFree === "listening" && <LevelMeter level={voice.level} />}
      <Button
        type="button"
        size="icon"
        variant="outline"
        aria-label={voice.handsFree === "muted" ? "Unmute" : "Mute"}
        onClick={voice.toggleMute}
      >
        {voice.handsFree === "muted" ? <Mic aria-hidden /> : <MicOff aria-hidden />}
      </Button>
      <Button type="button" size="sm" variant="outline" onClick={voice.stopHandsFree}>
        <PhoneOff aria-hidden /> End
      </Button>
    </div>
  );
}
