"use client";

import { ArrowUp, Square } from "lucide-react";
import { forwardRef, type KeyboardEvent } from "react";

import { Button } from "@/components/ui/button";

interface Props {
  busy: boolean;
  maxChars: number;
  /** The message being written (a transcript lands here, to be checked and edited). */
  text: string;
  onTextChange: (text: string) => void;
  onSend: (text: string) => void;
  onStop: () => void;
  /** Extra controls before the send button (the microphone). */
  children?: React.ReactNode;
}

/**
 * The message box. Enter sends, Shift+Enter adds a line, Escape stops a reply.
 */
export const Composer = forwardRef<HTMLTextAreaElement, Props>(function Composer(
  { busy, maxChars, text, onTextChange: setText, onSend, onStop, children },
  ref,
) {
  const length = [...text].length;
  const tooLong = length > maxChars;
  const canSend = !busy && text.trim().length > 0 && !tooLong;

  function submit() {
    if (!canSend) return;
    onSend(text);
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape" && busy) {
      event.preventDefault();
      onStop();
    }
  }

  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
      className="flex items-end gap-2 rounded-2xl border border-border bg-card p-2 shadow-sm focus-within:ring-2 focus-within:ring-ring"
    >
      <label htmlFor="chat-input" className="sr-only">
        Your message
      </label>
      <textarea
        id="chat-input"
        ref={ref}
        value={text}
        rows={1}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
        placeholder="Share what’s on your mind…"
        aria-describedby="chat-input-hint"
        aria-invalid={tooLong || undefined}
        className="max-h-48 min-h-11 flex-1 resize-none bg-transparent px-3 py-2.5 text-base outline-none [field-sizing:content]"
      />
      <span id="chat-input-hint" className="sr-only">
        Enter sends, Shift+Enter starts a new line, Escape stops the reply.
      </span>
      {children}
      {busy ? (
        <Button
          type="button"
          size="icon"
          variant="outline"
          onClick={onStop}
          aria-label="Stop the reply"
        >
          <Square aria-hidden />
        </Button>
      ) : (
        <Button type="submit" size="icon" disabled={!canSend} aria-label="Send">
          <ArrowUp aria-hidden />
        </Button>
      )}
      {length > maxChars * 0.8 && (
        <span
          className={
            tooLong
              ? "self-center text-xs text-danger"
              : "self-center text-xs text-muted-foreground"
          }
          aria-live="polite"
        >
          {length}/{maxChars}
        </span>
      )}
    </form>
  );
});
