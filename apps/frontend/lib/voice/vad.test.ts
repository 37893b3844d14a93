import { describe, expect, it } from "vitest";

import { Vad } from "./vad";

function feed(vad: Vad, level: number, ms: number, block = 20) {
  const events: string[] = [];
  for (let t = 0; t < ms; t += block) {
    const event = vad.push(level, block);
    if (event) events.push(event);
  }
  return events;
}

describe("Vad", () => {
  it("starts on sustained speech and ends after a long enough quiet", () => {
    const vad = new Vad();
    expect(feed(vad, 0.002, 500)).toEqual([]);
    expect(feed(vad, 0.2, 400)).toEqual(["speech-start"]);
    // Pauses between words do not end the turn.
    expect(feed(vad, 0.002, 400)).toEqual([]);
    expect(feed(vad, 0.2, 300)).toEqual([]);
    expect(feed(vad, 0.002, 1300)).toEqual(["speech-end"]);
    expect(vad.heardSpeech).toBe(true);
  });

  it("continues a turn a barge-in started, ending at the next pause", () => {
    const vad = new Vad(undefined, true);
    expect(vad.heardSpeech).toBe(true);
    expect(feed(vad, 0.2, 500)).toEqual([]);
    expect(feed(vad, 0.002, 1300)).toEqual(["speech-end"]);
  });

  it("ignores clicks shorter than the start time", () => {
    const vad = new Vad();
    expect(feed(vad, 0.5, 60)).toEqual([]);
    expect(feed(vad, 0.002, 2000)).toEqual([]);
    expect(vad.heardSpeech).toBe(false);
  });

  it("learns a noisy room's floor so the hum is not speech", () => {
    const vad = new Vad();
    // A steady hum just under the start level teaches the floor.
    feed(vad, 0.009, 3000);
    expect(vad.threshold).toBeGreaterThan(0.02);
    expect(feed(vad, 0.012, 1000)).toEqual([]);
    expect(feed(vad, 0.2, 200)).toEqual(["speech-start"]);
  });
});
