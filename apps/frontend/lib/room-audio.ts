/**
 * Room audio in the browser, transport-independent: remote voices, their volume and
 * everyone's speaking level, the microphone's included.
 */

/**
 * Plays remote voices through media elements (one per speaker, with its own volume) and
 * measures how loud everyone is with Web Audio analysers.
 */
export class AudioMixer {
  readonly context: AudioContext;
  private voices = new Map<string, { element: HTMLAudioElement; analyser: AnalyserNode }>();
  /** Voices the browser refused to play before a click (autoplay policy). */
  private refused = new Set<string>();
  private mic: AnalyserNode | null = null;

  constructor() {
    this.context = new AudioContext();
  }

  /** Browsers keep audio off until the person clicks something. */
  get blocked(): boolean {
    return this.refused.size > 0;
  }

  async resume(): Promise<void> {
    await this.context.resume();
    for (const handle of [...this.refused]) {
      const voice = this.voices.get(handle);
      if (voice) await voice.element.play();
      this.refused.delete(handle);
    }
  }

  addVoice(handle: string, stream: MediaStream): void {
    this.removeVoice(handle);
    const element = new Audio();
    element.srcObject = stream;
    element.play().catch(() => this.refused.add(handle));
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 512;
    this.context.createMediaStreamSource(stream).connect(analyser);
    this.voices.set(handle, { element, analyser });
  }

  removeVoice(handle: string): void {
    const voice = this.voices.get(handle);
    if (!voice) return;
    voice.element.pause();
    voice.element.srcObject = null;
    voice.analyser.disconnect();
    this.voices.delete(handle);
    this.refused.delete(handle);
  }

  setVolume(handle: string, volume: number): void {
    const voice = this.voices.get(handle);
    if (voice) voice.element.volume = volume;
  }

  /** What each voice's media element is doing: its volume and whether it plays. */
  playback(): Record<string, { volume: number; playing: boolean }> {
    const result: Record<string, { volume: number; playing: boolean }> = {};
    for (const [handle, { element }] of this.voices) {
      result[handle] = { volume: element.volume, playing: !element.paused };
    }
    return result;
  }

  setMic(stream: MediaStream | null): void {
    this.mic?.disconnect();
    this.mic = null;
    if (!stream) return;
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 512;
    this.context.createMediaStreamSource(stream).connect(analyser);
    this.mic = analyser;
  }

  /** Loudness 0..1 of every voice (and "you" for the microphone). */
  levels(): Record<string, number> {
    const result: Record<string, number> = {};
    for (const [handle, voice] of this.voices) result[handle] = level(voice.analyser);
    if (this.mic) result.you = level(this.mic);
    return result;
  }

  close(): void {
    for (const handle of [...this.voices.keys()]) this.removeVoice(handle);
    this.mic?.disconnect();
    void this.context.close();
  }
}

function level(analyser: AnalyserNode): number {
  const data = new Float32Array(analyser.fftSize);
  analyser.getFloatTimeDomainData(data);
  let sum = 0;
  for (const v of data) sum += v * v;
  return Math.min(1, Math.sqrt(sum / data.length) * 4);
}
