/**
 * The cdk8s app (cdk8s.yaml: `npx tsx infra/k8s.ts`): `cdk8s synth` runs this. Reads the lab config from
 * $KIOSK_CONFIG (default kiosk.config.json) and writes one YAML file per chart into $CDK8S_OUTDIR
 * (default dist/k8s).
 */
import { App, YamlOutputType } from 'cdk8s';
import { loadLabConfig } from './lab-config.js';
import { labChart } from './lab-stack.js';

const config = await loadLabConfig(process.env.KIOSK_CONFIG ?? 'kiosk.config.json').catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
const app = new App({
  outdir: process.env.CDK8S_OUTDIR ?? 'dist/k8s',
  yamlOutputType: YamlOutputType.FILE_PER_CHART,
});
labChart(app, config);
app.synth();
