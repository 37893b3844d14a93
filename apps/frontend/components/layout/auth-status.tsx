/**
 * The navbar's identity slot. Accounts and guest pseudonyms arrive with the identity
 * work; until then everyone uses Solace without signing in, and the slot says so.
 */
export function AuthStatus() {
  return (
    <span
      className="hidden rounded-full bg-muted px-3 py-1 text-sm text-muted-foreground sm:inline-block"
      data-testid="auth-status"
    >
      No sign-in needed
    </span>
  );
}
