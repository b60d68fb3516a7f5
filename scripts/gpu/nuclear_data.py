"""
Data side of the GPU trainer (scripts/gpu/train_nuclear.py), in numpy only (no torch, scipy, skimage or
PIL needed; PIL is used for PNG decoding when it is importable, a pure zlib reader otherwise). Each function
mirrors the TypeScript code the product trains with, and says which:

- read_png              workers/image/png.ts (8/16-bit grey or RGB(A), channel 0)
- percentile_normalize  workers/image/normalize.ts percentileNormalize (numpy 'linear' percentiles 1/99.8,
                        not clipped; min-max when p_high == p_low; a constant image -> zeros)
- resize_bilinear       workers/image/resize.ts resizeBilinear (bilinear, area average along an axis shrunk
                        more than 2x); resize_nearest = resizeNearest
- median_diameter, load_folder   workers/model/dataset.ts medianDiameter / loadNucleiFolder (canonical scale)
- crop_and_scale, dihedral, simulate_camera, augment_intensity   workers/model/augment.ts
- compute_targets       workers/model/targets.ts (exact Euclidean distances, DeepCell inner/outer distance)
- CropSampler           workers/model/dataset.ts CropSampler (size-class weights, scale jitter with a wide
                        range 30% of the time, 4 tries to hit a nucleus, margin 16 px for the targets)

Random numbers come from numpy's Generator, so crops are not bit-identical to the TypeScript trainer's
(Mulberry32); the distributions and the order of operations are the same.
"""
import math
import os
import struct
import zlib

import numpy as np

# ------------------------------------------------------------------------------------------------ PNG


def _paeth_row(r, prev, bpp):
    cur = bytearray(len(r))
    for i in range(len(r)):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa = abs(p - a)
        pb = abs(p - b)
        pc = abs(p - c)
        if pa <= pb and pa <= pc:
            pred = a
        elif pb <= pc:
            pred = b
        else:
            pred = c
        cur[i] = (r[i] + pred) & 0xFF
    return cur


def _average_row(r, prev, bpp):
    cur = bytearray(len(r))
    for i in range(len(r)):
        a = cur[i - bpp] if i >= bpp else 0
        cur[i] = (r[i] + ((a + prev[i]) >> 1)) & 0xFF
    return cur


