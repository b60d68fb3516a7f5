"""
The nuclear network's weights outside TensorFlow.js: the served files written from numpy arrays, no torch,
onnx or protobuf package needed (scripts/gpu/train_nuclear.py uses these; so do its tests).

Weights are a dict name -> numpy float32 array in PyTorch's layout and naming: `enc0_conv0.weight`
[cout, cin, kh, kw], `enc0_conv0.bias`, `enc0_bn0.weight|bias|running_mean|running_var`, ... exactly the
state_dict of train_nuclear.NuclearUNet. Layer names are those of workers/model/network.ts.

- read_tfjs(dir)                 model.json + weights.bin (tfjs layers format) -> weights
- write_tfjs(dir, weights, cfg)  -> model.json (topology generated as network.ts builds it) + weights.bin
- onnx_bytes(weights, cfg)       -> model.onnx bytes with the served contract of workers/model/onnx-export.ts:
  one NHWC input `input` [N, H, W, C] (N, H, W dynamic) -> Transpose -> NCHW graph (BatchNorm folded into
  the preceding Conv in float64) -> outputs `inner`, `outer`, `fgbg`, each NHWC [N, H, W, k]; opset 13,
  IR version 7, written with a small protobuf encoder.
"""
import json
import math
import os
import struct

import numpy as np

HEADS = ('inner', 'outer', 'fgbg')


def resolve_config(cfg=None):
    """network.ts resolveNetworkConfig: defaults and ranges."""
    cfg = dict(cfg or {})
    c = {
        'channels': cfg.get('channels', 1),
        'baseFilters': cfg.get('baseFilters', 16),
        'depth': cfg.get('depth', 4),
        'maxFilters': cfg.get('maxFilters', 256),
        'convsPerLevel': cfg.get('convsPerLevel', 2),
        'fgbg': cfg.get('fgbg', 'softmax'),
        'bnMomentum': cfg.get('bnMomentum', 0.95),
        'namePrefix': cfg.get('namePrefix', ''),
    }
    for k, lo, hi in (('channels', 1, 16), ('baseFilters', 1, 512), ('depth', 1, 7),
                      ('maxFilters', c['baseFilters'], 2048), ('convsPerLevel', 1, 4)):
        v = c[k]
        if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
            raise ValueError(f"'{k}' must be an integer in [{lo}, {hi}]; got {v!r}")
    if c['fgbg'] not in ('softmax', 'sigmoid'):
        raise ValueError(f"'fgbg' must be 'softmax' or 'sigmoid'; got {c['fgbg']!r}")
    if not 0 < c['bnMomentum'] < 1:
        raise ValueError(f"'bnMomentum' must be in (0, 1); got {c['bnMomentum']!r}")
    if c['namePrefix'] != '':
        raise ValueError("'namePrefix' must be '' for the GPU trainer")
    return c


def filters_at(c, level):
    return min(c['baseFilters'] * 2 ** level, c['maxFilters'])


def layer_plan(cfg):
    """The network as a list of (kind, name, details) in build order, as network.ts buildNetwork."""
    c = resolve_config(cfg)
    plan = []
    prev = c['channels']

    def block(name, cin, cout):
        for j in range(c['convsPerLevel']):
            plan.append(('conv', f'{name}_conv{j}', dict(cin=cin if j == 0 else cout, cout=cout, k=3)))
            plan.append(('bn', f'{name}_bn{j}', dict(c=cout)))
            plan.append(('act', f'{name}_relu{j}', dict(fn='relu')))

    for level in range(c['depth']):
        block(f'enc{level}', prev, filters_at(c, level))
        prev = filters_at(c, level)
        plan.append(('pool', f'pool{level}', {}))
    block('bottom', prev, filters_at(c, c['depth']))
    prev = filters_at(c, c['depth'])
    for level in range(c['depth'] - 1, -1, -1):
        plan.append(('up', f'up{level}', {}))
        plan.append(('cat', f'cat{level}', dict(skip=f"enc{level}_relu{c['convsPerLevel'] - 1}")))
        block(f'dec{level}', prev + filters_at(c, level), filters_at(c, level))
        prev = filters_at(c, level)
    for head in HEADS:
        out = 2 if head == 'fgbg' and c['fgbg'] == 'softmax' else 1
        fn = 'linear' if head != 'fgbg' else c['fgbg']
        plan.append(('conv', f'{head}_head_conv', dict(cin=prev, cout=c['baseFilters'], k=3, head=head)))
        plan.append(('act', f'{head}_head_relu', dict(fn='relu', head=head)))
        plan.append(('conv', f'{head}_logits', dict(cin=c['baseFilters'], cout=out, k=1, head=head)))
        plan.append(('act', head, dict(fn=fn, head=head)))
    return plan


