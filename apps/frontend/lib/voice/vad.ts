/**
 * Voice activity detection by loudness against the room's own noise floor: speech
 * starts after a run of loud blocks and the turn ends after a long enough quiet.
 * Pure logic, fed block by block, so it is unit-tested without a microphone.
 */

export interface VadOptions {
  /** Quiet that ends a turn once someone has spoken. */
  endSilenceMs: number;
  /** Loud time that counts as speech starting (ignores clicks and coughs). */
  startMs: number;
  /** The quietest level that can count as speech. */
  minLevel: number;
}

export const DEFAULT_VAD: VadOptions = { endSilenceMs: 1200, startMs: 120, minLevel: 0.01 };

export type VadEvent = "speech-start" | "speech-end" | null;

export class Vad {
  private floor = 0.005;
  private loudMs = 0;
  private quietMs = 0;
  speaking = false;
  heardSpeech = false;

  /** `speaking`: speech is already under way (a barge-in noticed it). */
  constructor(
    private options: VadOptions = DEFAULT_VAD,
    speaking = false,
  ) {
    this.speaking = speaking;
    this.heardSpeech = speaking;
  }

  /** The level that counts as speech now. */
  get threshold(): number {
    return Math.max(this.options.minLevel, this.floor * 3);
  }

  /** Feeds one block's loudness (0..1) lasting `ms`; says when speech starts or ends. */
  push(level: number, ms: number): VadEvent {
    const loud = level > this.threshold;
    if (!loud) {
      // The floor follows quiet blocks slowly, so steady background noise is learnt.
      this.floor = this.floor * 0.95 + level * 0.05;
    }
    if (loud) {
      this.loudMs += ms;
      this.quietMs = 0;
      if (!this.speaking && this.loudMs >= this.options.startMs) {
        this.speaking = true;
        this.heardSpeech = true;
        return "speech-start";
      }
    } else {
      this.loudMs = 0;
      this.quietMs += ms;
      if (this.speaking && this.quietMs >= this.options.endSilenceMs) {
        this.speaking = false;
        return "speech-end";
      }
    }
    return null;
  }
}
