import { Loader2, Pause, Play } from "lucide-react";
import Markdown from "react-markdown";

import { cn } from "@/lib/utils";

interface Props {
  role: "user" | "assistant" | "system";
  content: string;
  /** The reply was cut short (stopped, or the model failed). */
  incomplete?: boolean;
  /** The reply is still arriving: show a caret after the text. */
  streaming?: boolean;
  label: string;
  /** Reading the reply aloud: its state here, and the button's action. */
  speech?: { state: "idle" | "loading" | "playing" | "paused"; toggle: () => void };
}

/**
 * One message. AI replies are Markdown, rendered without raw HTML and with only safe
 * link schemes (react-markdown's defaults), so a reply can never inject markup.
 */
export function MessageBubble({ role, content, incomplete, streaming, label, speech }: Props) {
  const mine = role === "user";
  return (
    <li
      className={cn("flex flex-col gap-1", mine ? "items-end" : "items-start")}
      data-testid={mine ? "user-message" : "ai-message"}
      data-status={incomplete ? "incomplete" : "complete"}
    >
      <span className="px-1 text-xs text-muted-foreground">{mine ? "You" : label}</span>
      <div
        className={cn(
          "max-w-[85%] rounded-2xl px-4 py-3 text-[0.95rem] leading-relaxed shadow-sm",
          mine
            ? "whitespace-pre-wrap rounded-br-md bg-primary text-primary-foreground"
            : "rounded-bl-md border border-border bg-card",
        )}
      >
        {mine ? (
          content
        ) : (
          <div className="chat-markdown space-y-2 [&_a]:text-primary [&_a]:underline [&_ol]:list-decimal [&_ol]:pl-5 [&_ul]:list-disc [&_ul]:pl-5">
            <Markdown
              skipHtml
              components={{
                a: ({ href, children }) => (
                  <a href={href} target="_blank" rel="noopener noreferrer nofollow">
                    {children}
                  </a>
                ),
              }}
            >
              {content}
            </Markdown>
            {streaming && (
              <span
                aria-hidden
                className="ml-0.5 inline-block h-4 w-1.5 translate-y-0.5 animate-pulse bg-foreground/60 motion-reduce:animate-none"
              />
            )}
          </div>
        )}
      </div>
      {incomplete && (
        <span className="px-1 text-xs text-muted-foreground">This reply was cut short.</span>
      )}
      {speech && (
        <button
          type="button"
          onClick={speech.toggle}
          className="inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs text-muted-foreground hover:bg-muted hover:text-foreground focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
          // The name starts with the visible word (WCAG 2.5.3, label in name).
          aria-label={`${speech.state === "playing" ? "Pause" : speech.state === "paused" ? "Resume" : "Listen"}: read this reply aloud`}
          data-testid="play-message"
          data-state={speech.state}
        >
          {speech.state === "playing" ? (
            <Pause aria-hidden className="size-3.5" />
          ) : speech.state === "loading" ? (
            <Loader2 aria-hidden className="size-3.5 animate-spin motion-reduce:animate-none" />
          ) : (
            <Play aria-hidden className="size-3.5" />
          )}
          {speech.state === "playing" ? "Pause" : speech.state === "paused" ? "Resume" : "Listen"}
        </button>
      )}
    </li>
  );
}

/** Three dots while the AI has not said anything yet. */
export function TypingIndicator({ label }: { label: string }) {
  return (
    <li className="flex flex-col items-start gap-1" data-testid="typing-indicator">
      <span className="px-1 text-xs text-muted-foreground">{label}</span>
      <div
        className="flex gap-1 rounded-2xl rounded-bl-md border border-border bg-card px-4 py-4"
        role="status"
        aria-label={`${label} is writing`}
      >
        {[0, 150, 300].map((delay) => (
          <span
            key={delay}
            className="size-2 animate-bounce rounded-full bg-muted-foreground motion-reduce:animate-none"
            style={{ animationDelay: `${delay}ms` }}
          />
        ))}
      </div>
    </li>
  );
}