def weight_shapes(cfg):
    """name -> shape of every entry of the weights dict (torch layout), in tfjs manifest order."""
    trainable, stats = [], []
    for kind, name, d in layer_plan(cfg):
        if kind == 'conv':
            trainable += [(f'{name}.weight', (d['cout'], d['cin'], d['k'], d['k'])), (f'{name}.bias', (d['cout'],))]
        elif kind == 'bn':
            trainable += [(f'{name}.weight', (d['c'],)), (f'{name}.bias', (d['c'],))]
            stats += [(f'{name}.running_mean', (d['c'],)), (f'{name}.running_var', (d['c'],))]
    return trainable + stats


def count_params(cfg):
    return int(sum(int(np.prod(s)) for _, s in weight_shapes(cfg)))


# ------------------------------------------------------------------------------------- tfjs format

_TO_TFJS = {'weight': None, 'bias': 'bias', 'running_mean': 'moving_mean', 'running_var': 'moving_variance'}


def _tfjs_name(torch_name, is_bn):
    layer, field = torch_name.rsplit('.', 1)
    if field == 'weight':
        return f'{layer}/{"gamma" if is_bn else "kernel"}'
    if field == 'bias':
        return f'{layer}/{"beta" if is_bn else "bias"}'
    return f'{layer}/{_TO_TFJS[field]}'


def _bn_layers(cfg):
    return {name for kind, name, _ in layer_plan(cfg) if kind == 'bn'}


def read_tfjs(model_dir, cfg):
    """Weights (torch layout) from a tfjs model folder whose network is `cfg`. Raises ValueError naming the
    first missing or mis-shaped weight."""
    with open(os.path.join(model_dir, 'model.json')) as f:
        mj = json.load(f)
    specs = [w for group in mj['weightsManifest'] for w in group['weights']]
    paths = [p for group in mj['weightsManifest'] for p in group['paths']]
    buf = b''.join(open(os.path.join(model_dir, p), 'rb').read() for p in paths)
    arrays = {}
    off = 0
    for s in specs:
        if s.get('dtype', 'float32') != 'float32':
            raise ValueError(f"{model_dir}: weight {s['name']} is {s['dtype']}; only float32 is supported")
        n = int(np.prod(s['shape'])) if s['shape'] else 1
        arrays[s['name']] = np.frombuffer(buf, '<f4', n, off).reshape(s['shape'])
        off += 4 * n
    if off != len(buf):
        raise ValueError(f'{model_dir}: weights hold {len(buf)} bytes; the manifest needs {off}')
    bn = _bn_layers(cfg)
    out = {}
    for name, shape in weight_shapes(cfg):
        layer = name.rsplit('.', 1)[0]
        key = _tfjs_name(name, layer in bn)
        if key not in arrays:
            raise ValueError(f'{model_dir}: no weight {key} (needed for {name}); is card.network the same?')
        a = arrays[key]
        if a.ndim == 4:  # tfjs kernel [kh, kw, cin, cout] -> torch [cout, cin, kh, kw]
            a = a.transpose(3, 2, 0, 1)
        if tuple(a.shape) != tuple(shape):
            raise ValueError(f'{model_dir}: {key} has shape {list(a.shape)}; {name} needs {list(shape)}')
        out[name] = np.ascontiguousarray(a, np.float32)
    return out


def _keras_layer(class_name, name, config, inbound):
    return {
        'name': name,
        'class_name': class_name,
        'config': {**config, 'name': name, 'trainable': True},
        'inbound_nodes': [[[i, 0, 0, {}] for i in inbound]] if inbound else [],
    }


