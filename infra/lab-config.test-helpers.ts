/** Two raw lab configs (kiosk.config.json as a lab writes it) for tests: a GKE lab and an EKS lab, each with a domain. */
export const gkeLab = {
  name: 'lab1',
  provider: 'gke',
  project: 'lab1-project',
  region: 'us-central1',
  gpu: { type: 'nvidia-tesla-t4' },
  bucket: 'lab1-data',
  images: { registry: 'us-docker.pkg.dev/lab1-project/cellkiosk' },
  domain: 'kiosk.lab1.example.org',
};

export const eksLab = {
  ...gkeLab,
  provider: 'eks',
  project: undefined,
  accountId: '123456789012',
  region: 'us-east-1',
  gpu: { type: 'g5' },
};