def read_png_pure(path):
    """Decodes a non-interlaced 8/16-bit PNG of colour type 0, 2, 4 or 6 with zlib and numpy; returns
    channel 0 as a [H, W] uint8 or uint16 array. Raises ValueError for anything else."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError(f'{path}: not a PNG file')
    pos = 8
    ihdr = None
    idat = []
    while pos + 8 <= len(data):
        (n,) = struct.unpack('>I', data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        pos += 12 + n
        if kind == b'IHDR':
            ihdr = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat.append(body)
        elif kind == b'IEND':
            break
    if ihdr is None:
        raise ValueError(f'{path}: no IHDR chunk')
    w, h, depth, ctype, _, _, interlace = ihdr
    if interlace != 0 or depth not in (8, 16) or ctype not in (0, 2, 4, 6):
        raise ValueError(
            f'{path}: only non-interlaced 8/16-bit grey/RGB(A) PNGs are supported '
            f'(bit depth {depth}, colour type {ctype}, interlace {interlace})'
        )
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    bpp = channels * depth // 8
    stride = w * bpp
    raw = np.frombuffer(zlib.decompress(b''.join(idat)), np.uint8)
    if raw.size < h * (stride + 1):
        raise ValueError(f'{path}: image data is truncated')
    raw = raw[: h * (stride + 1)].reshape(h, stride + 1)
    out = np.empty((h, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(h):
        f = int(raw[y, 0])
        r = raw[y, 1:]
        if f == 0:
            cur = r
        elif f == 1:  # Sub: running sum along each byte lane
            cur = (np.cumsum(r.reshape(w, bpp).astype(np.uint32), axis=0) & 0xFF).astype(np.uint8).reshape(-1)
        elif f == 2:  # Up
            cur = ((r.astype(np.uint16) + prev) & 0xFF).astype(np.uint8)
        elif f == 3:
            cur = np.frombuffer(bytes(_average_row(r.tobytes(), prev.tobytes(), bpp)), np.uint8)
        elif f == 4:
            cur = np.frombuffer(bytes(_paeth_row(r.tobytes(), prev.tobytes(), bpp)), np.uint8)
        else:
            raise ValueError(f'{path}: bad filter type {f} in row {y}')
        out[y] = cur
        prev = out[y]
    if depth == 8:
        return out.reshape(h, w, channels)[:, :, 0].copy()
    px = out.reshape(h, w, channels, 2).astype(np.uint16)
    return ((px[:, :, 0, 0] << 8) | px[:, :, 0, 1]).astype(np.uint16)


def read_png(path, pure=None):
    """Channel 0 of a PNG as [H, W] (uint8/uint16 values). PIL when importable (fast), else the pure reader;
    pure=True forces the pure reader (tests), also via NUCLEAR_PNG=pure."""
    if pure is None:
        pure = os.environ.get('NUCLEAR_PNG') == 'pure'
    if not pure:
        try:
            from PIL import Image  # type: ignore
        except ImportError:
            Image = None
        if Image is not None:
            with Image.open(path) as im:
                a = np.array(im)
            if a.ndim == 3:
                a = a[:, :, 0]
            return a
    return read_png_pure(path)


# ------------------------------------------------------------------------------------- normalization


def percentile_normalize(img, low=1.0, high=99.8):
    v = img.astype(np.float64)
    lo, hi = np.percentile(v, [low, high])
    if hi == lo:
        lo, hi = v.min(), v.max()
    if hi == lo:
        return np.zeros(img.shape, np.float32)
    return ((v - lo) / (hi - lo)).astype(np.float32)


def js_round(x):
    """JavaScript's Math.round (half up), not Python's round (half to even)."""
    return int(math.floor(x + 0.5))


# -------------------------------------------------------------------------------------------- resize


def _axis_matrix(n, m):
    """[m, n] resampling matrix of one axis, as workers/image/resize.ts axisWeights."""
    scale = n / m
    mat = np.zeros((m, n), np.float64)
    if scale > 2:
        for o in range(m):
            lo = o * n / m
            hi = (o + 1) * n / m
            for i in range(int(math.floor(lo)), min(n, int(math.ceil(hi)) + 1)):
                covered = min(hi, i + 1) - max(lo, i)
                if covered > 0:
                    mat[o, i] = covered / scale
    else:
        for o in range(m):
            c = min(n - 1, max(0.0, (o + 0.5) * scale - 0.5))
            i0 = min(int(math.floor(c)), max(0, n - 2))
            f = c - i0
            mat[o, i0] += 1 - f
            if n > 1:
                mat[o, i0 + 1] += f
    return mat


def resize_bilinear(img, h, w):
    H, W = img.shape
    if (H, W) == (h, w):
        return img.copy()
    out = _axis_matrix(H, h) @ img.astype(np.float64) @ _axis_matrix(W, w).T
    return out.astype(np.float32)


def _nearest_index(n, m):
    o = np.arange(m, dtype=np.int64)
    return np.minimum(n - 1, ((2 * o + 1) * n) // (2 * m))


def resize_nearest(labels, h, w):
    H, W = labels.shape
    return labels[_nearest_index(H, h)[:, None], _nearest_index(W, w)[None, :]]


# ------------------------------------------------------------------------------------------- dataset


def median_diameter(labels):
    ids, counts = np.unique(labels[labels != 0], return_counts=True)
    if ids.size == 0:
        return 0.0
    d = np.sort(2 * np.sqrt(counts / math.pi))
    mid = d.size >> 1
    return float(d[mid]) if d.size % 2 else float((d[mid - 1] + d[mid]) / 2)


IMAGE_SUFFIX = '.image.png'


def list_pairs(folder, limit=None):
    names = sorted(f[: -len(IMAGE_SUFFIX)] for f in os.listdir(folder) if f.endswith(IMAGE_SUFFIX))
    if not names:
        raise ValueError(f'{folder} holds no NAME{IMAGE_SUFFIX} files')
    return names if limit is None else names[:limit]


def load_sample(folder, name, target_diameter, keep_original=False):
    """One pair at canonical scale, as loadNucleiFolder: normalize, then resize by target / median diameter."""
    raw = read_png(os.path.join(folder, name + IMAGE_SUFFIX))
    lab_path = os.path.join(folder, name + '.labels.png')
    if not os.path.exists(lab_path):
        raise ValueError(f'{os.path.join(folder, name + IMAGE_SUFFIX)} has no {name}.labels.png beside it')
    labels = read_png(lab_path).astype(np.int32)
    if labels.shape != raw.shape:
        raise ValueError(f'{name}: image is {raw.shape} but labels are {labels.shape}')
    image = percentile_normalize(raw)
    d = median_diameter(labels)
    scale = target_diameter / d if d > 0 else 1.0
    H, W = image.shape
    h = max(1, js_round(H * scale))
    w = max(1, js_round(W * scale))
    if scale == 1:
        img_s, lab_s = image, labels
    else:
        img_s, lab_s = resize_bilinear(image, h, w), resize_nearest(labels, h, w)
    sample = {
        'name': name,
        'size_class': f'{H}x{W}',
        'median_diameter': d,
        'scale': scale,
        'image': img_s,
        'labels': lab_s,
    }
    if keep_original:
        sample['original'] = (image, labels)
    return sample


def _load_one(args):
    return load_sample(*args)


def load_folder(folder, target_diameter, limit=None, keep_original=False, processes=1):
    names = list_pairs(folder, limit)
    jobs = [(folder, n, target_diameter, keep_original) for n in names]
    if processes > 1 and len(jobs) > 8:
        import multiprocessing as mp

        with mp.get_context('fork').Pool(processes) as pool:
            return pool.map(_load_one, jobs, chunksize=4)
    return [_load_one(j) for j in jobs]


# ---------------------------------------------------------------------------------------- augmentation


def log_uniform(rng, lo, hi):
    return math.exp(math.log(lo) + rng.random() * (math.log(hi) - math.log(lo)))


def _bilinear_matrix(center, scale, size, n):
    """[size, n] weights of one axis: output o samples the source at center + (o + 0.5 - size/2) / scale,
    bilinear between pixel centres, weight 0 for taps outside [0, n) (zero padding)."""
    s = center + (np.arange(size) + 0.5 - size / 2) / scale
    f = s - 0.5
    i0 = np.floor(f).astype(np.int64)
    t = f - i0
    mat = np.zeros((size, n), np.float64)
    rows = np.arange(size)
    for tap, wgt in ((i0, 1 - t), (i0 + 1, t)):
        ok = (tap >= 0) & (tap < n)
        mat[rows[ok], tap[ok]] += wgt[ok]
    return mat, np.floor(s).astype(np.int64)


def crop_and_scale(image, labels, center_y, center_x, scale, oh, ow):
    """Window + rescale in one step: output (oy, ox) samples the source at centre + (o + 0.5 - size/2) / scale;
    bilinear image, nearest labels, zeros outside (augment.ts cropAndScale). Separable: Ay @ window @ Ax^T."""
    H, W = image.shape
    ay, ny = _bilinear_matrix(center_y, scale, oh, H)
    ax, nx = _bilinear_matrix(center_x, scale, ow, W)
    ry = np.flatnonzero(ay.any(axis=0))
    rx = np.flatnonzero(ax.any(axis=0))
    out = np.zeros((oh, ow), np.float32)
    if ry.size and rx.size:
        y0, y1, x0, x1 = ry[0], ry[-1] + 1, rx[0], rx[-1] + 1
        out = ay[:, y0:y1].astype(np.float32) @ image[y0:y1, x0:x1] @ ax[:, x0:x1].T.astype(np.float32)
    vy = (ny >= 0) & (ny < H)
    vx = (nx >= 0) & (nx < W)
    lab = labels[np.clip(ny, 0, H - 1)[:, None], np.clip(nx, 0, W - 1)[None, :]]
    lab = np.where(vy[:, None] & vx[None, :], lab, 0)
    return out.astype(np.float32), lab


def dihedral(a, op):
    """op = k + 4 * flip: k counter-clockwise quarter turns, then a left-right flip (augment.ts dihedral)."""
    out = np.rot90(a, op % 4)
    if op >= 4:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def simulate_camera(x, rng):
    signal = log_uniform(rng, 15, 3000)
    offset = 90 + rng.random() * 1010
    read_noise = 1 + rng.random() * 5
    expected = np.maximum(0, x.astype(np.float64)) * signal
    noisy = (
        offset
        + expected
        + np.sqrt(expected) * rng.standard_normal(x.shape)
        + read_noise * rng.standard_normal(x.shape)
    )
    counts = np.clip(np.floor(noisy + 0.5), 0, 65535)
    return ((counts - offset) / signal).astype(np.float32)


def augment_intensity(x, rng, camera_probability=0.35, gamma=(0.6, 1.6), contrast=(0.75, 1.33),
                      offset=(-0.08, 0.08), noise=0.05):
    if rng.random() < camera_probability:
        return simulate_camera(x, rng)
    g = log_uniform(rng, *gamma)
    a = log_uniform(rng, *contrast)
    b = offset[0] + rng.random() * (offset[1] - offset[0])
    sigma = rng.random() * noise
    out = a * np.power(np.maximum(0, x.astype(np.float64)), g) + b
    if sigma > 0:
        out = out + sigma * rng.standard_normal(x.shape)
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------- targets


def _edt_backend():
    """scipy's exact EDT when importable (C speed) unless NUCLEAR_EDT=numpy; else None (numpy rim search)."""
    if os.environ.get('NUCLEAR_EDT') == 'numpy':
        return None
    try:
        from scipy.ndimage import distance_transform_edt  # type: ignore
    except ImportError:
        return None
    return distance_transform_edt