def tfjs_topology(cfg):
    """The Keras topology (model.json modelTopology) of network.ts buildNetwork(cfg)."""
    c = resolve_config(cfg)
    layers = [{
        'name': 'image',
        'class_name': 'InputLayer',
        'config': {'batch_input_shape': [None, None, None, c['channels']], 'dtype': 'float32', 'sparse': False,
                   'name': 'image'},
        'inbound_nodes': [],
    }]
    last = 'image'
    trunk = 'image'  # output of the shared trunk, where the heads start
    for kind, name, d in layer_plan(cfg):
        src = trunk if d.get('head') and name.endswith('_head_conv') else last
        if kind == 'conv':
            conf = {
                'filters': d['cout'],
                'kernel_initializer': {'class_name': 'VarianceScaling',
                                       'config': {'scale': 1, 'mode': 'fan_avg', 'distribution': 'normal',
                                                  'seed': None}},
                'kernel_regularizer': None, 'kernel_constraint': None,
                'kernel_size': [d['k'], d['k']], 'strides': [1, 1], 'padding': 'same',
                'data_format': 'channels_last', 'dilation_rate': [1, 1], 'activation': 'linear',
                'use_bias': True, 'bias_initializer': {'class_name': 'Zeros', 'config': {}},
                'bias_regularizer': None, 'activity_regularizer': None, 'bias_constraint': None,
            }
            layers.append(_keras_layer('Conv2D', name, conf, [src]))
        elif kind == 'bn':
            conf = {
                'axis': -1, 'momentum': c['bnMomentum'], 'epsilon': 0.001, 'center': True, 'scale': True,
                'beta_initializer': {'class_name': 'Zeros', 'config': {}},
                'gamma_initializer': {'class_name': 'Ones', 'config': {}},
                'moving_mean_initializer': {'class_name': 'Zeros', 'config': {}},
                'moving_variance_initializer': {'class_name': 'Ones', 'config': {}},
                'beta_regularizer': None, 'gamma_regularizer': None, 'beta_constraint': None,
                'gamma_constraint': None,
            }
            layers.append(_keras_layer('BatchNormalization', name, conf, [src]))
        elif kind == 'act':
            layers.append(_keras_layer('Activation', name, {'activation': d['fn']}, [src]))
        elif kind == 'pool':
            layers.append(_keras_layer('MaxPooling2D', name, {'pool_size': [2, 2], 'padding': 'valid',
                                                              'strides': [2, 2], 'data_format': 'channels_last'},
                                       [src]))
        elif kind == 'up':
            layers.append(_keras_layer('UpSampling2D', name, {'size': [2, 2], 'data_format': 'channels_last',
                                                              'interpolation': 'nearest'}, [src]))
        elif kind == 'cat':
            layers.append(_keras_layer('Concatenate', name, {'axis': -1}, [src, d['skip']]))
        last = name
        if not d.get('head'):
            trunk = name
    return {
        'class_name': 'Model',
        'config': {'name': 'nuclear_unet', 'layers': layers, 'input_layers': [['image', 0, 0]],
                   'output_layers': [[h, 0, 0] for h in HEADS]},
        'keras_version': 'tfjs-layers 4.22.0',
        'backend': 'tensor_flow.js',
    }


def write_tfjs(model_dir, weights, cfg):
    """model.json (generated topology) + weights.bin, loadable by workers/model/model-io.ts loadModel."""
    os.makedirs(model_dir, exist_ok=True)
    bn = _bn_layers(cfg)
    specs = []
    chunks = []
    for name, shape in weight_shapes(cfg):
        a = np.asarray(weights[name], np.float32)
        if tuple(a.shape) != tuple(shape):
            raise ValueError(f'{name} has shape {list(a.shape)}; expected {list(shape)}')
        if a.ndim == 4:
            a = a.transpose(2, 3, 1, 0)  # torch [cout, cin, kh, kw] -> tfjs [kh, kw, cin, cout]
        specs.append({'name': _tfjs_name(name, name.rsplit('.', 1)[0] in bn), 'shape': list(a.shape),
                      'dtype': 'float32'})
        chunks.append(np.ascontiguousarray(a).astype('<f4').tobytes())
    model_json = {
        'modelTopology': tfjs_topology(cfg),
        'format': 'layers-model',
        'generatedBy': 'scripts/gpu/nuclear_model.py',
        'convertedBy': None,
        'weightsManifest': [{'paths': ['./weights.bin'], 'weights': specs}],
    }
    _write_atomic(os.path.join(model_dir, 'weights.bin'), b''.join(chunks))
    _write_atomic(os.path.join(model_dir, 'model.json'), json.dumps(model_json).encode())


