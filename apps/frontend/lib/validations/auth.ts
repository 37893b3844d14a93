import { z } from "zod";

/** Client-side checks that mirror the server's rules, so mistakes show before sending. */
export const emailSchema = z
  .string()
  .trim()
  .min(1, "Enter your email address.")
  .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, "Please enter a valid email address.");

export const newPasswordSchema = z
  .string()
  .min(10, "Use at least 10 characters for your password.")
  .max(128, "Use at most 128 characters for your password.");

export const loginSchema = z.object({
  email: emailSchema,
  password: z.string().min(1, "Enter your password."),
});

export const signupSchema = z.object({
  email: emailSchema,
  password: newPasswordSchema,
  display_name: z
    .string()
    .trim()
    .max(60, "A display name can be at most 60 characters.")
    .optional(),
});

export type FieldErrors = Partial<Record<string, string>>;

/** The first message per field, for inline errors beside each input. */
export function fieldErrors(error: z.ZodError): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? "form");
    errors[field] ??= issue.message;
  }
  return errors;
}
