/**
 * `DepthwiseConv2dNativeBackpropFilter` and `DepthwiseConv2dNativeBackpropInput` for the wasm backend (it has
 * neither), each ONE wasm (XNNPACK) DepthwiseConv2dNative at stride 1, with the same window geometry as the
 * dense kernels in this folder. Used by `depthwiseConv2d` and `separableConv2d` layers.
 *
 * Shapes (NHWC): x [B, H, W, C], filter [KH, KW, C, M] (M = channel multiplier), dy [B, OH, OW, C·M] with
 * output channel c·M + m reading input channel c. float32.
 * - filter gradient: x repeated M times along channels, then the (b, channel) pairs become depthwise
 *   channels: x' [1, H, W, B·C·M] correlated with dy' [OH, OW, B·C·M, 1] dilated by the strides, summed
 *   over b → [KH, KW, C, M].
 * - input gradient: dy with zeros inserted between pixels (strides), padded, correlated channel-wise with the
 *   spatially flipped filter, summed over m → [B, H, W, C].
 * Forward dilations other than 1 are refused, as tfjs-core's depthwise gradient refuses them.
 */
import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { checkShapes, filterGradGeometry } from './conv2d-backprop-filter.js';
import { spreadForInputGrad } from './conv2d-backprop-input.js';
import { withScope } from './kernel-scope.js';

function checkDilations(kernel: string, dilations: number | [number, number] | undefined): void {
  const d = dilations ?? 1;
  if (!(typeof d === 'number' ? d === 1 : d.every((v) => v === 1))) {
    throw new Error(`${kernel} supports dilations 1 only (as tfjs-core's gradient); got ${String(d)}`);
  }
}

const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  const name = 'wasm DepthwiseConv2dNativeBackpropFilter';
  checkDilations(name, dilations);
  const convInfo = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    true,
  );
  checkShapes(name, x, dy, convInfo);
  const [kh, kw, c, m] = filterShape;
  const [b, h, w] = x.shape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const g = filterGradGeometry(convInfo);
  return withScope(backend, (s) => {
    const repeated =
      m === 1
        ? x
        : s.reshape(s.run('Tile', { x: s.reshape(x, [b, h, w, c, 1]) }, { reps: [1, 1, 1, 1, m] }), [
            b,
            h,
            w,
            c * m,
          ]);
    const xT = s.padOrCrop(
      s.reshape(s.transpose(repeated, [1, 2, 0, 3]), [1, h, w, b * c * m]),
      g.rows,
      g.cols,
    );
    const dyT = s.reshape(s.transpose(dy, [1, 2, 0, 3]), [oh, ow, b * c * m, 1]);
    const perBatch = s.run(
      'DepthwiseConv2dNative',
      { x: xT, filter: dyT },
      { strides: 1, pad: 'valid', dilations: [g.strideHeight, g.strideWidth] },
    );
    const summed = s.run(
      'Sum',
      { x: s.reshape(perBatch, [kh, kw, b, c * m]) },
      { axis: [2], keepDims: false },
    );
    return s.reshape(summed, [kh, kw, c, m]);
  });
};

const depthwiseBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  const name = 'wasm DepthwiseConv2dNativeBackpropInput';
  checkDilations(name, dilations);
  if (dy.shape.length !== 4 || filter.shape.length !== 4) {
    throw new Error(`${name}: dy and filter must be rank 4; got [${dy.shape}], [${filter.shape}]`);
  }
  const [kh, kw, c, m] = filter.shape as [number, number, number, number];
  const convInfo = backend_util.computeConv2DInfo(
    inputShape,
    [kh, kw, c, m],
    strides,
    1,
    pad,
    dimRoundingMode,
    true,
  );
  const expected = convInfo.outShape;
  if (dy.shape.some((d, i) => d !== expected[i])) {
    throw new Error(
      `${name}: dy has shape [${dy.shape}] but the forward pass of [${inputShape}] gives [${expected}]`,
    );
  }
  const [b, h, w] = inputShape;
  return withScope(backend, (s) => {
    const flipped = s.reshape(s.run('Reverse', { x: filter }, { dims: [0, 1] }), [kh, kw, c * m, 1]);
    const perOutput = s.run(
      'DepthwiseConv2dNative',
      { x: spreadForInputGrad(s, dy, convInfo), filter: flipped },
      { strides: 1, pad: 'valid', dilations: 1 },
    );
    if (m === 1) return perOutput;
    return s.run('Sum', { x: s.reshape(perOutput, [b, h, w, c, m]) }, { axis: [4], keepDims: false });
  });
};

export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter,
};

export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput,
};