def _write_atomic(path, data):
    tmp = f'{path}.tmp-{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


# -------------------------------------------------------------------------------------- ONNX writer


def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _f_int(field, v):
    return _varint(field << 3) + _varint(v)


def _f_bytes(field, b):
    return _varint(field << 3 | 2) + _varint(len(b)) + b


def _f_str(field, s):
    return _f_bytes(field, s.encode())


def _f_float(field, v):
    return _varint(field << 3 | 5) + struct.pack('<f', v)


_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_INTS = 1, 2, 3, 7


def _attr(name, value):
    """AttributeProto: name=1, f=2, i=3, s=4, ints=8, type=20."""
    if isinstance(value, float):
        return _f_str(1, name) + _f_float(2, value) + _f_int(20, _ATTR_FLOAT)
    if isinstance(value, int):
        return _f_str(1, name) + _f_int(3, value) + _f_int(20, _ATTR_INT)
    if isinstance(value, str):
        return _f_str(1, name) + _f_bytes(4, value.encode()) + _f_int(20, _ATTR_STRING)
    return _f_str(1, name) + b''.join(_f_int(8, int(v)) for v in value) + _f_int(20, _ATTR_INTS)


def _node(op, inputs, outputs, name, attrs=()):
    """NodeProto: input=1, output=2, name=3, op_type=4, attribute=5."""
    return (b''.join(_f_str(1, i) for i in inputs) + b''.join(_f_str(2, o) for o in outputs)
            + _f_str(3, name) + _f_str(4, op) + b''.join(_f_bytes(5, _attr(k, v)) for k, v in attrs))


def _tensor(name, array):
    """TensorProto: dims=1, data_type=2 (FLOAT=1), name=8, raw_data=9."""
    a = np.ascontiguousarray(array, '<f4')
    return b''.join(_f_int(1, d) for d in a.shape) + _f_int(2, 1) + _f_str(8, name) + _f_bytes(9, a.tobytes())


def _value_info(name, dims):
    """ValueInfoProto{name=1, type=2{tensor_type=1{elem_type=1, shape=2{dim=1{dim_value=1|dim_param=2}}}}}."""
    shape = b''.join(_f_bytes(1, _f_int(1, d) if isinstance(d, int) else _f_str(2, d)) for d in dims)
    tensor_type = _f_int(1, 1) + _f_bytes(2, shape)
    return _f_str(1, name) + _f_bytes(2, _f_bytes(1, tensor_type))


