#!/usr/bin/env python3
"""
Trains the nuclear model in PyTorch, for a machine with a GPU and no Node (see docs/training-gpu.md). The
product's training engine stays the tfjs trainer (workers/model/train.ts, scripts/train-nuclear.ts); this
script trains the same network on the same targets and augmentation, much faster, and writes a model folder
that drops into models/nuclear/<version>/: model.onnx (the served contract of workers/model/onnx-export.ts),
model.json + weights.bin (tfjs layers format, so the tfjs runtime and `--from` fine-tuning work too) and
card.json (what workers/model/model-io.ts readModelCard checks).

  python3 scripts/gpu/train_nuclear.py train --data DIR --out DIR [--minutes 9] [--from models/nuclear/1]
      [--diameter 20] [--batch 64] [--crop 128] [--lr 1e-3] [--warmup 200] [--ema 0.999] [--workers N] ...
  python3 scripts/gpu/train_nuclear.py convert --from models/nuclear/1 --out DIR [--check-image PNG]
  python3 scripts/gpu/train_nuclear.py parity --data DIR --out FILE.json   (no torch; for the TS test)

What mirrors what (same semantics, not the same random numbers):
- network: workers/model/network.ts (U-Net, BN momentum -> torch momentum 1 - m, epsilon 1e-3, glorot init,
  heads inner/outer linear, fgbg 2-channel softmax [bg, fg]); layer names are the tfjs layer names;
- data, targets, augmentation: scripts/gpu/nuclear_data.py (dataset.ts, targets.ts, augment.ts);
- loss: 10 MSE(inner) + 5 MSE(outer) + class-balanced cross-entropy(fgbg), each class weighted by
  N / (2 N_class) over the batch (train.ts batchLoss); Adam (epsilon 1e-7 as tfjs); learning rate: linear
  warmup from peak/10 over --warmup steps, then cosine to --final-lr over the wall-clock budget (--minutes) or
  over --max-steps (train.ts learningRateAt with lrClock);
- optional weight EMA (--ema): validation and the exported model use the average (train.ts emaDecay).
Not mirrored: validation with the real metric (deep watershed F1/DSB) - this script reports the val loss and
foreground IoU at canonical scale; score the exported folder through `kiosk segment` / scripts/export-nuclear.ts.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nuclear_data as nd  # noqa: E402
import nuclear_model as nm  # noqa: E402

LOSS_WEIGHTS = {'inner': 10.0, 'outer': 5.0, 'fg': 1.0}


def log(line):
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}", flush=True)


# ------------------------------------------------------------------------------------------ torch side


def torch_modules():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class NuclearUNet(nn.Module):
        """network.ts buildNetwork in PyTorch (NCHW inside). forward returns head pre-activations
        (inner, outer, fgbg logits); `served` applies the activations as the served model does."""

        def __init__(self, cfg):
            super().__init__()
            self.cfg = nm.resolve_config(cfg)
            self.plan = nm.layer_plan(cfg)
            momentum = 1 - self.cfg['bnMomentum']
            for kind, name, d in self.plan:
                if kind == 'conv':
                    conv = nn.Conv2d(d['cin'], d['cout'], d['k'], padding=(d['k'] - 1) // 2, bias=True)
                    nn.init.xavier_normal_(conv.weight)  # Keras VarianceScaling(1, fan_avg, normal)
                    nn.init.zeros_(conv.bias)
                    setattr(self, name, conv)
                elif kind == 'bn':
                    setattr(self, name, nn.BatchNorm2d(d['c'], eps=1e-3, momentum=momentum))

        def _block(self, x, name):
            for j in range(self.cfg['convsPerLevel']):
                x = F.relu(getattr(self, f'{name}_bn{j}')(getattr(self, f'{name}_conv{j}')(x)))
            return x

        def forward(self, x):
            c = self.cfg
            skips = []
            for level in range(c['depth']):
                x = self._block(x, f'enc{level}')
                skips.append(x)
                x = F.max_pool2d(x, 2)
            x = self._block(x, 'bottom')
            for level in range(c['depth'] - 1, -1, -1):
                x = F.interpolate(x, scale_factor=2.0, mode='nearest')
                x = torch.cat([x, skips[level]], 1)
                x = self._block(x, f'dec{level}')
            outs = []
            for head in nm.HEADS:
                h = F.relu(getattr(self, f'{head}_head_conv')(x))
                outs.append(getattr(self, f'{head}_logits')(h))
            return tuple(outs)

        def served(self, x_nhwc):
            """NHWC in, the three served heads NHWC out (inner, outer linear; fgbg softmax/sigmoid)."""
            inner, outer, fg = self(x_nhwc.permute(0, 3, 1, 2))
            fg = torch.softmax(fg, 1) if self.cfg['fgbg'] == 'softmax' else torch.sigmoid(fg)
            return tuple(t.permute(0, 2, 3, 1) for t in (inner, outer, fg))

    return torch, NuclearUNet


def state_to_numpy(model):
    return {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()
            if not k.endswith('num_batches_tracked')}


def load_numpy_state(model, weights):
    import torch

    sd = model.state_dict()
    for k, v in weights.items():
        if k not in sd or tuple(sd[k].shape) != tuple(v.shape):
            raise ValueError(f'weight {k} {list(v.shape)} does not fit the network')
        sd[k] = torch.from_numpy(np.array(v, np.float32))
    model.load_state_dict(sd)


def batch_loss(torch, outputs, inner, outer, fg, fgbg):
    """train.ts batchLoss: returns (total, inner MSE, outer MSE, class-balanced CE), float32."""
    pi, po, pf = (o.float() for o in outputs)
    l_inner = torch.mean((pi[:, 0] - inner) ** 2)
    l_outer = torch.mean((po[:, 0] - outer) ** 2)
    n = fg.numel()
    n_fg = fg.sum()
    w_fg = n / (2 * torch.clamp(n_fg, min=1))
    w_bg = n / (2 * torch.clamp(n - n_fg, min=1))
    floor = math.log(1e-7)  # log(clip(p, 1e-7, 1)) as train.ts
    if fgbg == 'softmax':
        logp = torch.log_softmax(pf, 1).clamp(min=floor)
        log_bg, log_fg = logp[:, 0], logp[:, 1]
    else:
        log_fg = torch.nn.functional.logsigmoid(pf[:, 0]).clamp(min=floor)
        log_bg = torch.nn.functional.logsigmoid(-pf[:, 0]).clamp(min=floor)
    ce = -torch.mean(fg * w_fg * log_fg + (1 - fg) * w_bg * log_bg)
    total = LOSS_WEIGHTS['inner'] * l_inner + LOSS_WEIGHTS['outer'] * l_outer + LOSS_WEIGHTS['fg'] * ce
    return total, l_inner, l_outer, ce


def learning_rate_at(step, total, peak, warmup, final, progress=None):
    """train.ts learningRateAt."""
    if step < warmup:
        return peak * (0.1 + 0.9 * step / warmup)
    t = progress if progress is not None else (step - warmup) / max(1, total - warmup)
    t = min(1.0, max(0.0, t))
    return final + 0.5 * (peak - final) * (1 + math.cos(math.pi * t))


# --------------------------------------------------------------------------------------------- data


def make_stream(torch):
    class CropStream(torch.utils.data.IterableDataset):
        """Endless augmented batches; each worker draws from its own generator seeded by (seed, worker,
        generation), so restarts and workers never repeat each other's crops."""

        def __init__(self, samples, crop, batch, seed, generation=0):
            super().__init__()
            self.sampler = nd.CropSampler(samples, crop)
            self.batch = batch
            self.seed = seed
            self.generation = generation

        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            wid = info.id if info is not None else 0
            rng = np.random.default_rng([self.seed, wid, self.generation])
            while True:
                x, inner, outer, fg = self.sampler.batch(self.batch, rng)
                yield torch.from_numpy(x), torch.from_numpy(inner), torch.from_numpy(outer), torch.from_numpy(fg)

    return CropStream


