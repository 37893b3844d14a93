import { describe, expect, it } from "vitest";

import { readSse, SseParser } from "./sse";

describe("SseParser", () => {
  it("reads named events and keeps a split event for the next chunk", () => {
    const parser = new SseParser();
    expect(parser.push('event: token\ndata: {"text":"Hi"}\n\nevent: to')).toEqual([
      { event: "token", data: '{"text":"Hi"}' },
    ]);
    expect(parser.push('ken\ndata: {"text":" there"}\r\n\r\n')).toEqual([
      { event: "token", data: '{"text":" there"}' },
    ]);
  });

  it("skips comments and joins data lines", () => {
    const parser = new SseParser();
    expect(parser.push(": keep-alive\n\ndata: a\ndata: b\n\n")).toEqual([
      { event: "message", data: "a\nb" },
    ]);
  });
});

describe("readSse", () => {
  it("yields every event of a streamed body, whatever the chunking", async () => {
    const encoder = new TextEncoder();
    const chunks = ["event: start\nda", 'ta: {}\n\nevent: done\ndata: {"ok":true}\n', "\n"];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
        controller.close();
      },
    });
    const events = [];
    for await (const event of readSse(body)) events.push(event.event);
    expect(events).toEqual(["start", "done"]);
  });
});
