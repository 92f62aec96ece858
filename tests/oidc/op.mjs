// A real, certified OpenID Provider (panva's oidc-provider) for the social sign-in tests.
// Usage: node op.mjs PORT CLIENTS_JSON [JWKS_JSON]. JWKS_JSON, when given, holds the private keys
// the provider signs with (a test that rotates keys restarts it on the same port with others);
// without it the library's development key signs. GET /test/jwks-requests answers how many times
// the key set (/jwks) was asked for, so a test can see what its clients fetch. Any login name signs in with any password (the library's
// development interactions); the account's claims derive from the login name, so a test chooses the
// subject and email it needs: "alice" → sub "alice", email "alice@example.com" (a login containing
// "@" is used as the email itself), email_verified true unless the login starts with "unverified".
// A login starting with "strong" signs in as if with a second factor (ID token `acr`
// "urn:warden:test:mfa", `amr` ["pwd", "otp"]), one starting with "weak" with a password alone
// (`acr` "urn:warden:test:pwd", `amr` ["pwd"]), one starting with "noamr" with an empty `amr` (and
// the `acr` of a password); any other login's ID token has neither claim. A login starting with
// "workspace" carries Google's `hd` claim (its email's domain), as a Google Workspace account does.
import Provider from 'oidc-provider';

const [port, clientsJson, jwksJson] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

function claimsFor(login) {
  const email = login.includes('@') ? login : `${login}@example.com`;
  return {
    sub: login,
    email,
    email_verified: !login.startsWith('unverified'),
    ...(login.startsWith('workspace') ? { hd: email.split('@')[1] } : {}),
    name: `User ${login}`,
    given_name: 'User',
    family_name: login,
    website: `https://${login.replace(/[^a-z0-9]/gi, '')}.example.com`,
  };
}

const ACR_MFA = 'urn:warden:test:mfa';
const ACR_PWD = 'urn:warden:test:pwd';

function authenticationFor(login) {
  if (login.startsWith('strong')) return { acr: ACR_MFA, amr: ['pwd', 'otp'] };
  if (login.startsWith('weak')) return { acr: ACR_PWD, amr: ['pwd'] };
  if (login.startsWith('noamr')) return { acr: ACR_PWD, amr: [] };
  return {};
}

const provider = new Provider(issuer, {
  acrValues: [ACR_MFA, ACR_PWD],
  clients: JSON.parse(clientsJson),
  ...(jwksJson ? { jwks: JSON.parse(jwksJson) } : {}),
  cookies: { keys: ['warden-test-op-cookie-key'] },
  // `acr` and `amr` with `openid`: in every ID token that has them, as most providers send them
  // (the library's default is only when the client asks, by `acr_values` or `claims`).
  claims: { openid: ['sub', 'acr', 'amr'], email: ['email', 'email_verified', 'hd'], profile: ['name', 'given_name', 'family_name', 'website'] },
  conformIdTokenClaims: false, // put the scope's claims in the ID token, as most social providers do
  features: { devInteractions: { enabled: true }, userinfo: { enabled: true } },
  pkce: { required: () => false },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return claimsFor(id); } };
  },
});
// The development login form finishes with the account alone: add how it authenticated.
const finished = provider.interactionFinished.bind(provider);
provider.interactionFinished = (req, res, result, options) => {
  const login = result.login ? { ...result.login, ...authenticationFor(result.login.accountId) } : undefined;
  return finished(req, res, login ? { ...result, login } : result, options);
};
let jwksRequests = 0;
provider.use(async (ctx, next) => {
  if (ctx.path === '/test/jwks-requests') {
    ctx.body = { count: jwksRequests };
    return;
  }
  if (ctx.path === '/jwks') jwksRequests += 1;
  await next();
});
provider.proxy = true;
const server = provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
