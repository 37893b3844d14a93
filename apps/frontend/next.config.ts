import type { NextConfig } from "next";

const isProduction = process.env.NODE_ENV === "production";
const apiOrigin = process.env.SOLACE_API_URL ?? "http://127.0.0.1:8080";

// Production builds are a static export that the Rust backend serves from the same
// origin as the API. In development, `next dev` proxies the API to a running backend
// so the app gets hot reload with real data.
const nextConfig: NextConfig = isProduction
  ? {
      output: "export",
      trailingSlash: true,
      images: { unoptimized: true },
      poweredByHeader: false,
    }
  : {
      // The API's paths have no trailing slash; don't let Next redirect them to one.
      skipTrailingSlashRedirect: true,
      images: { unoptimized: true },
      async rewrites() {
        return [
          { source: "/api/:path*", destination: `${apiOrigin}/api/:path*` },
          { source: "/healthz", destination: `${apiOrigin}/healthz` },
          { source: "/readyz", destination: `${apiOrigin}/readyz` },
          { source: "/models/:path*", destination: `${apiOrigin}/models/:path*` },
        ];
      },
    };

export default nextConfig;
