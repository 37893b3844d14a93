// A real OpenID Connect provider (the `oidc-provider` package) on loopback, for tests.
// It registers one confidential client whose redirect URI comes from the environment and
// lets anyone log in through its development login form: the login name becomes the
// subject, `<login>@example.org` the email, verified unless the login ends in
// "-unverified". Prints `READY <issuer>` once it listens.
import http from "node:http";

import Provider from "oidc-provider";

const { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
if (!CLIENT_ID || !CLIENT_SECRET || !REDIRECT_URI) {
  console.error("CLIENT_ID, CLIENT_SECRET and REDIRECT_URI are required");
  process.exit(2);
}

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  pkce: { required: () => true },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        const login = id.replace(/-unverified$/, "");
        return {
          sub: id,
          email: `${login}@example.org`,
          email_verified: !id.endsWith("-unverified"),
          name: `${login[0]?.toUpperCase() ?? ""}${login.slice(1)} Provider`,
        };
      },
    };
  },
});
// Loopback over plain HTTP is fine for a test provider.
provider.proxy = true;

server.on("request", provider.callback());
console.log(`READY ${issuer}`);

process.on("SIGTERM", () => server.close(() => process.exit(0)));