def pad_to(a, multiple):
    h, w = a.shape
    H = -(-h // multiple) * multiple
    W = -(-w // multiple) * multiple
    out = np.zeros((H, W), a.dtype)
    out[:h, :w] = a
    return out


def evaluate(torch, model, val, device, multiple, fgbg):
    """Val loss and foreground IoU (p_fg > 0.5) over whole val images at canonical scale."""
    model.eval()
    bench = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False  # val images differ in size: no per-shape autotuning
    tot = {'loss': 0.0, 'inner': 0.0, 'outer': 0.0, 'fg': 0.0}
    inter = union = 0
    with torch.no_grad():
        for s in val:
            h, w = s['image'].shape
            x = torch.from_numpy(pad_to(s['image'], multiple))[None, None].to(device)
            if 'targets' not in s:
                s['targets'] = nd.compute_targets(s['labels'])
            inner, outer, fg = s['targets']
            outs = [o[..., :h, :w] for o in model(x)]
            parts = batch_loss(torch, outs, *(torch.from_numpy(a.astype(np.float32))[None].to(device)
                                              for a in (inner, outer, fg)), fgbg)
            for k, v in zip(tot, parts):
                tot[k] += float(v) / len(val)
            p = torch.softmax(outs[2].float(), 1)[:, 1] if fgbg == 'softmax' else torch.sigmoid(outs[2].float())[:, 0]
            pred = (p[0] > 0.5).cpu().numpy()
            truth = fg.astype(bool)
            inter += int((pred & truth).sum())
            union += int((pred | truth).sum())
    model.train()
    torch.backends.cudnn.benchmark = bench
    return {**{f'val_{k}': round(v, 5) for k, v in tot.items()}, 'val_fg_iou': round(inter / max(1, union), 4)}


# ------------------------------------------------------------------------------------------- export


def read_card(model_dir):
    with open(os.path.join(model_dir, 'card.json')) as f:
        return json.load(f)


def export_folder(out_dir, weights, cfg, card):
    """model.onnx + model.json + weights.bin + card.json in out_dir (each written atomically)."""
    os.makedirs(out_dir, exist_ok=True)
    nm.served_forward_numpy_check(weights)
    onnx = nm.onnx_bytes(weights, cfg)
    nm._write_atomic(os.path.join(out_dir, 'model.onnx'), onnx)
    nm.write_tfjs(out_dir, weights, cfg)
    nm._write_atomic(os.path.join(out_dir, 'card.json'), (json.dumps(card, indent=2) + '\n').encode())
    return len(onnx)


def check_onnx(torch, model, onnx_path, tile):
    """Max |torch - onnxruntime| per head on `tile` ([1, H, W, 1]), or None without onnxruntime (python)."""
    try:
        import onnxruntime as ort  # type: ignore
    except ImportError:
        return None
    sess = ort.InferenceSession(onnx_path, providers=['CPUExecutionProvider'])
    got = sess.run(None, {'input': tile})
    model.eval()
    with torch.no_grad():
        want = [t.float().cpu().numpy() for t in model.served(torch.from_numpy(tile).to(next(model.parameters()).device))]
    names = [o.name for o in sess.get_outputs()]
    return {n: float(np.abs(a - b).max()) for n, a, b in zip(names, got, want)}


def val_tile(val_dir, size, limit_name=None):
    """A real val image, percentile-normalized, its top-left size x size (zero-padded if smaller), [1,S,S,1]."""
    name = limit_name or nd.list_pairs(val_dir, 1)[0]
    img = nd.percentile_normalize(nd.read_png(os.path.join(val_dir, name + nd.IMAGE_SUFFIX)))
    out = np.zeros((size, size), np.float32)
    h, w = min(size, img.shape[0]), min(size, img.shape[1])
    out[:h, :w] = img[:h, :w]
    return out[None, :, :, None], name


# -------------------------------------------------------------------------------------------- train


def cmd_train(a):
    torch, NuclearUNet = torch_modules()
    t_start = time.time()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    cuda = device.type == 'cuda'
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    amp = a.amp
    if amp == 'auto':
        amp = ('bf16' if torch.cuda.is_bf16_supported() else 'fp16') if cuda else 'off'
    from_card = read_card(a.from_dir) if a.from_dir else None
    cfg = nm.resolve_config(from_card['network'] if from_card else json.loads(a.network))
    diameter = a.diameter or (from_card['input']['targetDiameterPx'] if from_card else 16)
    if float(diameter).is_integer():
        diameter = int(diameter)
    multiple = 2 ** cfg['depth']
    if a.crop % multiple:
        sys.exit(f'train_nuclear: --crop {a.crop} must be a multiple of 2^depth = {multiple}')
    os.makedirs(a.out, exist_ok=True)
    procs = max(1, a.workers)
    train = nd.load_folder(os.path.join(a.data, 'train'), diameter, limit=a.limit, processes=procs)
    val = nd.load_folder(os.path.join(a.data, 'val'), diameter, limit=a.val_limit, processes=procs) if a.val_limit != 0 else []
    log(f'torch {torch.__version__} device {device}'
        f"{' (' + torch.cuda.get_device_name(device) + ')' if cuda else ''} amp {amp}; "
        f'loaded {len(train)} train / {len(val)} val images at {diameter} px in {time.time() - t_start:.1f} s')

    model = NuclearUNet(cfg)
    if a.from_dir:
        load_numpy_state(model, nm.read_tfjs(a.from_dir, cfg))
        log(f'fine-tuning from {a.from_dir}')
    ckpt_path = os.path.join(a.out, 'checkpoint.pt')
    step = 0
    seconds_before = 0.0
    if a.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location='cpu')
        model.load_state_dict(ck['model'])
        step = ck['step']
        seconds_before = ck['seconds']
        log(f'resumed {ckpt_path} at step {step} (fresh Adam state)')
    model.to(device)
    channels_last = cuda and not a.no_channels_last
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    ema = None
    if a.ema:
        ema = {k: v.detach().clone().float() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
        if a.resume and os.path.exists(ckpt_path) and ck.get('ema'):
            ema = {k: v.to(device) for k, v in ck['ema'].items()}
    if ema is not None:
        # state_dict() tensors share storage with the live parameters and buffers: built once, read each step.
        live = model.state_dict()
        ema_list = list(ema.values())
        live_list = [live[k] for k in ema]
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-7)
    scaler = torch.cuda.amp.GradScaler() if amp == 'fp16' else None
    autocast_dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(amp)

    CropStream = make_stream(torch)
    stream = CropStream(train, a.crop, a.batch, a.seed, generation=step)
    loader_kw = dict(batch_size=None, num_workers=a.workers, pin_memory=cuda)
    if a.workers > 0:
        loader_kw.update(prefetch_factor=a.prefetch, persistent_workers=True,
                         multiprocessing_context='fork')
    loader = iter(torch.utils.data.DataLoader(stream, **loader_kw))

    budget_s = a.minutes * 60 if a.minutes else None
    max_steps = a.max_steps or 10**12
    total_for_lr = a.max_steps or 10**6
    metrics = open(os.path.join(a.out, 'metrics.jsonl'), 'a')
    history = []
    t0 = time.time()
    last_log = t0
    last_val = t0
    last_save = t0
    window = {'samples': 0, 'wait': 0.0, 'loss': 0.0, 'inner': 0.0, 'outer': 0.0, 'fg': 0.0, 'steps': 0}
    # One checkpoint.ts EpochRecord per validation (an "epoch" here is the stretch between two), for state.json.
    epochs = []
    interval = {'loss': 0.0, 'n': 0, 'samples': 0, 't': t0, 'lr': a.lr}

    def close_epoch(val_rec):
        now_ = time.time()
        train_loss = interval['loss'] / max(1, interval['n'])
        val_loss = val_rec.get('val_loss') if val_rec else None
        epochs.append({
            'epoch': len(epochs) + 1, 'step': step, 'trainLoss': round(train_loss, 5),
            **({'valLoss': val_loss} if val_loss is not None else {}),
            'score': -(val_loss if val_loss is not None else train_loss),
            'seconds': round(now_ - interval['t'], 1),
            'samplesPerSecond': round(interval['samples'] / max(1e-9, now_ - interval['t']), 1),
            'lr': interval['lr'],
        })
        interval.update(loss=0.0, n=0, samples=0, t=now_)

    samples = 0
    first = step
    stop_why = 'max-steps'
    model.train()
    while step < max_steps:
        elapsed = time.time() - t0
        if budget_s is not None and elapsed >= budget_s:
            stop_why = 'minutes'
            break
        tw = time.time()
        x, inner, outer, fg = next(loader)
        x = x.to(device, non_blocking=True)[:, None]
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        inner = inner.to(device, non_blocking=True)
        outer = outer.to(device, non_blocking=True)
        fg = fg.to(device, non_blocking=True)
        window['wait'] += time.time() - tw
        progress = elapsed / budget_s if budget_s is not None else None
        lr = learning_rate_at(step, total_for_lr, a.lr, a.warmup, a.final_lr, progress)
        for g in opt.param_groups:
            g['lr'] = lr
        if autocast_dtype is not None:
            with torch.autocast(device_type='cuda', dtype=autocast_dtype):
                outs = model(x)
        else:
            outs = model(x)
        total, li, lo, ce = batch_loss(torch, outs, inner, outer, fg, cfg['fgbg'])
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(total).backward()
            scaler.step(opt)
            scaler.update()
        else:
            total.backward()
            opt.step()
        if ema is not None:
            with torch.no_grad():
                torch._foreach_mul_(ema_list, a.ema)
                torch._foreach_add_(ema_list, live_list, alpha=1 - a.ema)
        step += 1
        samples += a.batch
        interval['samples'] += a.batch
        interval['lr'] = lr
        window['samples'] += a.batch
        window['steps'] += 1
        for k, v in (('loss', total), ('inner', li), ('outer', lo), ('fg', ce)):
            window[k] += float(v) if (step % a.log_every == 0 or not cuda) else 0.0
        now = time.time()
        if step % a.log_every == 0 or step == max_steps:
            dt = max(1e-9, now - last_log)
            n_logged = 1 if cuda else window['steps']
            rec = {
                'step': step, 'samples': samples, 'seconds': round(now - t0, 1), 'lr': lr,
                'loss': round(window['loss'] / n_logged, 5), 'inner': round(window['inner'] / n_logged, 5),
                'outer': round(window['outer'] / n_logged, 5), 'fg': round(window['fg'] / n_logged, 5),
                'samplesPerSecond': round(window['samples'] / dt, 1),
                'dataWaitFraction': round(window['wait'] / dt, 3),
            }
            metrics.write(json.dumps(rec) + '\n')
            metrics.flush()
            interval['loss'] += rec['loss']
            interval['n'] += 1
            log(f"step {step} loss {rec['loss']:.4f} (inner {rec['inner']:.4f} outer {rec['outer']:.4f} fg "
                f"{rec['fg']:.4f}) lr {lr:.2e} {rec['samplesPerSecond']:.1f} samples/s, waiting for data "
                f"{100 * rec['dataWaitFraction']:.0f}%")
            window = {k: 0 for k in window}
            last_log = now
        if val and a.val_every_s and now - last_val >= a.val_every_s:
            rec = {'step': step, 'samples': samples, 'seconds': round(now - t0, 1),
                   **evaluate_with(torch, model, ema, val, device, multiple, cfg['fgbg'])}
            history.append(rec)
            close_epoch(rec)
            metrics.write(json.dumps(rec) + '\n')
            metrics.flush()
            log(f"VAL step {step} {json.dumps({k: v for k, v in rec.items() if k.startswith('val')})}")
            last_val = time.time()
        if a.save_every_s and now - last_save >= a.save_every_s:
            save_checkpoint(torch, ckpt_path, model, ema, step, seconds_before + now - t0, a)
            last_save = now
    train_seconds = time.time() - t0
    steps_run = step - first
    sps = samples / max(1e-9, train_seconds)
    log(f'stopped ({stop_why}) at step {step}: {samples} samples in {train_seconds:.1f} s = {sps:.1f} samples/s')
    if val and history and history[-1]['step'] == step:
        log('VAL final: as at the last validation (same step)')
    elif val:
        rec = {'step': step, 'samples': samples, 'seconds': round(train_seconds, 1),
               **evaluate_with(torch, model, ema, val, device, multiple, cfg['fgbg'])}
        history.append(rec)
        close_epoch(rec)
        metrics.write(json.dumps(rec) + '\n')
        log(f"VAL final {json.dumps({k: v for k, v in rec.items() if k.startswith('val')})}")
    elif interval['samples'] > 0 or not epochs:
        close_epoch(None)
    metrics.close()
    save_checkpoint(torch, ckpt_path, model, ema, step, seconds_before + train_seconds, a)

    # The exported weights: the moving average when there is one (as train.ts returns it).
    weights = state_to_numpy(model)
    if ema is not None:
        weights.update({k: v.cpu().numpy() for k, v in ema.items() if k in weights})
    card_extra = {}
    post_from = a.postprocess_from or (a.from_dir if a.from_dir else None)
    if post_from:
        card_extra['postprocess'] = read_card(post_from).get('postprocess')
    card = nm.nuclear_card(
        a.name, a.version, cfg, diameter, **card_extra,
        training={
            'data': f'{a.data}/train ({len(train)} images)',
            'runtime': f'pytorch {torch.__version__}',
            'device': torch.cuda.get_device_name(device) if cuda else 'cpu',
            'amp': amp,
            'script': 'scripts/gpu/train_nuclear.py',
            'steps': step,
            'batchSize': a.batch,
            'cropSize': a.crop,
            'samples': samples,
            'seconds': round(seconds_before + train_seconds, 1),
            'samplesPerSecond': round(sps, 2),
            'optimizer': f'Adam (eps 1e-7), warmup {a.warmup} steps from peak/10, then cosine decay to '
                         f'{a.final_lr} over {"the " + str(a.minutes) + "-minute budget" if a.minutes else str(total_for_lr) + " steps"}, peak {a.lr}',
            **({'ema': a.ema} if a.ema else {}),
            'loss': '10·MSE(inner) + 5·MSE(outer) + class-balanced cross-entropy(fgbg)',
            'augmentation': 'as workers/model/dataset.ts CropSampler (scripts/gpu/nuclear_data.py): canonical nucleus '
                            'scale + log-uniform scale jitter 0.67-1.5x (30%: 0.4-3x), 8 flips/rotations, '
                            'gamma/contrast/offset/noise, 35%: simulated low-dynamic-range 16-bit camera',
            'selection': 'none: the last weights (their moving average with --ema) are exported; val figures '
                         'below are loss and foreground IoU at canonical scale, not the pipeline metric',
            **({'finetunedFrom': {'model': a.from_dir, 'training': from_card.get('training')}} if from_card else {}),
            **({'postprocessNote': f'card.postprocess copied from {post_from}, not re-tuned for these weights'} if post_from else {}),
            'history': history,
        },
    )
    nbytes = export_folder(a.out, weights, cfg, card)
    # state.json as workers/model/checkpoint.ts writes it, so scripts/export-nuclear.ts --checkpoint OUT can
    # score this folder through the real pipeline and write the shipped model folder and card.
    state = {
        'epoch': len(epochs), 'step': step, 'bestScore': epochs[-1]['score'], 'bestEpoch': len(epochs),
        'seconds': round(seconds_before + train_seconds, 1), 'history': epochs,
        'meta': {
            'targetDiameterPx': diameter, 'batchSize': a.batch, 'crop': a.crop,
            'runtime': f'pytorch {torch.__version__} ({card["training"]["device"]}, amp {amp})',
            'data': a.data, 'lr': a.lr, 'warmupSteps': a.warmup, **({'ema': a.ema} if a.ema else {}),
            'selection': 'none (the last weights, or their moving average)',
            **({'from': {'dir': a.from_dir, 'training': from_card.get('training')}} if from_card else {}),
        },
    }
    nm._write_atomic(os.path.join(a.out, 'state.json'), (json.dumps(state, indent=1) + '\n').encode())
    log(f'wrote {a.out}/model.onnx ({nbytes} bytes), model.json + weights.bin, card.json; {steps_run} steps this run')
    # Check the written ONNX against torch on a real val tile (needs python onnxruntime; the TS test does it too).
    eval_model = NuclearUNet(cfg)
    load_numpy_state(eval_model, weights)
    tile, name = val_tile(os.path.join(a.data, 'val'), 128)
    diffs = check_onnx(torch, eval_model, os.path.join(a.out, 'model.onnx'), tile)
    if diffs is None:
        log('onnxruntime (python) not installed: model.onnx not checked here')
    else:
        log(f'model.onnx vs torch on {name} (128 px): max |diff| {json.dumps(diffs)}')
        if max(diffs.values()) > 1e-3:
            sys.exit('train_nuclear: model.onnx disagrees with torch by more than 1e-3')
    log(f'done in {time.time() - t_start:.1f} s')


def evaluate_with(torch, model, ema, val, device, multiple, fgbg):
    if ema is None:
        return evaluate(torch, model, val, device, multiple, fgbg)
    live = {k: v.detach().clone() for k, v in model.state_dict().items()}
    sd = model.state_dict()
    for k, v in ema.items():
        sd[k].copy_(v.to(sd[k].dtype))
    try:
        return evaluate(torch, model, val, device, multiple, fgbg)
    finally:
        model.load_state_dict(live)


def save_checkpoint(torch, path, model, ema, step, seconds, a):
    tmp = f'{path}.tmp-{os.getpid()}'
    torch.save({'model': {k: v.detach().cpu() for k, v in model.state_dict().items()},
                'ema': {k: v.cpu() for k, v in ema.items()} if ema is not None else None,
                'step': step, 'seconds': seconds, 'args': vars(a)}, tmp)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------ convert


def cmd_convert(a):
    """tfjs folder -> torch model -> model.onnx (+ model.json, weights.bin, card.json) in --out; with
    --check-image, also writes that image's normalized top-left tile and the torch outputs on it (for the TS
    test, which compares them with the original folder's model.onnx in onnxruntime-node)."""
    torch, NuclearUNet = torch_modules()
    card = read_card(a.from_dir)
    cfg = nm.resolve_config(card['network'])
    weights = nm.read_tfjs(a.from_dir, cfg)
    model = NuclearUNet(cfg)
    load_numpy_state(model, weights)
    model.eval()
    export_folder(a.out, state_to_numpy(model), cfg, card)
    report = {'params': nm.count_params(cfg)}
    if a.check_image:
        img = nd.percentile_normalize(nd.read_png(a.check_image))
        s = a.check_size
        tile = np.zeros((s, s), np.float32)
        h, w = min(s, img.shape[0]), min(s, img.shape[1])
        tile[:h, :w] = img[:h, :w]
        with torch.no_grad():
            outs = model.served(torch.from_numpy(tile)[None, :, :, None])
        tile.astype('<f4').tofile(os.path.join(a.out, 'check-input.f32'))
        for head, t in zip(nm.HEADS, outs):
            t.numpy().astype('<f4').tofile(os.path.join(a.out, f'check-{head}.f32'))
        report['check'] = {'image': a.check_image, 'size': s, 'channels': [int(t.shape[3]) for t in outs]}
    with open(os.path.join(a.out, 'convert.json'), 'w') as f:
        json.dump(report, f)
    log(f'converted {a.from_dir} -> {a.out} ({report["params"]} params)')


# ------------------------------------------------------------------------------------------- parity


def cmd_parity(a):
    """Writes what the TS test compares with workers/model (no torch): the first --limit val images at
    canonical scale, fixed crops of them (cropAndScale), a dihedral op of each crop, and the targets."""
    folder = a.data
    samples = nd.load_folder(folder, a.diameter, limit=a.limit)
    blobs = []
    offset = 0

    def put(arr, dtype):
        nonlocal offset
        b = np.ascontiguousarray(arr).astype(dtype).tobytes()
        blobs.append(b)
        rec = {'offset': offset, 'length': int(np.asarray(arr).size), 'dtype': dtype}
        offset += len(b)
        return rec

    out = {'diameter': a.diameter, 'edt': 'scipy' if nd._edt is not None else 'numpy',
           'png': os.environ.get('NUCLEAR_PNG', 'auto'), 'samples': []}
    for i, s in enumerate(samples):
        H, W = s['image'].shape
        # Centred near a nucleus (the middle id's centroid, off the pixel grid) so the crop holds objects.
        ids = np.unique(s['labels'][s['labels'] != 0])
        ys, xs = np.nonzero(s['labels'] == ids[ids.size // 2])
        spec = {'centerY': float(ys.mean()) + 0.8, 'centerX': float(xs.mean()) + 0.3,
                'scale': [1.37, 0.71, 2.2][i % 3], 'size': 72}
        img, lab = nd.crop_and_scale(s['image'], s['labels'], spec['centerY'], spec['centerX'], spec['scale'],
                                     spec['size'], spec['size'])
        op = (3 * i + 1) % 8
        dimg, dlab = nd.dihedral(img, op), nd.dihedral(lab, op)
        inner, outer, fg = nd.compute_targets(dlab)
        full_inner, full_outer, _ = nd.compute_targets(s['labels'])
        out['samples'].append({
            'name': s['name'], 'height': H, 'width': W, 'scale': s['scale'],
            'medianDiameter': s['median_diameter'],
            'image': put(s['image'], '<f4'), 'labels': put(s['labels'], '<u4'),
            'crop': spec, 'cropImage': put(img, '<f4'), 'cropLabels': put(lab, '<u4'),
            'op': op, 'dihedralImage': put(dimg, '<f4'), 'dihedralLabels': put(dlab, '<u4'),
            'inner': put(inner, '<f4'), 'outer': put(outer, '<f4'), 'fg': put(fg, '<u1'),
            'fullInner': put(full_inner, '<f4'), 'fullOuter': put(full_outer, '<f4'),
        })
    with open(a.out + '.bin', 'wb') as f:
        f.write(b''.join(blobs))
    with open(a.out, 'w') as f:
        json.dump(out, f)


# -------------------------------------------------------------------------------------------- main


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    t = sub.add_parser('train', help='train and export a model folder')
    t.add_argument('--data', default='../shared/data/nuclei', help='folder with train/ and val/ (NAME.image.png + NAME.labels.png)')
    t.add_argument('--out', required=True, help='output model folder (model.onnx, model.json, weights.bin, card.json, metrics.jsonl, checkpoint.pt)')
    t.add_argument('--minutes', type=float, default=None, help='wall-clock training budget; the cosine decay follows it')
    t.add_argument('--max-steps', type=int, default=None, help='stop after this many steps (also the cosine length without --minutes)')
    t.add_argument('--from', dest='from_dir', default=None, help='fine-tune a tfjs model folder (its card gives network and diameter)')
    t.add_argument('--network', default='{"baseFilters": 16, "depth": 4, "maxFilters": 256}', help='network config JSON when not --from')
    t.add_argument('--diameter', type=float, default=None, help='target nucleus diameter px (default: --from card, else 16)')
    t.add_argument('--batch', type=int, default=64)
    t.add_argument('--crop', type=int, default=128)
    t.add_argument('--lr', type=float, default=1e-3)
    t.add_argument('--warmup', type=int, default=200)
    t.add_argument('--final-lr', type=float, default=1e-5)
    t.add_argument('--ema', type=float, default=None, help='weight moving-average decay per step, e.g. 0.999')
    t.add_argument('--workers', type=int, default=max(0, (os.cpu_count() or 2) - 1), help='DataLoader worker processes')
    t.add_argument('--prefetch', type=int, default=4, help='batches each worker keeps ready')
    t.add_argument('--threads', type=int, default=0, help='torch intra-op threads (0: torch default)')
    t.add_argument('--limit', type=int, default=None, help='load only the first N train images (tests)')
    t.add_argument('--val-limit', type=int, default=None, help='val images to score (0: none)')
    t.add_argument('--val-every-s', type=float, default=120)
    t.add_argument('--save-every-s', type=float, default=120)
    t.add_argument('--log-every', type=int, default=50)
    t.add_argument('--seed', type=int, default=1)
    t.add_argument('--amp', choices=['auto', 'bf16', 'fp16', 'off'], default='auto')
    t.add_argument('--device', default=None)
    t.add_argument('--no-channels-last', action='store_true', help='keep NCHW memory layout on the GPU')
    t.add_argument('--resume', action='store_true', help='continue from OUT/checkpoint.pt (weights, EMA, step; fresh Adam)')
    t.add_argument('--name', default='nuclear')
    t.add_argument('--version', type=int, default=2)
    t.add_argument('--postprocess-from', default=None, help='copy card.postprocess from this model folder')
    c = sub.add_parser('convert', help='tfjs model folder -> torch -> model.onnx/model.json/weights.bin')
    c.add_argument('--from', dest='from_dir', required=True)
    c.add_argument('--out', required=True)
    c.add_argument('--check-image', default=None)
    c.add_argument('--check-size', type=int, default=128)
    q = sub.add_parser('parity', help='dump loader/crop/dihedral/targets results for the TS parity test')
    q.add_argument('--data', required=True, help='a folder of NAME.image.png + NAME.labels.png')
    q.add_argument('--out', required=True, help='FILE.json (+ FILE.json.bin)')
    q.add_argument('--limit', type=int, default=3)
    q.add_argument('--diameter', type=float, default=20)
    a = p.parse_args(argv)
    {'train': cmd_train, 'convert': cmd_convert, 'parity': cmd_parity}[a.cmd](a)


if __name__ == '__main__':
    main()
