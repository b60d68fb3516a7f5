/**
 * What a DeepCell kiosk-client does for one file, for tests against a listening service: POST /api/upload/
 * (multipart field `file`), then POST /api/predict with `jobType`; resolves to the job's hash.
 */
export async function deepCellSubmit(
  url: string,
  name: string,
  bytes: Uint8Array,
  jobType: string,
): Promise<string> {
  const fd = new FormData();
  fd.append('file', new Blob([new Uint8Array(bytes)]), name);
  const up = await fetch(`${url}/api/upload/`, { method: 'POST', body: fd });
  if (up.status !== 200) throw new Error(`/api/upload/: HTTP ${up.status} ${await up.text()}`);
  const { uploadedName } = (await up.json()) as { uploadedName: string };
  const res = await fetch(`${url}/api/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jobType, imageName: name, uploadedName }),
  });
  if (res.status !== 200) throw new Error(`/api/predict: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { hash: string }).hash;
}
