"use client";

import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { useUser } from "@/hooks/use-user";
import { ApiError, continueAsGuest, getProviders, login, signup } from "@/lib/api";
import { fieldErrors, loginSchema, signupSchema, type FieldErrors } from "@/lib/validations/auth";

/** Where to go after signing in: a path on this site only, never another origin. */
export function safeNext(raw: string | null): string {
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return "/";
  return raw;
}

/** What went wrong when the identity provider sent someone back (`/login/?error=…`). */
export const providerErrors: Record<string, string> = {
  oidc_unavailable: "The sign-in service is not answering right now. Please try again in a moment.",
  oidc_expired: "That sign-in took too long or was started in another window. Please try again.",
  oidc_denied: "Sign-in was cancelled at the provider.",
  oidc_failed: "We could not confirm your sign-in with the provider. Please try again.",
};

/** Maps a server error to the field it concerns, so it shows beside that input. */
function serverFieldErrors(error: ApiError): FieldErrors {
  if (error.code.startsWith("password")) return { password: error.message };
  if (error.code === "invalid_email" || error.code === "email_taken")
    return { email: error.message };
  if (error.code === "invalid_display_name") return { display_name: error.message };
  return { form: error.message };
}

export function AuthForm({ mode }: { mode: "login" | "signup" }) {
  const router = useRouter();
  const params = useSearchParams();
  const next = safeNext(params.get("next"));
  const providerError = providerErrors[params.get("error") ?? ""];
  const { data: providers } = useQuery({ queryKey: ["providers"], queryFn: () => getProviders() });
  const { setSession, user } = useUser();
  const [errors, setErrors] = useState<FieldErrors>({});
  const [pending, setPending] = useState(false);
  const isSignup = mode === "signup";

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const raw = Object.fromEntries(form.entries());
    const parsed = (isSignup ? signupSchema : loginSchema).safeParse(raw);
    if (!parsed.success) {
      setErrors(fieldErrors(parsed.error));
      return;
    }
    setErrors({});
    setPending(true);
    try {
      const session = isSignup ? await signup(parsed.data) : await login(parsed.data);
      setSession(session);
      router.replace(next);
    } catch (error) {
      setErrors(
        error instanceof ApiError
          ? serverFieldErrors(error)
          : { form: "Something went wrong. Please try again." },
      );
    } finally {
      setPending(false);
    }
  }

  async function onGuest() {
    setPending(true);
    try {
      setSession(await continueAsGuest());
      router.replace(next === "/account/" ? "/" : next);
    } catch (error) {
      setErrors({
        form: error instanceof ApiError ? error.message : "Something went wrong. Please try again.",
      });
    } finally {
      setPending(false);
    }
  }

  const otherHref = `${isSignup ? "/login/" : "/signup/"}${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`;
  return (
    <div className="mx-auto flex w-full max-w-md flex-col gap-6 px-6 py-12">
      <div className="flex flex-col gap-2">
        <h1 className="text-3xl font-semibold tracking-tight">
          {isSignup ? "Create your account" : "Welcome back"}
        </h1>
        <p className="text-muted-foreground">
          {isSignup
            ? user?.kind === "guest"
              ? `Your conversations as ${user.pseudonym} will come with you.`
              : "An account keeps your conversations safe across devices."
            : "Log in to pick up where you left off."}
        </p>
      </div>
      {errors.form || providerError ? <Alert>{errors.form ?? providerError}</Alert> : null}
      {providers?.oidc ? (
        <>
          <Button asChild variant="outline">
            <a href={`${providers.oidc.login_url}?next=${encodeURIComponent(next)}`}>
              Continue with {providers.oidc.name}
            </a>
          </Button>
          <p className="text-center text-sm text-muted-foreground">or with your email</p>
        </>
      ) : null}
      <form
        className="flex flex-col gap-4"
        onSubmit={onSubmit}
        noValidate
        aria-label={isSignup ? "Sign up" : "Log in"}
      >
        <Field
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          required
          error={errors.email}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete={isSignup ? "new-password" : "current-password"}
          required
          error={errors.password}
          hint={isSignup ? "At least 10 characters. A few unrelated words work well." : undefined}
        />
        {isSignup ? (
          <Field
            label="Display name (optional)"
            name="display_name"
            autoComplete="nickname"
            error={errors.display_name}
            hint="Shown only if you choose to use it instead of your pseudonym."
          />
        ) : null}
        <Button type="submit" disabled={pending}>
          {pending ? "Please wait…" : isSignup ? "Create account" : "Log in"}
        </Button>
      </form>
      <div className="flex flex-col gap-3 text-sm">
        <p>
          {isSignup ? "Already have an account? " : "New to Solace? "}
          <Link href={otherHref} className="font-medium text-primary underline underline-offset-4">
            {isSignup ? "Log in" : "Create an account"}
          </Link>
        </p>
        {user === null ? (
          <Button type="button" variant="outline" onClick={onGuest} disabled={pending}>
            Continue as a guest
          </Button>
        ) : null}
      </div>
    </div>
  );
}
