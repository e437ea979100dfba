// A real OpenID Provider (the certified `oidc-provider`) on 127.0.0.1, issuing JWT access
// tokens by the client-credentials grant for the resource (audience) `AUDIENCE`, for the
// OIDC tests (tests/oidc.rs). Prints its issuer URL on the first line of stdout.
//
// Clients (secret = `${id}-secret`), all with the client-credentials grant:
// - `writer`: scopes in the `scope` claim, as Keycloak and Auth0 write them;
// - `entra`: scopes in an `scp` array, as Entra ID writes them (a token customizer);
// - `delegated`: a token on behalf of the user `learner-42` (`sub` differs from
//   `client_id`), standing in for a token from an interactive flow;
// - `expired`: tokens whose `exp` is already two minutes past.
// - `sales`: tokens with the claim `lrs_store: "sales"` (a store claim).
// - `dashboard` (dashboard sign-in): the authorization-code grant with PKCE, its
//   redirect URI set by POST /admin/dashboard-redirect (the LRS's port is known only
//   once it runs). The provider's dev login page accepts any login name and password;
//   the ID token carries `name` and `groups`: ["staff", "ld-leads"] for the login
//   `lead`, ["staff"] for anyone else.
//
// Admin routes of this script (not of the provider): POST /admin/rotate replaces the
// signing keys (new kids; tokens signed before no longer verify against the JWKS),
// GET /admin/jwks-fetches counts the requests for the JWKS so far, and
// POST /admin/dashboard-redirect (body: the URI) registers the dashboard's redirect URI.

const http = require('node:http');
const crypto = require('node:crypto');

const AUDIENCE = process.env.OIDC_AUDIENCE || 'https://lrs.example.com/xapi';
const SCOPES = 'xapi:statements/write xapi:statements/read xapi:statements/read/mine xapi:state openid';

function signingKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const generation = crypto.randomBytes(6).toString('hex');
  return [
    { ...rsa.export({ format: 'jwk' }), kid: `rsa-${generation}`, alg: 'RS256', use: 'sig' },
    { ...ec.export({ format: 'jwk' }), kid: `ec-${generation}`, alg: 'ES256', use: 'sig' },
  ];
}

function client(id) {
  return {
    client_id: id,
    client_secret: `${id}-secret`,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: SCOPES,
  };
}

function dashboardClient(redirectUri) {
  return {
    client_id: 'dashboard',
    client_secret: 'dashboard-secret',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: redirectUri ? [redirectUri] : [],
    scope: 'openid profile',
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

async function findAccount(ctx, id) {
  return {
    accountId: id,
    claims: async () => ({
      sub: id,
      name: `User ${id}`,
      groups: id === 'lead' ? ['staff', 'ld-leads'] : ['staff'],
    }),
  };
}

async function main() {
  const { default: Provider } = await import('oidc-provider');
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  let jwksFetches = 0;
  let keys = signingKeys();
  let dashboardRedirect = null;

  function provider() {
    return new Provider(issuer, {
      clients: [
        ...['writer', 'entra', 'delegated', 'expired', 'sales'].map(client),
        dashboardClient(dashboardRedirect),
      ],
      jwks: { keys },
      scopes: [...SCOPES.split(' '), 'profile'],
      claims: { openid: ['sub'], profile: ['name', 'groups'] },
      // The claims of `profile` in the ID token itself, as Keycloak, Entra ID and Okta
      // put `groups` there when configured to.
      conformIdTokenClaims: false,
      findAccount,
      features: {
        clientCredentials: { enabled: true },
        devInteractions: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => AUDIENCE,
          useGrantedResource: () => true,
          // Any resource asked for is a JWT resource server of that audience, so a
          // token for another audience is the provider's own, correctly signed.
          getResourceServerInfo: (ctx, resource, requester) => ({
            scope: SCOPES,
            audience: resource,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: requester.clientId === 'entra' ? 'ES256' : 'RS256' } },
          }),
        },
      },
      formats: {
        customizers: {
          jwt: (ctx, token, jwt) => {
            const { payload } = jwt;
            if (token.clientId === 'entra') {
              payload.scp = (payload.scope || '').split(' ').filter(Boolean);
              delete payload.scope;
            } else if (token.clientId === 'delegated') {
              payload.sub = 'learner-42';
            } else if (token.clientId === 'sales') {
              payload.lrs_store = 'sales';
            } else if (token.clientId === 'expired') {
              payload.iat -= 600;
              payload.exp = Math.floor(Date.now() / 1000) - 120;
            }
          },
        },
      },
    });
  }

  let current = provider().callback();
  server.on('request', (req, res) => {
    if (req.method === 'POST' && req.url === '/admin/rotate') {
      keys = signingKeys();
      current = provider().callback();
      res.end('rotated\n');
    } else if (req.method === 'POST' && req.url === '/admin/dashboard-redirect') {
      let body = '';
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => {
        dashboardRedirect = body.trim();
        current = provider().callback();
        res.end('registered\n');
      });
    } else if (req.method === 'GET' && req.url === '/admin/jwks-fetches') {
      res.end(String(jwksFetches));
    } else {
      if (req.url.startsWith('/jwks')) jwksFetches += 1;
      current(req, res);
    }
  });
  // The test reads the first line only, then closes the pipe: later output (the dev
  // interactions log to stdout) must not end the provider with EPIPE.
  process.stdout.on('error', () => {});
  process.stdout.write(`${issuer}\n`);
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
