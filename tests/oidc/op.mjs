// A real, certified OpenID Provider (panva's oidc-provider) for the social sign-in tests.
// Usage: node op.mjs PORT CLIENTS_JSON. Any login name signs in with any password (the library's
// development interactions); the account's claims derive from the login name, so a test chooses the
// subject and email it needs: "alice" → sub "alice", email "alice@example.com" (a login containing
// "@" is used as the email itself), email_verified true unless the login starts with "unverified".
import Provider from 'oidc-provider';

const [port, clientsJson] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

function claimsFor(login) {
  const email = login.includes('@') ? login : `${login}@example.com`;
  return {
    sub: login,
    email,
    email_verified: !login.startsWith('unverified'),
    name: `User ${login}`,
    given_name: 'User',
    family_name: login,
    website: `https://${login.replace(/[^a-z0-9]/gi, '')}.example.com`,
  };
}

const provider = new Provider(issuer, {
  clients: JSON.parse(clientsJson),
  cookies: { keys: ['warden-test-op-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'given_name', 'family_name', 'website'] },
  conformIdTokenClaims: false, // put the scope's claims in the ID token, as most social providers do
  features: { devInteractions: { enabled: true }, userinfo: { enabled: true } },
  pkce: { required: () => false },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return claimsFor(id); } };
  },
});
provider.proxy = true;
const server = provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