_edt = _edt_backend()


def _rim_distances2(m, iy, ix):
    """Squared distance of each object pixel (iy, ix) of the padded box mask m to the nearest pixel not in m.
    That pixel always has a 4-neighbour in m (else a neighbour of it nearer to the point would be outside
    m too), so the outer rim is the only candidate set: exact, O(area x rim)."""
    nb = np.zeros_like(m)
    nb[1:, :] |= m[:-1, :]
    nb[:-1, :] |= m[1:, :]
    nb[:, 1:] |= m[:, :-1]
    nb[:, :-1] |= m[:, 1:]
    cy, cx = np.nonzero(nb & ~m)
    py = iy.astype(np.float64)
    px = ix.astype(np.float64)
    cyf = cy.astype(np.float64)
    cxf = cx.astype(np.float64)
    d2 = np.empty(py.size)
    step = max(1, 4_000_000 // max(1, cyf.size))
    for s in range(0, py.size, step):
        dy = py[s : s + step, None] - cyf[None, :]
        dx = px[s : s + step, None] - cxf[None, :]
        d2[s : s + step] = (dy * dy + dx * dx).min(axis=1)
    return d2


def compute_targets(labels, alpha='auto', beta=1.0):
    """Inner distance, outer distance (float32) and foreground (uint8) of a label image [H, W]; the exact
    Euclidean distance of each pixel to the nearest pixel not of its object (outside the array counts as not),
    as workers/model/targets.ts: per object, in its bounding box padded by one pixel of "not this object",
    with scipy's exact EDT or, without scipy (or NUCLEAR_EDT=numpy), an exact search over the object's rim."""
    H, W = labels.shape
    inner = np.zeros((H, W), np.float32)
    outer = np.zeros((H, W), np.float32)
    fg = (labels != 0).astype(np.uint8)
    flat = labels.reshape(-1)
    idx = np.flatnonzero(flat)
    if idx.size == 0:
        return inner, outer, fg
    order = np.argsort(flat[idx], kind='stable')
    idx = idx[order]
    ids, starts = np.unique(flat[idx], return_index=True)
    ends = np.append(starts[1:], idx.size)
    for k in range(ids.size):
        pix = idx[starts[k] : ends[k]]
        ys = pix // W
        xs = pix - ys * W
        y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
        bh, bw = y1 - y0 + 1, x1 - x0 + 1
        m = np.zeros((bh + 2, bw + 2), bool)  # box padded by one: the pad is "not this object"
        m[ys - y0 + 1, xs - x0 + 1] = True
        iy = ys - y0 + 1
        ix = xs - x0 + 1
        if _edt is not None:
            d = _edt(m)[iy, ix]
        else:
            d = np.sqrt(_rim_distances2(m, iy, ix))
        py = iy.astype(np.float64)
        px = ix.astype(np.float64)
        max_d = d.max()
        sum_d = d.sum()
        gy = (d * py).sum() / sum_d
        gx = (d * px).sum() / sum_d
        a = 1 / math.sqrt(pix.size) if alpha == 'auto' else alpha
        r2 = (py - gy) ** 2 + (px - gx) ** 2
        outer[ys, xs] = d / max_d
        inner[ys, xs] = 1 / (1 + beta * a * r2)
    return inner, outer, fg


# --------------------------------------------------------------------------------------------- sampler


class CropSampler:
    """Augmented training crops (dataset.ts CropSampler). sample_one(rng) -> (x, inner, outer, fg), each
    [S, S] (x, inner, outer float32; fg uint8)."""

    def __init__(self, samples, crop_size=128, scale_jitter=(0.67, 1.5), wide=(0.3, (0.4, 3.0)), margin=16):
        if not samples:
            raise ValueError('CropSampler needs at least one sample')
        self.samples = samples
        self.crop = crop_size
        self.jitter = scale_jitter
        self.wide = wide
        self.margin = margin
        per_class = {}
        for s in samples:
            per_class[s['size_class']] = per_class.get(s['size_class'], 0) + 1
        w = []
        for s in samples:
            h, ww = s['image'].shape
            area = min(3.0, max(0.5, math.sqrt(h * ww / 65536)))
            w.append(area / math.sqrt(per_class[s['size_class']]))
        cum = np.cumsum(np.array(w, np.float64))
        self.cum = cum / cum[-1]

    def pick(self, u):
        return self.samples[min(int(np.searchsorted(self.cum, u, side='left')), len(self.samples) - 1)]

    def sample_one(self, rng):
        s = self.pick(rng.random())
        rng_range = self.wide[1] if rng.random() < self.wide[0] else self.jitter
        scale = log_uniform(rng, rng_range[0], rng_range[1])
        S = self.crop
        R = S + 2 * self.margin
        H, W = s['image'].shape
        img = lab = None
        for _ in range(4):
            half = S / 2 / scale
            span_y = max(0.0, H - 2 * half)
            span_x = max(0.0, W - 2 * half)
            cy = half + rng.random() * span_y if span_y > 0 else H / 2
            cx = half + rng.random() * span_x if span_x > 0 else W / 2
            img, lab = crop_and_scale(s['image'], s['labels'], cy, cx, scale, R, R)
            if lab.any():
                break
        op = int(math.floor(rng.random() * 8))
        img = dihedral(img, op)
        lab = dihedral(lab, op)
        inner, outer, fg = compute_targets(lab)
        img = augment_intensity(img, rng)
        m = self.margin
        cut = (slice(m, m + S), slice(m, m + S))
        return img[cut], inner[cut], outer[cut], fg[cut]

    def batch(self, size, rng):
        S = self.crop
        x = np.empty((size, S, S), np.float32)
        inner = np.empty_like(x)
        outer = np.empty_like(x)
        fg = np.empty_like(x)
        for b in range(size):
            x[b], inner[b], outer[b], fg[b] = self.sample_one(rng)
        return x, inner, outer, fg
