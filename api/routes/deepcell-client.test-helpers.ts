/**
 * What a DeepCell kiosk-client (vanvalenlab/kiosk-client, `python -m kiosk_client FILE -j TYPE -t HOST`)
 * sends for one file, for tests against a listening service: Job.upload_file() posts the file to
 * /api/upload (multipart field `file`), start(upload=True) keeps the uploaded path relative to the upload
 * prefix, and Job.create() posts its whole JSON body to /api/predict — every field, the unset ones as ''
 * (no -m: modelName and modelVersion ''; no -s / -l: dataRescale and dataLabel ''). Resolves to the hash.
 */
export async function deepCellSubmit(
  url: string,
  name: string,
  bytes: Uint8Array,
  jobType: string,
): Promise<string> {
  const fd = new FormData();
  fd.append('file', new Blob([new Uint8Array(bytes)]), name);
  const up = await fetch(`${url}/api/upload`, { method: 'POST', body: fd });
  if (up.status !== 200) throw new Error(`/api/upload: HTTP ${up.status} ${await up.text()}`);
  const { uploadedName } = (await up.json()) as { uploadedName: string };
  const prefix = 'uploads/'; // the client's --upload-prefix default
  if (!uploadedName.startsWith(prefix))
    throw new Error(`/api/upload answered uploadedName '${uploadedName}', not under '${prefix}'`);
  const filepath = uploadedName.slice(prefix.length); // os.path.relpath(uploaded_path, upload_prefix)
  const res = await fetch(`${url}/api/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      modelName: '',
      modelVersion: '',
      preprocessFunction: '',
      postprocessFunction: '',
      imageName: filepath,
      jobType,
      dataRescale: '',
      dataLabel: '',
      uploadedName: `${prefix}${filepath}`,
    }),
  });
  if (res.status !== 200) throw new Error(`/api/predict: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { hash: string }).hash;
}
