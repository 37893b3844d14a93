"use client";

import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";

import type { ReplySpeech } from "@/hooks/use-chat";
import { transcribeOnServer, type SpeechInfo } from "@/lib/api";
import { ClipPlayer, type PlayerState } from "@/lib/voice/player";
import { MicUnavailableError, VoiceRecorder } from "@/lib/voice/recorder";
import { BrowserTranscriber, type LoadState } from "@/lib/voice/transcriber";
import { encodeWav, WHISPER_RATE } from "@/lib/voice/wav";

/** What the microphone is doing. */
export type MicState = "off" | "recording" | "transcribing";
/** Hands-free conversation: listen → transcribe → reply → speak → listen again. */
export type HandsFreeState = "off" | "listening" | "muted" | "thinking" | "speaking";

const MAX_RECORDING_MS = 60_000;

function stored<T>(key: string, fallback: T): T {
  if (typeof window === "undefined") return fallback;
  try {
    const raw = window.localStorage.getItem(key);
    return raw === null ? fallback : (JSON.parse(raw) as T);
  } catch {
    return fallback;
  }
}

function useStored<T>(key: string, fallback: T) {
  const [value, setValue] = useState<T>(() => stored(key, fallback));
  const set = useCallback(
    (next: T) => {
      setValue(next);
      try {
        window.localStorage.setItem(key, JSON.stringify(next));
      } catch {
        // Private browsing: the setting lasts for this page only.
      }
    },
    [key],
  );
  return [value, set] as const;
}

/** A ref that always holds the latest value, for callbacks that outlive a render. */
function useLatest<T>(value: T) {
  const ref = useRef(value);
  useLayoutEffect(() => {
    ref.current = value;
  });
  return ref;
}

declare global {
  interface Window {
    /** Diagnostics for the browser tests: what the reply player is doing. */
    __solaceVoice?: { playing: () => { state: string; paused: boolean } | null };
  }
}

/**
 * Voice for the chat: recording and transcribing what the person says (Whisper in the
 * browser when its files are on the server, else the server's transcription), speaking
 * replies clip by clip, the settings for both, and hands-free conversation.
 */
