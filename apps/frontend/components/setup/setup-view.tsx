"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useState, type FormEvent } from "react";

import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardDescription, CardTitle } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { useUser } from "@/hooks/use-user";
import {
  ApiError,
  claimSetup,
  connectModelServer,
  downloadModel,
  downloadPercent,
  getModelSetup,
  getSetupStatus,
  installing,
  type ModelChoice,
  type ModelDownload,
  type ModelSetup,
} from "@/lib/api";

/** Where the setup link's token waits while its holder signs in or creates an account. */
const TOKEN_KEY = "solace.setup-token";

function problem(error: unknown): string {
  return error instanceof ApiError ? error.message : "Something went wrong. Please try again.";
}

/** `1.2 GB`, `840 MB`. */
export function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${Math.round(n / 1e6)} MB`;
  return `${Math.round(n / 1e3)} kB`;
}

function storedToken(): string | null {
  return typeof window === "undefined" ? null : sessionStorage.getItem(TOKEN_KEY);
}

/**
 * Keeps the token from the link's fragment (`/setup/#token=…`) in this tab only, and takes
 * it out of the address bar so it is not bookmarked or shared by accident. Rendered
 * outside the sign-in check, so that it survives a detour to log in or sign up.
 */
export function KeepSetupToken() {
  useEffect(() => {
    const fromLink = new URLSearchParams(window.location.hash.slice(1)).get("token");
    if (fromLink) {
      sessionStorage.setItem(TOKEN_KEY, fromLink);
      window.history.replaceState(null, "", window.location.pathname);
    }
  }, []);
  return null;
}

/** The first-run page: become the administrator, then give the supporter a model. */
export function SetupView() {
  const { user } = useUser();
  const admin = user?.role === "admin";
  return (
    <div className="mx-auto flex w-full max-w-3xl flex-col gap-6 px-4 py-10">
      <header>
        <h1 className="text-2xl font-semibold">Set up Solace</h1>
        <p className="mt-2 text-muted-foreground">
          Choose the language model the AI supporter talks with. It runs on this server, so
          conversations never leave it.
        </p>
      </header>
      {admin ? <ModelStep /> : <ClaimStep />}
    </div>
  );
}

function ClaimStep() {
  const { refresh } = useUser();
  // Read on each render: the page keeps the token in the same commit this mounts in.
  const [spent, setSpent] = useState(false);
  const token = spent ? null : storedToken();
  const forgetToken = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    setSpent(true);
  };
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const status = useQuery({ queryKey: ["setup"], queryFn: () => getSetupStatus() });

  async function claim() {
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      await claimSetup(token);
      forgetToken();
      await refresh();
    } catch (caught) {
      setError(problem(caught));
    } finally {
      setBusy(false);
    }
  }

  if (status.isPending) {
    return (
      <p role="status" className="text-sm text-muted-foreground">
        Checking this server…
      </p>
    );
  }
  if (status.data === false || !token) {
    return (
      <Alert tone="info" data-testid="setup-admin-only">
        Only this server&apos;s administrator can choose its model.{" "}
        {status.data === false
          ? "Ask them to set it up."
          : "Open the setup link printed when the server started."}
      </Alert>
    );
  }
  return (
    <Card className="flex flex-col gap-4">
      <CardTitle>Become this server&apos;s administrator</CardTitle>
      <CardDescription>
        You opened the setup link this server printed when it started. The account you are signed in
        with becomes its administrator: it chooses the model and can moderate rooms.
      </CardDescription>
      {error && <Alert>{error}</Alert>}
      <div>
        <Button onClick={() => void claim()} disabled={busy}>
          {busy ? "Setting up…" : "Become the administrator"}
        </Button>
      </div>
    </Card>
  );
}