def onnx_bytes(weights, cfg, eps=1e-3, doc='Written by scripts/gpu/nuclear_model.py; input and outputs are NHWC float32.'):
    c = resolve_config(cfg)
    nodes = []
    inits = []
    plan = layer_plan(cfg)
    value = {'image': 'input_nchw'}
    nodes.append(_node('Transpose', ['input'], ['input_nchw'], 'input/to_nchw', [('perm', [0, 3, 1, 2])]))
    last = 'image'
    trunk = 'image'
    i = 0
    while i < len(plan):
        kind, name, d = plan[i]
        src = trunk if d.get('head') and name.endswith('_head_conv') else last
        x = value[src]
        if kind == 'conv':
            w = np.asarray(weights[f'{name}.weight'], np.float64)
            b = np.asarray(weights[f'{name}.bias'], np.float64)
            out_name = name
            if i + 1 < len(plan) and plan[i + 1][0] == 'bn':
                bn = plan[i + 1][1]
                gamma = np.asarray(weights[f'{bn}.weight'], np.float64)
                beta = np.asarray(weights[f'{bn}.bias'], np.float64)
                mean = np.asarray(weights[f'{bn}.running_mean'], np.float64)
                var = np.asarray(weights[f'{bn}.running_var'], np.float64)
                scale = gamma / np.sqrt(var + eps)
                w = w * scale[:, None, None, None]
                b = b * scale + beta - mean * scale
                value[name] = out_name
                i += 1
                name = bn  # the folded BatchNorm's output is this conv's output
            inits += [_tensor(f'{out_name}/W', w), _tensor(f'{out_name}/B', b)]
            k = d['k']
            pad = (k - 1) // 2
            nodes.append(_node('Conv', [x, f'{out_name}/W', f'{out_name}/B'], [out_name], f'{out_name}/Conv',
                               [('kernel_shape', [k, k]), ('strides', [1, 1]), ('dilations', [1, 1]),
                                ('pads', [pad, pad, k - 1 - pad, k - 1 - pad])]))
            value[name] = out_name
        elif kind == 'act':
            op = {'relu': 'Relu', 'sigmoid': 'Sigmoid', 'softmax': 'Softmax', 'linear': 'Identity'}[d['fn']]
            out_name = f'{name}_nchw' if name in HEADS else name
            nodes.append(_node(op, [x], [out_name], f'{name}/{op}', [('axis', 1)] if op == 'Softmax' else []))
            value[name] = out_name
        elif kind == 'pool':
            nodes.append(_node('MaxPool', [x], [name], f'{name}/MaxPool',
                               [('kernel_shape', [2, 2]), ('strides', [2, 2])]))
            value[name] = name
        elif kind == 'up':
            inits.append(_tensor(f'{name}/scales', np.array([1, 1, 2, 2], np.float32)))
            nodes.append(_node('Resize', [x, '', f'{name}/scales'], [name], f'{name}/Resize',
                               [('mode', 'nearest'), ('coordinate_transformation_mode', 'asymmetric'),
                                ('nearest_mode', 'floor')]))
            value[name] = name
        elif kind == 'cat':
            nodes.append(_node('Concat', [x, value[d['skip']]], [name], f'{name}/Concat', [('axis', 1)]))
            value[name] = name
        last = name
        if not d.get('head'):
            trunk = name
        i += 1
    out_channels = {'inner': 1, 'outer': 1, 'fgbg': 2 if c['fgbg'] == 'softmax' else 1}
    for h in HEADS:
        nodes.append(_node('Transpose', [value[h]], [h], f'{h}/to_nhwc', [('perm', [0, 2, 3, 1])]))
    graph = (b''.join(_f_bytes(1, n) for n in nodes) + _f_str(2, 'nuclear_unet')
             + b''.join(_f_bytes(5, t) for t in inits)
             + _f_bytes(11, _value_info('input', ['N', 'H', 'W', c['channels']]))
             + b''.join(_f_bytes(12, _value_info(h, ['N', 'H', 'W', out_channels[h]])) for h in HEADS))
    opset = _f_str(1, '') + _f_int(2, 13)
    return (_f_int(1, 7) + _f_str(2, 'cellkiosk scripts/gpu') + _f_str(6, doc) + _f_bytes(7, graph)
            + _f_bytes(8, opset))


def served_forward_numpy_check(weights):
    """Sanity: every weight finite (a NaN would make a broken model silently)."""
    bad = [k for k, v in weights.items() if not np.all(np.isfinite(v))]
    if bad:
        raise ValueError(f'non-finite weights: {bad[:5]}')


def mpp_for(target_diameter_px, typical_um=9):
    return float(f'{typical_um / target_diameter_px:.4f}')


def nuclear_card(name, version, cfg, target_diameter_px, **rest):
    """model-card.ts nuclearCard: the fields model-io.ts readModelCard checks, plus extras."""
    c = resolve_config(cfg)
    return {
        'name': name,
        'version': version,
        'task': 'nuclear-segmentation',
        'input': {
            'channels': c['channels'],
            'normalization': {'method': 'percentile', 'low': 1, 'high': 99.8},
            'targetDiameterPx': target_diameter_px,
            'mpp': mpp_for(target_diameter_px),
            'typicalNucleusDiameterUm': 9,
            'sizeMultiple': 2 ** c['depth'],
        },
        'outputs': list(HEADS),
        'network': c,
        'params': count_params(cfg),
        **rest,
    }


