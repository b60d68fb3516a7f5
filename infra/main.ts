/**
 * The cdktf app (cdktf.json: `npx tsx infra/main.ts`): `cdktf synth|deploy` run this. Reads the lab config
 * from $KIOSK_CONFIG (default kiosk.config.json, written by `npx kiosk init`). The cdktf CLI passes the output
 * folder in $CDKTF_OUTDIR; run directly it writes cdktf.out/.
 */
import { App } from 'cdktf';
import { loadLabConfig } from './lab-config.js';
import { LabStack, STACK_ID } from './lab-stack.js';

const config = await loadLabConfig(process.env.KIOSK_CONFIG ?? 'kiosk.config.json').catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
const app = new App({ stackTraces: false });
new LabStack(app, STACK_ID, config);
app.synth();