function ModelStep() {
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const setup = useQuery({
    queryKey: ["admin", "model"],
    queryFn: () => getModelSetup(),
    // Follow a download while it runs.
    refetchInterval: (query) => (installing(query.state.data?.download) ? 1000 : false),
  });

  async function start(choice: string) {
    setError(null);
    try {
      const next = await downloadModel(choice);
      queryClient.setQueryData(["admin", "model"], next);
    } catch (caught) {
      setError(problem(caught));
    }
  }

  if (setup.isPending) {
    return (
      <p role="status" className="text-sm text-muted-foreground">
        Loading the model setup…
      </p>
    );
  }
  if (setup.isError) return <Alert>{problem(setup.error)}</Alert>;
  const { model, configured_by_operator, choices, download } = setup.data;
  const running = installing(download);
  return (
    <section aria-labelledby="model-heading" className="flex flex-col gap-4">
      <h2 id="model-heading" className="text-lg font-semibold">
        Language model
      </h2>
      <p data-testid="current-model">
        {model ? (
          <>
            The supporter answers with <strong>{model}</strong>.{" "}
            <Link className="underline" href="/chat/">
              Start a conversation
            </Link>
          </>
        ) : (
          "No model yet: the supporter can only offer crisis resources and check-ins until one is installed."
        )}
      </p>
      {configured_by_operator ? (
        <Alert tone="info">
          This server&apos;s model is set in its configuration (LLM_BASE_URL or LLM_GGUF_PATH);
          change it there.
        </Alert>
      ) : (
        <>
          {download && <Progress download={download} choices={choices} />}
          {error && <Alert>{error}</Alert>}
          <ul className="grid gap-4 sm:grid-cols-2">
            {choices.map((choice) => (
              <li key={choice.id}>
                <Card className="flex h-full flex-col gap-3">
                  <CardTitle>{choice.name}</CardTitle>
                  <CardDescription>{choice.about}</CardDescription>
                  <p className="text-sm">Download: about {bytes(choice.bytes)}</p>
                  <div className="mt-auto">
                    <Button
                      onClick={() => void start(choice.id)}
                      disabled={running}
                      className="h-auto whitespace-normal py-2 text-left"
                    >
                      Download {choice.name}
                    </Button>
                  </div>
                </Card>
              </li>
            ))}
          </ul>
          <ServerForm onConnected={(next) => queryClient.setQueryData(["admin", "model"], next)} />
        </>
      )}
    </section>
  );
}

function Progress({ download, choices }: { download: ModelDownload; choices: ModelChoice[] }) {
  const name = choices.find((c) => c.id === download.choice)?.name ?? download.choice;
  const total = download.total_bytes ?? 0;
  const percent = downloadPercent(download) ?? 0;
  const words = {
    downloading: `Downloading ${name}: ${bytes(download.done_bytes)} of ${bytes(total)}`,
    loading: `Checking ${name} and putting it to work…`,
    ready: `${name} is installed and answering.`,
    failed: `The download of ${name} stopped: ${download.error ?? "unknown error"}. Download it again to continue where it stopped.`,
  }[download.state];
  return (
    <div className="flex flex-col gap-2" data-testid="model-download" aria-live="polite">
      <p className="text-sm">{words}</p>
      {installing(download) && (
        <div
          role="progressbar"
          aria-label={`Downloading ${name}`}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent}
          className="h-2 w-full overflow-hidden rounded-full bg-primary-soft"
        >
          <div className="h-full bg-primary transition-all" style={{ width: `${percent}%` }} />
        </div>
      )}
    </div>
  );
}

/** Connects a model server someone already runs (llama.cpp, Ollama, vLLM, a hosted API). */
function ServerForm({ onConnected }: { onConnected: (setup: ModelSetup) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const apiKey = String(form.get("api_key") ?? "");
    setBusy(true);
    setError(null);
    try {
      onConnected(
        await connectModelServer({
          base_url: String(form.get("base_url") ?? ""),
          model: String(form.get("model") ?? ""),
          ...(apiKey ? { api_key: apiKey } : {}),
        }),
      );
    } catch (caught) {
      setError(problem(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card>
      <form className="flex flex-col gap-4" onSubmit={(event) => void submit(event)}>
        <CardTitle>Or use a model server you already run</CardTitle>
        <CardDescription>
          Any OpenAI-compatible server: llama.cpp, Ollama, vLLM or a hosted API. Solace asks it for
          a one-word reply first and keeps it only if it answers.
        </CardDescription>
        <Field
          label="Server address"
          name="base_url"
          type="url"
          required
          placeholder="http://127.0.0.1:11434/v1"
        />
        <Field label="Model" name="model" required placeholder="mellogpt" />
        <Field
          label="API key (if the server needs one)"
          name="api_key"
          type="password"
          autoComplete="off"
        />
        {error && <Alert>{error}</Alert>}
        <div>
          <Button type="submit" disabled={busy}>
            {busy ? "Connecting…" : "Connect"}
          </Button>
        </div>
      </form>
    </Card>
  );
}
