/**
 * Plays a spoken reply clip by clip, in order, as the clips become ready: the next one
 * is already loading while one plays. Stopping (or barge-in) drops what is queued.
 */
import type { AudioClip } from "@/lib/api";

export type PlayerState = "idle" | "loading" | "playing" | "paused";

export interface PlayerEvents {
  state: (state: PlayerState, owner: string | null) => void;
  /** A clip could not be played (the voice service failed): the text is still there. */
  error: (message: string) => void;
}

/** How many clips load ahead of the one playing. */
const AHEAD = 2;

export class ClipPlayer {
  private queue: AudioClip[] = [];
  private loaded = new Map<number, HTMLAudioElement>();
  private current: HTMLAudioElement | null = null;
  private nextSeq = 0;
  private owner: string | null = null;
  private paused = false;
  private finished = false;

  constructor(private events: PlayerEvents) {}

  /** Starts a new spoken reply for `owner` (a message id, or "reply" while streaming). */
  begin(owner: string): void {
    this.stop();
    this.owner = owner;
    this.finished = false;
  }

  /** The reply has no more clips coming. */
  end(): void {
    this.finished = true;
    if (!this.current && this.queue.length === 0) this.settle();
  }

  /** Renames the reply being played (its message id arrives at the end). */
  rename(owner: string): void {
    if (this.owner !== null) this.owner = owner;
    this.emit();
  }

  get playingFor(): string | null {
    return this.owner;
  }

  add(clip: AudioClip): void {
    this.queue.push(clip);
    this.queue.sort((a, b) => a.seq - b.seq);
    this.preload();
    if (!this.current) this.playNext();
    else this.emit();
  }

  pause(): void {
    this.paused = true;
    this.current?.pause();
    this.emit();
  }

  resume(): void {
    this.paused = false;
    if (this.current) void this.current.play().catch(() => undefined);
    else this.playNext();
    this.emit();
  }

  /** Stops and forgets everything queued. */
  stop(): void {
    this.current?.pause();
    this.current = null;
    for (const element of this.loaded.values()) element.src = "";
    this.loaded.clear();
    this.queue = [];
    this.nextSeq = 0;
    this.paused = false;
    this.finished = true;
    const had = this.owner;
    this.owner = null;
    if (had !== null) this.events.state("idle", null);
  }

  /** The element playing now, for tests and diagnostics. */
  get element(): HTMLAudioElement | null {
    return this.current;
  }

  private preload() {
    for (const clip of this.queue.slice(0, AHEAD + 1)) {
      if (this.loaded.has(clip.seq)) continue;
      const element = new Audio();
      element.preload = "auto";
      element.src = clip.url;
      this.loaded.set(clip.seq, element);
    }
  }

  private playNext() {
    if (this.paused) return;
    const clip = this.queue[0];
    if (!clip || clip.seq !== this.nextSeq) {
      this.current = null;
      if (this.finished && this.queue.length === 0) this.settle();
      else this.emit();
      return;
    }
    this.queue.shift();
    this.nextSeq += 1;
    const element = this.loaded.get(clip.seq) ?? new Audio(clip.url);
    this.loaded.delete(clip.seq);
    this.current = element;
    this.preload();
    element.onended = () => {
      if (this.current === element) this.playNext();
    };
    element.onerror = () => {
      if (this.current !== element) return;
      this.events.error("Part of the reply could not be spoken. The text is still there.");
      this.playNext();
    };
    element.onplaying = () => this.emit();
    element.play().catch((error: unknown) => {
      if (this.current !== element) return;
      // Autoplay refused: wait for a click on play.
      if (error instanceof DOMException && error.name === "NotAllowedError") {
        this.paused = true;
        this.queue.unshift(clip);
        this.nextSeq -= 1;
        this.loaded.set(clip.seq, element);
        this.current = null;
        this.emit();
      }
    });
    this.emit();
  }

  private settle() {
    this.current = null;
    const had = this.owner;
    this.owner = null;
    if (had !== null) this.events.state("idle", null);
  }

  private emit() {
    const state: PlayerState = this.paused
      ? "paused"
      : this.current && !this.current.paused && this.current.readyState >= 3
        ? "playing"
        : "loading";
    this.events.state(state, this.owner);
  }
}
