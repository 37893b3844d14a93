"use client";

import { useQuery } from "@tanstack/react-query";
import { AlertTriangle, Bot, LifeBuoy, RotateCcw, X } from "lucide-react";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";

import { Composer } from "@/components/chat/composer";
import { CrisisCard } from "@/components/chat/crisis-card";
import { MessageBubble, TypingIndicator } from "@/components/chat/message-bubble";
import { SessionSidebar } from "@/components/chat/session-sidebar";
import { HandsFreeBar, MicButton, VoiceSettings } from "@/components/chat/voice-controls";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { useChat } from "@/hooks/use-chat";
import { useVoice } from "@/hooks/use-voice";
import { useUser } from "@/hooks/use-user";
import {
  downloadPercent,
  getAiInfo,
  installing,
  speakMessage,
  type ModelDownload,
} from "@/lib/api";

const FALLBACK_LABEL = "AI therapist";

/** The chat page: conversations on the side, the open conversation in the middle. */
export function ChatView() {
  const router = useRouter();
  const params = useSearchParams();
  const sessionId = params.get("session");
  const info = useQuery({
    queryKey: ["ai-info"],
    queryFn: () => getAiInfo(),
    staleTime: 60_000,
    // While a model is being installed, the chat follows it and starts using it once ready.
    refetchInterval: (query) => (installing(query.state.data?.model.download) ? 3000 : false),
  });
  const label = info.data?.label ?? FALLBACK_LABEL;

  const select = useCallback(
    (id: string | null) =>
      router.replace(id ? `/chat/?session=${encodeURIComponent(id)}` : "/chat/"),
    [router],
  );
  const [text, setText] = useState("");
  const input = useRef<HTMLTextAreaElement>(null);
  const voice = useVoice(info.data?.speech, (heard) => {
    // The transcript goes into the box to be checked, edited and sent.
    setText((current) => (current.trim() ? `${current.trim()} ${heard}` : heard));
    input.current?.focus();
  });
  const chat = useChat(sessionId, select, voice.replySpeech);
  // Hands-free sends into whichever conversation is open when a turn ends.
  const sendLatest = useRef(chat.send);
  useEffect(() => {
    sendLatest.current = chat.send;
  }, [chat.send]);
  const { replyEnded } = voice;
  useEffect(() => {
    if (!chat.busy) replyEnded();
  }, [chat.busy, replyEnded]);
  const list = useRef<HTMLDivElement>(null);
  const stuckToBottom = useRef(true);

  // Follow the conversation as it grows, unless the person scrolled up to read.
  useLayoutEffect(() => {
    const el = list.current;
    if (el && stuckToBottom.current) el.scrollTop = el.scrollHeight;
  }, [chat.messages, chat.draft, chat.pending, chat.crisis, chat.error]);

  useEffect(() => {
    input.current?.focus();
  }, [sessionId]);

  // Alt+N starts a new conversation from anywhere on the page.
  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      if (event.altKey && event.key.toLowerCase() === "n") {
        event.preventDefault();
        select(null);
        input.current?.focus();
      }
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [select]);

  const empty = chat.messages.length === 0 && !chat.pending && !chat.draft && !chat.loading;

  return (
    <div className="mx-auto grid w-full max-w-6xl flex-1 grid-cols-1 gap-4 px-4 py-4 md:grid-cols-[16rem_1fr] md:py-6">
      {/* grid-cols-1 and min-w-0: a long conversation title or banner cannot widen the
          page on a phone (grid items otherwise grow to their content). */}
      <aside className="order-2 min-w-0 md:order-1 md:max-h-[calc(100dvh-9rem)]">
        <SessionSidebar activeId={sessionId} onSelect={select} />
      </aside>

      <section className="order-1 flex min-h-[70dvh] min-w-0 flex-col gap-3 md:order-2 md:h-[calc(100dvh-9rem)]">
        <header className="flex flex-wrap items-center justify-between gap-2">
          <h1 className="flex items-center gap-2 text-xl font-semibold">
            <Bot aria-hidden className="size-5 text-primary" /> Your {label}
          </h1>
          <p
            className="rounded-full bg-primary-soft px-3 py-1 text-xs font-medium"
            data-testid="ai-disclosure"
          >
            AI · not a licensed clinician
          </p>
        </header>

        <div
          ref={list}
          onScroll={(event) => {
            const el = event.currentTarget;
            stuckToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
          }}
          className="min-h-0 flex-1 overflow-y-auto rounded-2xl border border-border bg-muted/30 p-4"
          aria-live="polite"
          aria-busy={chat.busy}
        >
          {chat.loading && (
            <p role="status" className="text-sm text-muted-foreground">
              Loading your conversation…
            </p>
          )}
          {empty && (
            <div className="mx-auto max-w-md py-10 text-center text-muted-foreground">
              <p className="text-lg font-medium text-foreground">How are you feeling today?</p>
              <p className="mt-2 text-sm">
                Write whatever is on your mind. This conversation is private to you, and you can
                delete it at any time.
              </p>
              {info.data && !info.data.model.configured && (
                <NoModelYet download={info.data.model.download} label={label} />
              )}
            </div>
          )}
          <ul className="flex flex-col gap-4" data-testid="messages">
            {chat.messages.map((message) => (
              <MessageBubble
                key={message.id}
                role={message.role}
                content={message.content}
                incomplete={message.status === "incomplete"}
                label={label}
                speech={
                  voice.canSpeak && message.role === "assistant"
                    ? {
                        state: voice.playback.owner === message.id ? voice.playback.state : "idle",
                        toggle: () =>
                          void voice.toggleMessage(message.id, () =>
                            speakMessage(message.id, voice.voice),
                          ),
                      }
                    : undefined
                }
              />
            ))}
            {chat.pending && (
              <MessageBubble role="user" content={chat.pending.content} label={label} />
            )}
            {chat.draft?.phase === "waiting" && <TypingIndicator label={label} />}
            {chat.draft?.phase === "streaming" && (
              <MessageBubble role="assistant" content={chat.draft.text} streaming label={label} />
            )}
          </ul>
          {chat.source && !chat.draft && (
            <p data-testid="library-source" className="mt-2 text-sm text-muted-foreground">
              From Solace&apos;s library: {chat.source.title}
            </p>
          )}
          {chat.crisis && (
            <div className="mt-4">
              <CrisisCard notice={chat.crisis} />
            </div>
          )}
        </div>

        {(voice.micError || voice.audioError) && (
          <Alert className="flex items-start gap-3" data-testid="voice-error">
            <AlertTriangle aria-hidden className="mt-0.5 size-4 shrink-0" />
            <p className="flex-1">{voice.micError ?? voice.audioError}</p>
            <Button
              size="icon"
              variant="ghost"
              className="size-8"
              aria-label="Dismiss"
              onClick={() => {
                voice.dismissMicError();
                voice.dismissAudioError();
              }}
            >
              <X aria-hidden />
            </Button>
          </Alert>
        )}

        <HandsFreeBar voice={voice} />

        {chat.error && (
          <Alert className="flex items-start gap-3" data-testid="chat-error">
            <AlertTriangle aria-hidden className="mt-0.5 size-4 shrink-0" />
            <p className="flex-1">{chat.error.message}</p>
            {chat.error.retryable && (
              // Enabled once the failed turn has finished (stored, refreshed): a click
              // before that would be dropped.
              <Button
                size="sm"
                variant="outline"
                className="h-8"
                disabled={chat.busy}
                onClick={chat.retry}
              >
                <RotateCcw aria-hidden /> Retry
              </Button>
            )}
            <Button
              size="icon"
              variant="ghost"
              className="size-8"
              aria-label="Dismiss"
              onClick={chat.dismissError}
            >
              <X aria-hidden />
            </Button>
          </Alert>
        )}

        <Composer
          ref={input}
          busy={chat.busy}
          maxChars={info.data?.max_message_chars ?? 4000}
          text={text}
          onTextChange={setText}
          onSend={(message) => {
            setText("");
            void chat.send(message);
          }}
          onStop={chat.stop}
        >
          <MicButton voice={voice} disabled={chat.busy} />
        </Composer>
        <VoiceSettings
          voice={voice}
          onHandsFree={() => void voice.startHandsFree((heard) => void sendLatest.current(heard))}
        />
        <p className="flex flex-wrap items-center gap-x-3 gap-y-1 text-xs text-muted-foreground">
          <span data-testid="not-a-substitute">
            {info.data?.disclosure ??
              `Your ${label} is an AI, not a person and not a licensed clinician. It is not a substitute for professional care or emergency help.`}
          </span>
          <Link
            href="/crisis/"
            className="inline-flex items-center gap-1 font-medium text-primary underline-offset-4 hover:underline"
          >
            <LifeBuoy aria-hidden className="size-3.5" /> Crisis resources
          </Link>
        </p>
      </section>
    </div>
  );
}

/** What the chat says while the server has no model: being installed, or not yet chosen. */
function NoModelYet({ download, label }: { download: ModelDownload | null; label: string }) {
  const { user } = useUser();
  const busy = installing(download);
  const percent = download ? downloadPercent(download) : null;
  return (
    <p className="mt-4 text-sm" data-testid="no-model">
      {busy
        ? `The ${label}'s language model is being installed${percent === null ? "" : ` (${percent}%)`}; it answers as soon as it is ready. Crisis resources work now.`
        : `No language model is set up on this server yet, so the ${label} cannot answer ordinary messages. Crisis resources still work.`}{" "}
      {!busy && user?.role === "admin" && (
        <Link className="underline" href="/setup/">
          Choose a model
        </Link>
      )}
    </p>
  );
}
