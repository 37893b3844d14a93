"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState, type FormEvent, type ReactNode } from "react";

import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardDescription, CardTitle } from "@/components/ui/card";
import { StatisticsChoice } from "@/components/analytics/statistics-choice";
import { Field } from "@/components/ui/field";
import { useUser } from "@/hooks/use-user";
import {
  ApiError,
  changePassword,
  deleteAccount,
  exportMyData,
  listChatSessions,
  updateProfile,
  type User,
} from "@/lib/api";
import { newPasswordSchema } from "@/lib/validations/auth";

function message(error: unknown): string {
  return error instanceof ApiError ? error.message : "Something went wrong. Please try again.";
}

function Section({
  title,
  description,
  children,
}: {
  title: string;
  description: string;
  children: ReactNode;
}) {
  const id = title.toLowerCase().replace(/[^a-z]+/g, "-");
  return (
    <Card className="flex flex-col gap-4" aria-labelledby={id} role="region">
      <div className="flex flex-col gap-1">
        <CardTitle id={id}>{title}</CardTitle>
        <CardDescription>{description}</CardDescription>
      </div>
      {children}
    </Card>
  );
}

function ProfileSection({ user }: { user: User }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<{ ok?: string; error?: string }>({});
  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get("display_name") ?? "");
    try {
      const updated = await updateProfile(name.trim() === "" ? null : name);
      queryClient.setQueryData(["me"], (old: { csrf_token: string } | null) =>
        old ? { ...old, user: updated } : old,
      );
      setStatus({ ok: "Saved." });
    } catch (error) {
      setStatus({ error: message(error) });
    }
  }
  return (
    <Section
      title="Profile"
      description={`In rooms you appear as ${user.pseudonym} unless you choose to show a display name.`}
    >
      <dl className="grid grid-cols-[max-content_minmax(0,1fr)] gap-x-4 gap-y-1 text-sm">
        <dt className="text-muted-foreground">Pseudonym</dt>
        <dd data-testid="account-pseudonym" className="break-words">
          {user.pseudonym}
        </dd>
        <dt className="text-muted-foreground">Email</dt>
        <dd data-testid="account-email" className="break-all">
          {user.email}
        </dd>
      </dl>
      <form className="flex flex-col gap-3 sm:flex-row sm:items-end" onSubmit={onSubmit}>
        <div className="flex-1">
          <Field
            label="Display name"
            name="display_name"
            defaultValue={user.display_name ?? ""}
            error={status.error}
            hint={status.ok}
          />
        </div>
        <Button type="submit" variant="outline">
          Save name
        </Button>
      </form>
    </Section>
  );
}

function DataSection() {
  const { data } = useQuery({ queryKey: ["chat-sessions"], queryFn: () => listChatSessions() });
  const [error, setError] = useState<string>();
  async function onExport() {
    try {
      const document = await exportMyData();
      const url = URL.createObjectURL(
        new Blob([JSON.stringify(document, null, 2)], { type: "application/json" }),
      );
      const link = Object.assign(window.document.createElement("a"), {
        href: url,
        download: "solace-export.json",
      });
      link.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setError(message(e));
    }
  }
  const count = data?.length;
  return (
    <Section
      title="Your data"
      description="Download everything Solace holds about you, as a JSON file."
    >
      <p className="text-sm" data-testid="conversation-count">
        {count === undefined
          ? "Counting your conversations…"
          : `${count} ${count === 1 ? "conversation" : "conversations"} with the AI supporter.`}
      </p>
      <p className="text-sm">
        To see, pause or delete the pieces of them Solace keeps to understand you in later
        conversations, open{" "}
        <Link href="/memory/" className="font-medium text-primary underline underline-offset-4">
          What Solace remembers
        </Link>
        .
      </p>
      {error ? <Alert>{error}</Alert> : null}
      <div>
        <Button variant="outline" onClick={onExport}>
          Export my data
        </Button>
      </div>
    </Section>
  );
}

function PasswordSection() {
  const [status, setStatus] = useState<{ ok?: string; error?: string }>({});
  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const next = newPasswordSchema.safeParse(form.get("new_password"));
    if (!next.success) {
      setStatus({ error: next.error.issues[0]?.message });
      return;
    }
    try {
      await changePassword({
        current_password: String(form.get("current_password") ?? ""),
        new_password: next.data,
      });
      formElement.reset();
      setStatus({ ok: "Password changed. Other devices have been signed out." });
    } catch (error) {
      setStatus({ error: message(error) });
    }
  }
  return (
    <Section title="Password" description="Changing it signs you out everywhere else.">
      {status.ok ? <Alert tone="info">{status.ok}</Alert> : null}
      {status.error ? <Alert>{status.error}</Alert> : null}
      <form className="flex flex-col gap-3" onSubmit={onSubmit}>
        <Field
          label="Current password"
          name="current_password"
          type="password"
          autoComplete="current-password"
        />
        <Field
          label="New password"
          name="new_password"
          type="password"
          autoComplete="new-password"
        />
        <div>
          <Button type="submit" variant="outline">
            Change password
          </Button>
        </div>
      </form>
    </Section>
  );
}

function SessionsSection() {
  const { logout } = useUser();
  return (
    <Section
      title="Devices"
      description="Signed in somewhere you no longer use? End every session at once."
    >
      <div>
        <Button variant="outline" onClick={() => logout(true)}>
          Log out everywhere
        </Button>
      </div>
    </Section>
  );
}

function DeleteSection({ user }: { user: User }) {
  const { forget } = useUser();
  const [error, setError] = useState<string>();
  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const value = String(new FormData(event.currentTarget).get("confirmation") ?? "");
    try {
      await deleteAccount(user.has_password ? { password: value } : { confirm: value });
      forget();
    } catch (e) {
      setError(message(e));
    }
  }
  return (
    <Section
      title="Delete account"
      description="This removes your account, your conversations and your room history for good. It cannot be undone."
    >
      <form className="flex flex-col gap-3 sm:flex-row sm:items-end" onSubmit={onSubmit}>
        <div className="flex-1">
          {user.has_password ? (
            <Field
              label="Confirm with your password"
              name="confirmation"
              type="password"
              autoComplete="current-password"
              error={error}
            />
          ) : (
            <Field
              label={`Type your pseudonym, ${user.pseudonym}, to confirm`}
              name="confirmation"
              error={error}
            />
          )}
        </div>
        <Button type="submit" variant="danger">
          Delete my account
        </Button>
      </form>
    </Section>
  );
}

export function AccountSettings() {
  const { user } = useUser();
  if (!user) return null;
  return (
    <div className="mx-auto flex w-full max-w-2xl flex-col gap-6 px-6 py-12">
      <h1 className="text-3xl font-semibold tracking-tight">Your account</h1>
      <ProfileSection user={user} />
      <DataSection />
      {user.has_password ? <PasswordSection /> : null}
      <SessionsSection />
      <Section
        title="Anonymous usage statistics"
        description="Which pages are visited and which steps people reach (say, that a first reply arrived) help us see whether Solace helps. Never what you write or say, no account, no cookie."
      >
        <StatisticsChoice />
      </Section>
      <DeleteSection user={user} />
    </div>
  );
}