export function useVoice(info: SpeechInfo | undefined, onTranscript: (text: string) => void) {
  const [autoSpeak, setAutoSpeak] = useStored("solace.voice.autoSpeak", false);
  const [voice, setVoice] = useStored<string | null>("solace.voice.voice", null);
  const [playback, setPlayback] = useState<{ state: PlayerState; owner: string | null }>({
    state: "idle",
    owner: null,
  });
  const [audioError, setAudioError] = useState<string | null>(null);
  const [mic, setMic] = useState<MicState>("off");
  const [micError, setMicError] = useState<string | null>(null);
  const [level, setLevel] = useState(0);
  const [elapsedMs, setElapsedMs] = useState(0);
  const [model, setModel] = useState<LoadState>({ status: "idle" });
  const [handsFree, setHandsFreeState] = useState<HandsFreeState>("off");

  const player = useRef<ClipPlayer | null>(null);
  const recorder = useRef<VoiceRecorder | null>(null);
  const transcriber = useRef<BrowserTranscriber | null>(null);
  const handsFreeRef = useRef<HandsFreeState>("off");
  const settings = useLatest({ autoSpeak, voice });
  const transcriptRef = useLatest(onTranscript);

  const setHandsFree = useCallback((state: HandsFreeState) => {
    handsFreeRef.current = state;
    setHandsFreeState(state);
  }, []);

  const canSpeak = info?.tts != null;
  const canTranscribe = info?.browser_transcription != null || info?.server_transcription === true;
  const micAvailable = typeof window === "undefined" || window.isSecureContext;

  const getPlayer = useCallback(() => {
    player.current ??= new ClipPlayer({
      state: (state, owner) => setPlayback({ state, owner }),
      error: setAudioError,
    });
    window.__solaceVoice = {
      playing: () => {
        const element = player.current?.element;
        return element ? { state: player.current?.playingFor ?? "", paused: element.paused } : null;
      },
    };
    return player.current;
  }, []);

  // Nothing keeps playing or listening after the page goes.
  useEffect(
    () => () => {
      player.current?.stop();
      recorder.current?.close();
      transcriber.current?.close();
      delete window.__solaceVoice;
    },
    [],
  );

  const transcribe = useCallback(
    async (samples: Float32Array): Promise<string> => {
      const browser = info?.browser_transcription;
      if (browser) {
        transcriber.current ??= new BrowserTranscriber(browser, setModel);
        return transcriber.current.transcribe(samples);
      }
      if (info?.server_transcription) return transcribeOnServer(encodeWav(samples, WHISPER_RATE));
      throw new Error("Speech cannot be transcribed on this server yet.");
    },
    [info],
  );

  // Loading the Whisper model takes a few seconds: start it before the first recording.
  const warmUp = useCallback(() => {
    const browser = info?.browser_transcription;
    if (browser && !transcriber.current) {
      transcriber.current = new BrowserTranscriber(browser, setModel);
    }
  }, [info]);

  const openRecorder = useCallback(
    async (events: { speechStart?: () => void; speechEnd?: () => void }) => {
      recorder.current?.close();
      recorder.current = await VoiceRecorder.open({ level: setLevel, ...events });
      return recorder.current;
    },
    [],
  );

  /** Ends the turn being recorded and turns it into text. */
  const finishTurn = useCallback(async (): Promise<string> => {
    const rec = recorder.current;
    if (!rec) return "";
    const heard = rec.heardSpeech;
    const samples = await rec.stop();
    setLevel(0);
    if (!heard || samples.length < WHISPER_RATE / 4) return "";
    setMic("transcribing");
    try {
      return (await transcribe(samples)).trim();
    } finally {
      setMic("off");
    }
  }, [transcribe]);

  // --- Push-to-talk and toggle recording into the message box -----------------------

  const stopRecording = useCallback(async () => {
    if (mic !== "recording") return;
    try {
      const text = await finishTurn();
      if (text) transcriptRef.current(text);
      else setMicError("We did not catch that. Try again a little closer to the microphone.");
    } catch (error) {
      setMicError(error instanceof Error ? error.message : "Transcription failed.");
    } finally {
      recorder.current?.close();
      recorder.current = null;
      setMic("off");
    }
  }, [mic, finishTurn, transcriptRef]);

  const stopRef = useLatest(stopRecording);

  const startRecording = useCallback(
    async (vad: boolean) => {
      setMicError(null);
      warmUp();
      try {
        const rec = await openRecorder({ speechEnd: () => void stopRef.current() });
        rec.start({ vad });
        setMic("recording");
      } catch (error) {
        setMicError(
          error instanceof MicUnavailableError ? error.message : "The microphone could not start.",
        );
      }
    },
    [openRecorder, warmUp, stopRef],
  );

  // The timer, and a hard stop at a minute.
  useEffect(() => {
    if (mic !== "recording") return;
    const timer = setInterval(() => {
      const elapsed = recorder.current?.elapsedMs ?? 0;
      setElapsedMs(elapsed);
      if (elapsed >= MAX_RECORDING_MS && handsFreeRef.current === "off") void stopRef.current();
    }, 200);
    return () => clearInterval(timer);
  }, [mic, stopRef]);

  // --- Spoken replies ------------------------------------------------------------------

  const replySpeech: ReplySpeech = useMemo(
    () => ({
      wanted: () => {
        const speak = canSpeak && (settings.current.autoSpeak || handsFreeRef.current !== "off");
        if (speak) getPlayer().begin("reply");
        return { speak, voice: settings.current.voice };
      },
      clip: (clip) => getPlayer().add(clip),
      replaced: () => getPlayer().begin("reply"),
      finished: (messageId) => {
        const p = getPlayer();
        if (messageId) p.rename(messageId);
        p.end();
      },
    }),
    [canSpeak, getPlayer, settings],
  );

  /** Plays (or pauses, or resumes) one of the therapist's messages. */
  const toggleMessage = useCallback(
    async (messageId: string, load: () => Promise<import("@/lib/api").AudioClip[]>) => {
      const p = getPlayer();
      setAudioError(null);
      if (p.playingFor === messageId) {
        if (playback.state === "paused") p.resume();
        else p.pause();
        return;
      }
      p.begin(messageId);
      try {
        for (const clip of await load()) p.add(clip);
      } catch (error) {
        setAudioError(error instanceof Error ? error.message : "This reply could not be spoken.");
        p.stop();
        return;
      }
      p.end();
    },
    [getPlayer, playback.state],
  );

  // --- Hands-free ----------------------------------------------------------------------

  const sendRef = useRef<(text: string) => void>(() => undefined);

  const listen = useCallback(async () => {
    if (handsFreeRef.current === "off" || handsFreeRef.current === "muted") return;
    setHandsFree("listening");
    const rec = recorder.current;
    if (!rec) return;
    rec.start({ vad: true });
    setMic("recording");
  }, [setHandsFree]);

  const onTurnEnd = useCallback(async () => {
    if (handsFreeRef.current !== "listening") return;
    let text = "";
    try {
      text = await finishTurn();
    } catch (error) {
      setMicError(error instanceof Error ? error.message : "Transcription failed.");
    }
    // Hands-free may have been switched off while transcribing.
    if ((handsFreeRef.current as HandsFreeState) === "off") return;
    if (!text) {
      void listen();
      return;
    }
    setHandsFree("thinking");
    // While the reply plays, speaking again interrupts it (barge-in).
    recorder.current?.monitor();
    sendRef.current(text);
  }, [finishTurn, listen, setHandsFree]);

  const onSpeechStart = useCallback(() => {
    const state = handsFreeRef.current;
    if (state === "thinking" || state === "speaking") {
      player.current?.stop();
      setHandsFree("listening");
      recorder.current?.start({ vad: true, speaking: true });
      setMic("recording");
    }
  }, [setHandsFree]);

  const turnEndRef = useLatest(onTurnEnd);
  const speechStartRef = useLatest(onSpeechStart);

  const startHandsFree = useCallback(
    async (send: (text: string) => void) => {
      sendRef.current = send;
      setMicError(null);
      warmUp();
      try {
        await openRecorder({
          speechStart: () => speechStartRef.current(),
          speechEnd: () => void turnEndRef.current(),
        });
      } catch (error) {
        setMicError(
          error instanceof MicUnavailableError ? error.message : "The microphone could not start.",
        );
        return;
      }
      setHandsFree("listening");
      void listen();
    },
    [openRecorder, warmUp, listen, setHandsFree, speechStartRef, turnEndRef],
  );

  const stopHandsFree = useCallback(() => {
    setHandsFree("off");
    recorder.current?.close();
    recorder.current = null;
    player.current?.stop();
    setMic("off");
    setLevel(0);
  }, [setHandsFree]);

  const toggleMute = useCallback(() => {
    if (handsFreeRef.current === "muted") {
      setHandsFree("listening");
      void listen();
    } else if (handsFreeRef.current !== "off") {
      void recorder.current?.stop();
      setMic("off");
      setLevel(0);
      setHandsFree("muted");
    }
  }, [listen, setHandsFree]);

  // Reply playing → "speaking"; reply over → listen again.
  useEffect(() => {
    const state = handsFreeRef.current;
    if (state === "thinking" && playback.state === "playing") setHandsFree("speaking");
    if ((state === "speaking" || state === "thinking") && playback.state === "idle") {
      void listen();
    }
  }, [playback.state, listen, setHandsFree]);

  /** The reply failed or produced no speech: go back to listening. */
  const replyEnded = useCallback(() => {
    if (handsFreeRef.current === "thinking" && !player.current?.playingFor) void listen();
  }, [listen]);

  return {
    /** The server's voice settings have arrived. */
    ready: info !== undefined,
    canSpeak,
    canTranscribe,
    micAvailable,
    autoSpeak,
    setAutoSpeak,
    voice,
    setVoice,
    playback,
    audioError,
    dismissAudioError: () => setAudioError(null),
    stopPlayback: () => player.current?.stop(),
    toggleMessage,
    replySpeech,
    mic,
    micError,
    dismissMicError: () => setMicError(null),
    level,
    elapsedMs,
    model,
    startRecording,
    stopRecording,
    handsFree,
    startHandsFree,
    stopHandsFree,
    toggleMute,
    replyEnded,
  };
}
