/**
 * `Conv2DBackpropFilter` for the wasm backend (tfjs-backend-wasm 4.22 has none): the gradient of a 2-D
 * convolution with respect to its filter, computed as ONE wasm (XNNPACK) Conv2D on transposed tensors.
 *
 * Shapes (NHWC only, like wasm's Conv2D): x [B, H, W, Ci], dy [B, OH, OW, Co] → dW [KH, KW, Ci, Co], float32.
 *   dW[kh, kw, ci, co] = Σ_b,oh,ow  x[b, oh·sh + kh − padTop, ow·sw + kw − padLeft, ci] · dy[b, oh, ow, co]
 * Read with ci as the batch axis and b as the channel axis, that is a convolution of
 *   x' = transpose(x, [3,1,2,0])   [Ci, H, W, B]   (zero-padded by padTop/padLeft, cropped or padded below)
 * with the filter
 *   dy' = transpose(dy, [1,2,0,3]) [OH, OW, B, Co] dilated by the forward strides,
 * at stride 1; its output [Ci, KH, KW, Co] is transposed to [KH, KW, Ci, Co].
 * Forward dilations other than 1 are refused, as tfjs-core's Conv2D gradient itself refuses them.
 */
import {
  backend_util,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { withScope } from './kernel-scope.js';

/** Where a filter-gradient correlation's window sits, from the forward convolution's geometry. */
export interface FilterGradGeometry {
  readonly strideHeight: number;
  readonly strideWidth: number;
  /** Rows to add above (negative: crop) x so that output row kh reads x[oh·sh + kh − padTop]. */
  readonly rows: [number, number];
  readonly cols: [number, number];
}

/**
 * Paddings that make a stride-1 correlation of x (height H) with dy (height OH) dilated by the stride produce
 * exactly KH rows: top = padTop; bottom = KH − 1 + (OH − 1)·sh + 1 − H − padTop (negative = unused x rows).
 */
export function filterGradGeometry(convInfo: backend_util.Conv2DInfo): FilterGradGeometry {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = convInfo;
  const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, padInfo } = convInfo;
  return {
    strideHeight: sh,
    strideWidth: sw,
    rows: [padInfo.top, kh + (oh - 1) * sh - h - padInfo.top],
    cols: [padInfo.left, kw + (ow - 1) * sw - w - padInfo.left],
  };
}

export function checkShapes(
  kernel: string,
  x: TensorInfo,
  dy: TensorInfo,
  convInfo: backend_util.Conv2DInfo,
): void {
  if (x.shape.length !== 4 || dy.shape.length !== 4) {
    throw new Error(`${kernel}: x and dy must be rank 4 (NHWC); got x [${x.shape}], dy [${dy.shape}]`);
  }
  const expected = convInfo.outShape;
  if (dy.shape.some((d, i) => d !== expected[i])) {
    throw new Error(
      `${kernel}: dy has shape [${dy.shape}] but the forward convolution of x [${x.shape}] gives [${expected}]`,
    );
  }
}

const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as Conv2DBackpropFilterAttrs;
  if (backend_util.convertConv2DDataFormat(dataFormat) !== 'channelsLast') {
    throw new Error(`wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only; got '${dataFormat}'`);
  }
  const convInfo = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  checkShapes('wasm Conv2DBackpropFilter', x, dy, convInfo);
  const g = filterGradGeometry(convInfo);
  return withScope(backend, (s) => {
    const xT = s.padOrCrop(s.transpose(x, [3, 1, 2, 0]), g.rows, g.cols);
    const dyT = s.transpose(dy, [1, 2, 0, 3]);
    const grad = s.run(
      'Conv2D',
      { x: xT, filter: dyT },
      { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: [g.strideHeight, g.strideWidth] },
    );
    return s.transpose(grad, [1, 2, 0, 3]);
  });
};

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};
