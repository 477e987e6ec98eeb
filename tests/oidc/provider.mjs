// A real OpenID Connect provider (oidc-provider, OpenID Certified) for the oob OAuth tests.
// Usage: node provider.mjs PORT REDIRECT_URI
// Listens on 127.0.0.1:PORT only; prints "ready <issuer>" once it accepts connections.
// Access tokens live ACCESS_TTL seconds (default 4), so tests see them expire.
import Provider from 'oidc-provider';

const [port, redirect] = process.argv.slice(2);
if (!port || !redirect) {
  console.error('usage: node provider.mjs PORT REDIRECT_URI');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'oob-test',
    client_secret: 'oob-test-secret-that-is-long-enough',
    redirect_uris: [redirect],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // PKCE for every client, not only public ones.
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
  },
  ttl: {
    AccessToken: Number(process.env.ACCESS_TTL || 4),
    RefreshToken: 3600,
  },
  // Refresh tokens for every client allowed the grant (no offline_access/prompt dance).
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
  cookies: { keys: ['oob-test-cookie-key-0123456789abcdef'] },
});
provider.proxy = false;
// Expected dev-mode warnings go to stderr; keep stdout for the ready line.
const server = provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
