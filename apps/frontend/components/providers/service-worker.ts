/**
 * Registers the service worker that keeps the crisis page available offline
 * (public/sw.js). Production builds only: in development the build files change under
 * the same names.
 */
export function registerServiceWorker(): void {
  if (process.env.NODE_ENV !== "production") return;
  if (typeof navigator === "undefined" || !("serviceWorker" in navigator)) return;
  // Failing to register only means no offline copy; the app works as before.
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
}
