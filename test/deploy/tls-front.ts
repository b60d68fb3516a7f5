/**
 * The rehearsal's stand-in for the load balancer in front of the Ingress (issue 20 #1): it terminates TLS for
 * the lab's domain with a throwaway self-signed certificate (openssl) and passes each request, streamed both
 * ways (the web UI's event stream included), to an API pod over plain HTTP, as GKE's load balancer and the
 * ALB pass them to the pods. The browser reaches it through a host-resolver rule for the domain.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface TlsFront {
  /** The port it listens on, at 127.0.0.1. */
  readonly port: number;
  /** Chromium flags that send `https://<domain>` here and accept the self-signed certificate. */
  readonly chromiumArgs: readonly string[];
  close(): Promise<void>;
}

export async function startTlsFront(opts: {
  domain: string;
  /** `http://ip:port` of a ready API pod, read per request. */
  target: () => string;
  /** Where the key and certificate are written. */
  dir: string;
}): Promise<TlsFront> {
  const key = join(opts.dir, 'tls-front.key');
  const cert = join(opts.dir, 'tls-front.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${opts.domain}`,
      '-addext',
      `subjectAltName=DNS:${opts.domain}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const target = new URL(req.url ?? '/', opts.target());
    const upstream = request(
      target,
      {
        method: req.method,
        headers: {
          ...req.headers,
          'x-forwarded-for': req.socket.remoteAddress ?? '',
          'x-forwarded-proto': 'https',
        },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    chromiumArgs: [
      `--host-resolver-rules=MAP ${opts.domain}:443 127.0.0.1:${port}`,
      '--ignore-certificate-errors',
    ],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
