/**
 * Talks to the Whisper worker: loads the model once and transcribes 16 kHz mono audio.
 */
import type { WorkerReply, WorkerRequest } from "./whisper.worker";

export interface WhisperModel {
  /** A folder under `/models/`. */
  model: string;
  /** `fp32` or `q8`: which ONNX files the folder holds. */
  dtype: string;
}

export type LoadState =
  | { status: "idle" }
  | { status: "loading"; loaded: number; total: number }
  | { status: "ready"; device: "webgpu" | "wasm" }
  | { status: "failed"; message: string };

export class BrowserTranscriber {
  private worker: Worker;
  private next = 1;
  private waiting = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void }>();
  private ready: Promise<void>;

  constructor(model: WhisperModel, onState: (state: LoadState) => void) {
    this.worker = new Worker(new URL("./whisper.worker.ts", import.meta.url), { type: "module" });
    let resolveReady: () => void = () => undefined;
    let rejectReady: (e: Error) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      if (reply.type === "progress") {
        onState({ status: "loading", loaded: reply.loaded, total: reply.total });
      } else if (reply.type === "ready") {
        onState({ status: "ready", device: reply.device });
        resolveReady();
      } else if (reply.type === "text") {
        this.waiting.get(reply.id)?.resolve(reply.text);
        this.waiting.delete(reply.id);
      } else if (reply.id !== undefined) {
        this.waiting.get(reply.id)?.reject(new Error(reply.message));
        this.waiting.delete(reply.id);
      } else {
        onState({ status: "failed", message: reply.message });
        rejectReady(new Error(reply.message));
      }
    };
    onState({ status: "loading", loaded: 0, total: 0 });
    const load: WorkerRequest = {
      type: "load",
      model: model.model,
      dtype: model.dtype,
      modelsUrl: "/models/",
      runtimeUrl: "/vendor/ort/",
    };
    this.worker.postMessage(load);
  }

  async transcribe(audio: Float32Array): Promise<string> {
    await this.ready;
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const request: WorkerRequest = { type: "transcribe", id, audio };
      this.worker.postMessage(request, [audio.buffer]);
    });
  }

  close(): void {
    this.worker.terminate();
    for (const { reject } of this.waiting.values()) reject(new Error("closed"));
    this.waiting.clear();
  }
}
