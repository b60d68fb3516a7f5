import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ApiError, errorResponses } from '../errors.js';
import type { KioskServices } from '../../core/services.js';
import { TokenError } from '../../core/tokens.js';

const Role = Type.Union([Type.Literal('member'), Type.Literal('admin')]);
const Token = Type.Object({
  id: Type.String(),
  lab: Type.String(),
  role: Role,
  name: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Type.Optional(Type.String()),
  revokedAt: Type.Optional(Type.String()),
});
const auth = { 401: errorResponses[401], 403: errorResponses[403] };

/**
 * API v1: who am I, and the admin's token management of its own lab (the CLI `kiosk token` manages every
 * lab's, from a machine that reaches Redis). Tokens of other labs are never listed and answer 404.
 */
export const v1TokenRoutes: FastifyPluginAsyncTypebox<{ services: KioskServices }> = async (
  app,
  { services: s },
) => {
  app.get(
    '/whoami',
    {
      schema: {
        summary: "The caller's lab and role, and whether this kiosk requires tokens",
        tags: ['auth'],
        response: {
          200: Type.Object({
            lab: Type.String(),
            role: Role,
            auth: Type.Union([Type.Literal('off'), Type.Literal('tokens')]),
            tokenId: Type.Optional(Type.String()),
          }),
          ...auth,
        },
      },
    },
    async (req) => ({
      lab: req.lab,
      role: req.role,
      auth: s.config.auth,
      ...(req.tokenId ? { tokenId: req.tokenId } : {}),
    }),
  );

  app.get(
    '/tokens',
    {
      config: { role: 'admin' },
      schema: {
        summary: "The tokens of the caller's lab (admin; never their secrets)",
        tags: ['auth'],
        querystring: Type.Object({ all: Type.Boolean({ default: false, description: 'include revoked' }) }),
        response: { 200: Type.Object({ tokens: Type.Array(Token) }), ...errorResponses },
      },
    },
    async (req) => ({
      tokens: await s.tokens.list({ lab: req.lab, includeRevoked: req.query.all }),
    }),
  );

  app.post(
    '/tokens',
    {
      config: { role: 'admin' },
      schema: {
        summary: "Make a token of the caller's lab (admin); the answer is the only time the token is shown",
        tags: ['auth'],
        body: Type.Object({
          role: Type.Optional(Role),
          name: Type.Optional(Type.String({ maxLength: 100 })),
        }),
        response: {
          201: Type.Intersect([Token, Type.Object({ token: Type.String() })]),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      try {
        const { token, info } = await s.tokens.create({
          lab: req.lab,
          role: req.body.role ?? 'member',
          ...(req.body.name !== undefined ? { name: req.body.name } : {}),
        });
        return reply.status(201).send({ ...info, token });
      } catch (err) {
        if (err instanceof TokenError) throw new ApiError('bad-request', err.message);
        throw err;
      }
    },
  );

  app.delete(
    '/tokens/:id',
    {
      config: { role: 'admin' },
      schema: {
        summary: "Revoke a token of the caller's lab (admin); requests with it then answer 401",
        tags: ['auth'],
        params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) }),
        response: { 200: Token, ...errorResponses },
      },
    },
    async (req) => {
      try {
        return await s.tokens.revoke(req.params.id, { lab: req.lab });
      } catch (err) {
        if (err instanceof TokenError)
          throw new ApiError('token-not-found', `no active token ${req.params.id} in lab ${req.lab}`);
        throw err;
      }
    },
  );
};
