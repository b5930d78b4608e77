// An independent OpenID Provider (panva/oidc-provider) for the external-IdP tests.
//
// Usage: node provider.mjs CONFIG.json. The config names the issuer URL, the port, the
// signing keys (a private JWKS, so two providers can share keys and differ only in their
// issuer) and the clients. Each client gets client-credentials tokens whose access tokens
// are JWTs for the requested resource (RFC 8707), carrying the client's extra claims
// (roles, tenant) the way an enterprise IdP would; `ttl` sets the token lifetime.
// Runs on Node 22 (oidc-provider 9 needs a current Node).
// Prints "ready" on stdout once it listens.
import { readFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const clientsById = new Map(config.clients.map((client) => [client.client_id, client]));

const provider = new Provider(config.issuer, {
  jwks: config.jwks,
  clients: config.clients.map((client) => ({
    client_id: client.client_id,
    client_secret: client.client_secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  })),
  scopes: ['openid', 'stoa:read', 'stoa:write', 'stoa:admin'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => config.resources[0],
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resource) => {
        if (!config.resources.includes(resource)) throw new errors.InvalidTarget();
        return {
          scope: 'stoa:read stoa:write stoa:admin',
          audience: resource,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  ttl: {
    ClientCredentials: (_ctx, _token, client) => clientsById.get(client.clientId)?.ttl ?? 600,
  },
  // `claims_by_scope` lets one client (one subject) get other claims when it asks for a
  // given scope, e.g. to name another tenant.
  extraTokenClaims: async (_ctx, token) => {
    const client = clientsById.get(token.clientId);
    const scopes = (token.scope ?? '').split(' ');
    const override = Object.entries(client?.claims_by_scope ?? {})
      .find(([scope]) => scopes.includes(scope));
    return override ? override[1] : client?.claims;
  },
});

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
