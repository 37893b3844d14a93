import { describe, expect, it } from "vitest";

import { fieldErrors, loginSchema, signupSchema } from "./auth";

describe("auth validation", () => {
  it("accepts a good sign-up", () => {
    const result = signupSchema.safeParse({
      email: " sam@example.org ",
      password: "river kettle lantern",
    });
    expect(result.success).toBe(true);
    expect(result.data?.email).toBe("sam@example.org");
  });

  it("explains each bad field once", () => {
    const result = signupSchema.safeParse({ email: "sam", password: "short" });
    expect(result.success).toBe(false);
    expect(fieldErrors(result.error!)).toEqual({
      email: "Please enter a valid email address.",
      password: "Use at least 10 characters for your password.",
    });
  });

  it("asks for a password on login", () => {
    const result = loginSchema.safeParse({ email: "sam@example.org", password: "" });
    expect(fieldErrors(result.error!)).toEqual({ password: "Enter your password." });
  });
});
