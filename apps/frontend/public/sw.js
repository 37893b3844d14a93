// Solace's service worker: crisis help even without a network.
//
// On install it keeps the crisis page and the files it needs. Offline, any page the
// browser cannot load opens the crisis page instead, and the crisis lines last fetched
// stay available. Nothing else is stored: no conversation, no API answer but the public
// crisis directory. Hashed build files (/_next/static/) never change, so they are served
// from the cache once fetched.

const CACHE = "solace-offline-v1";
const CRISIS = "/crisis/";
const LINES = "/api/crisis/resources";

async function keepCrisisPage() {
  const cache = await caches.open(CACHE);
  const response = await fetch(CRISIS, { cache: "reload" });
  if (!response.ok) return;
  const html = await response.clone().text();
  await cache.put(CRISIS, response);
  const assets = new Set(html.match(/\/_next\/static\/[^"'\s)\\]+/g) ?? []);
  await Promise.allSettled(
    [...assets].map(async (asset) => {
      const file = await fetch(asset);
      if (file.ok) await cache.put(asset, file);
    }),
  );
}

self.addEventListener("install", (event) => {
  event.waitUntil(keepCrisisPage().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

async function networkFirst(request, fallback) {
  const cache = await caches.open(CACHE);
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const cached = await cache.match(fallback);
    if (cached) return cached;
    throw error;
  }
  const path = new URL(request.url).pathname;
  // Keep the newest crisis page and lines whenever they load.
  if (response.ok && (path === CRISIS || path === LINES)) {
    await cache.put(path, response.clone());
  }
  // Solace itself down (a proxy's 502/503): the crisis page, not an error page.
  if (response.status >= 500 && fallback === CRISIS) {
    return (await cache.match(CRISIS)) ?? response;
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/_next/static/")) {
    event.respondWith(cacheFirst(request));
  } else if (url.pathname === LINES) {
    event.respondWith(networkFirst(request, LINES));
  } else if (request.mode === "navigate") {
    // Pages come from the network; offline, the crisis page stands in for any of them.
    event.respondWith(networkFirst(request, CRISIS));
  }
});
