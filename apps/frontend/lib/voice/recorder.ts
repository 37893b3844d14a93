/**
 * The microphone for voice messages: captures mono audio, reports its level, finds
 * where speech starts and ends (VAD), and hands back the turn at 16 kHz for Whisper.
 * A short pre-roll keeps the first syllable that made the VAD notice someone speaking.
 */
import { DEFAULT_VAD, Vad } from "./vad";
import { resample, rms } from "./wav";

/** Captured blocks go from the audio thread to this one, unchanged. */
const WORKLET = `
class Capture extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("solace-capture", Capture);
`;

const PRE_ROLL_MS = 300;

export interface RecorderEvents {
  /** Loudness 0..1, about fifty times a second. */
  level?: (level: number) => void;
  speechStart?: () => void;
  /** The VAD heard the end of a turn (only with `vad`). */
  speechEnd?: () => void;
}

export class MicUnavailableError extends Error {
  constructor(
    readonly reason: "insecure" | "denied" | "missing" | "unsupported",
    message: string,
  ) {
    super(message);
  }
}

export class VoiceRecorder {
  private blocks: Float32Array[] = [];
  private preRoll: Float32Array[] = [];
  private recording = false;
  private vad: Vad | null = null;
  private startedAt = 0;

  private constructor(
    private stream: MediaStream,
    private context: AudioContext,
    private node: AudioWorkletNode,
    private events: RecorderEvents,
  ) {
    node.port.onmessage = (message: MessageEvent<Float32Array>) => this.onBlock(message.data);
  }

  /** Opens the microphone. Throws {@link MicUnavailableError} with the reason. */
  static async open(events: RecorderEvents, deviceId?: string): Promise<VoiceRecorder> {
    if (typeof window !== "undefined" && !window.isSecureContext) {
      throw new MicUnavailableError(
        "insecure",
        "The microphone only works over HTTPS (or on localhost).",
      );
    }
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new MicUnavailableError("unsupported", "This browser cannot record audio.");
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          deviceId: deviceId ? { exact: deviceId } : undefined,
          channelCount: 1,
          // Echo cancellation keeps a spoken reply out of the microphone (barge-in);
          // noise suppression and gain control would change the voice Whisper hears.
          echoCancellation: true,
          noiseSuppression: false,
          autoGainControl: false,
        },
      });
    } catch (error) {
      const name = error instanceof DOMException ? error.name : "";
      throw name === "NotFoundError"
        ? new MicUnavailableError("missing", "No microphone was found.")
        : new MicUnavailableError(
            "denied",
            "The microphone is blocked. Allow it in the browser's site settings.",
          );
    }
    const context = new AudioContext();
    const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
    try {
      await context.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    const node = new AudioWorkletNode(context, "solace-capture");
    context.createMediaStreamSource(stream).connect(node);
    return new VoiceRecorder(stream, context, node, events);
  }

  /**
   * Starts a turn; with `vad`, `speechEnd` fires when the person stops talking. With
   * `speaking`, speech already started (barge-in): the turn ends at the next pause.
   */
  start(options: { vad: boolean; speaking?: boolean } = { vad: false }): void {
    this.blocks = [...this.preRoll];
    this.recording = true;
    this.startedAt = performance.now();
    this.vad = options.vad ? new Vad(DEFAULT_VAD, options.speaking ?? false) : null;
    void this.context.resume();
  }

  /** Listens for speech without keeping it (barge-in while a reply plays). */
  monitor(): void {
    this.recording = false;
    this.vad = new Vad(DEFAULT_VAD);
    void this.context.resume();
  }

  get elapsedMs(): number {
    return this.recording ? performance.now() - this.startedAt : 0;
  }

  get heardSpeech(): boolean {
    return this.vad?.heardSpeech ?? true;
  }

  /** Ends the turn: its audio at 16 kHz. */
  async stop(): Promise<Float32Array> {
    this.recording = false;
    this.vad = null;
    const length = this.blocks.reduce((n, b) => n + b.length, 0);
    const all = new Float32Array(length);
    let at = 0;
    for (const block of this.blocks) {
      all.set(block, at);
      at += block.length;
    }
    this.blocks = [];
    return resample(all, this.context.sampleRate);
  }

  close(): void {
    this.recording = false;
    this.node.disconnect();
    this.stream.getTracks().forEach((t) => t.stop());
    void this.context.close();
  }

  private onBlock(block: Float32Array) {
    const ms = (block.length / this.context.sampleRate) * 1000;
    const level = rms(block);
    this.events.level?.(level);
    if (this.recording) this.blocks.push(block);
    this.preRoll.push(block);
    const keep = Math.ceil(PRE_ROLL_MS / ms);
    if (this.preRoll.length > keep) this.preRoll.splice(0, this.preRoll.length - keep);
    const event = this.vad?.push(level, ms);
    if (event === "speech-start") this.events.speechStart?.();
    if (event === "speech-end") this.events.speechEnd?.();
  }
}
