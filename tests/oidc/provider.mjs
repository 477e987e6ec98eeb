// A real OpenID Connect provider (oidc-provider, OpenID Certified) for the oob OAuth tests.
// Usage: node provider.mjs PORT REDIRECT_URI
// Listens on 127.0.0.1:PORT only; prints "ready <issuer>" once it accepts connections.
// Access tokens live ACCESS_TTL seconds (default 4), so tests see them expire.
// `POST /test/revoke-grants?account=ID` stands for the user revoking this client in the
// provider's account settings: every grant of ID (its access and refresh tokens) is revoked.
import http from 'node:http';
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

// Grant ids by account, for the revocation route.
const grants = new Map();
provider.on('grant.saved', (grant) => {
  if (!grants.has(grant.accountId)) grants.set(grant.accountId, new Set());
  grants.get(grant.accountId).add(grant.jti);
});

async function revokeGrants(account) {
  const ids = [...(grants.get(account) || [])];
  grants.delete(account);
  for (const id of ids) {
    await provider.AccessToken.revokeByGrantId(id);
    await provider.RefreshToken.revokeByGrantId(id);
    await provider.AuthorizationCode.revokeByGrantId(id);
    await provider.Grant.adapter.destroy(id);
  }
  return ids.length;
}

const handle = provider.callback();
// Expected dev-mode warnings go to stderr; keep stdout for the ready line.
const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/test/revoke-grants' && req.method === 'POST') {
    revokeGrants(url.searchParams.get('account') || '').then(
      (n) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ revoked: n })); },
      (e) => { res.writeHead(500); res.end(String(e)); },
    );
    return;
  }
  handle(req, res);
});
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
