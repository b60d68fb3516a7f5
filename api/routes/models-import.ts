import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { OutputRole } from '../../workers/bioimageio/card.js';
import { checkPackage, importedFiles, MODEL_NAME } from '../../workers/bioimageio/import.js';
import { BioimageioError } from '../../workers/bioimageio/rdf.js';
import { ApiError, errorResponses } from '../errors.js';
import type { KioskServices } from '../../core/services.js';

/**
 * POST /v1/models/import: a bioimage.io model package (.zip, multipart field `package`; optional text
 * fields `name` and `roles`) is checked and test-run as `kiosk models import` does (workers/bioimageio),
 * then stored as the bucket model `models/<name>/<version>/` of the caller's lab, where the registry lists
 * it and the workers load it. Every refusal is a 400 'bad-model-package' whose message names the rdf field
 * or file (unsupported weights, axes, a missing file, a sha256 or test-output mismatch); a name used by a
 * model that is not an import, 409.
 */
export const modelsImportRoutes: FastifyPluginAsyncTypebox<{ services: KioskServices }> = async (
  app,
  { services: s },
) => {
  app.post(
    '/models/import',
    {
      schema: {
        summary:
          'Import a bioimage.io model package (.zip, format 0.4/0.5, ONNX weights) as a model of your lab',
        tags: ['catalog'],
        consumes: ['multipart/form-data'],
        response: {
          201: Type.Object({
            name: Type.String(),
            version: Type.String(),
            labels: Type.String({ description: 'how the outputs become labels' }),
            test: Type.Object({}, { additionalProperties: true, description: "the package's test, as run" }),
          }),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      if (!req.isMultipart())
        throw new ApiError('not-multipart', 'send the package as multipart/form-data (field "package")');
      let zip: Buffer | undefined;
      const fields: Record<string, string> = {};
      for await (const part of req.parts()) {
        if (part.type === 'field') fields[part.fieldname] = String(part.value);
        else if (part.fieldname === 'package' && zip === undefined) zip = await part.toBuffer();
        else await part.toBuffer(); // drain
      }
      if (!zip)
        throw new ApiError(
          'bad-model-package',
          'no file in the multipart field "package" (the .zip of a bioimage.io model)',
        );
      const name = fields.name?.trim() || undefined;
      if (name !== undefined && !MODEL_NAME.test(name))
        throw new ApiError(
          'bad-model-package',
          `name '${name}' must be 1-64 letters, digits, '-' or '_' starting with a letter or digit`,
        );
      const roles = fields.roles?.split(',').map((r) => r.trim()) as OutputRole[] | undefined;
      let imported;
      try {
        imported = await checkPackage(new Uint8Array(zip), {
          ...(name ? { name } : {}),
          ...(roles ? { roles } : {}),
          threads: s.config.onnxThreads ?? 1,
        });
      } catch (err) {
        if (err instanceof BioimageioError)
          throw new ApiError('bad-model-package', `${err.message} [${err.code}]`);
        throw err;
      }
      // Versions are numbered over every lab's models (one bucket namespace, models/<name>/<version>/), but
      // only a model the caller can see blocks the name: another lab's models stay invisible.
      const all = (await s.registry.list()).filter((m) => m.name === imported.name);
      const own = (await s.registry.list(req.lab)).find(
        (m) => m.name === imported.name && !(m.card as Record<string, unknown>)['bioimageio'],
      );
      if (own)
        throw new ApiError(
          'model-name-taken',
          `model '${imported.name}' exists and is not a bioimage.io import; send another name`,
        );
      const version = Math.max(0, ...all.map((m) => Number(m.version))) + 1;
      const files = importedFiles(imported, version, { lab: req.lab });
      const prefix = `models/${imported.name}/${version}/`;
      // card.json last: the registry lists a version once its card is there.
      for (const [file, data] of files) if (file !== 'card.json') await s.storage.put(prefix + file, data);
      await s.storage.put(`${prefix}card.json`, files.get('card.json')!);
      const section = imported.card['bioimageio'] as {
        labels: { method: string };
        test: Record<string, unknown>;
      };
      return reply.status(201).send({
        name: imported.name,
        version: String(version),
        labels: section.labels.method,
        test: section.test,
      });
    },
  );
};
