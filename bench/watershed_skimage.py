"""The scikit-image deep-watershed pipeline, for bench/watershed.bench.ts to compare against.

Usage: /usr/bin/python3 bench/watershed_skimage.py DIR HEIGHT WIDTH RUNS
DIR holds inner.f32 and outer.f32 (raw little-endian float32, row-major [H, W]). Runs the same steps as
workers/image/watershed.ts deepWatershed with its defaults (DeepCell's deep_watershed with
maxima_algorithm='peak_local_max'): gaussian_filter(outer, 1); peak_local_max(inner, min_distance=10,
threshold_abs=0.1, exclude_border=False); label; watershed(-outer, markers, mask=outer > 0.01);
remove_small_objects(min_size=0: none); relabel_sequential. Times only the compute (not file reading),
RUNS times, and prints one line: `skimage_ms_median=<wall ms> cpu_ms_median=<process CPU ms> runs=<n>
objects=<n>`; writes the last result to DIR/skimage.u32 (uint32, row-major).
"""
import statistics
import sys
import time

import numpy as np
import scipy.ndimage as nd
from skimage.feature import peak_local_max
from skimage.measure import label
from skimage.morphology import remove_small_objects
from skimage.segmentation import relabel_sequential, watershed


def deep_watershed(inner, outer):
    outer = nd.gaussian_filter(outer, 1)
    coords = peak_local_max(inner, min_distance=10, threshold_abs=0.1, exclude_border=False)
    markers = np.zeros(inner.shape, dtype=np.int32)
    markers[coords[:, 0], coords[:, 1]] = 1
    markers = label(markers)
    labels = watershed(-outer, markers, mask=outer > 0.01)
    labels = remove_small_objects(labels, min_size=0)
    labels, _, _ = relabel_sequential(labels)
    return labels


def main():
    folder, height, width, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    inner = np.fromfile(f"{folder}/inner.f32", dtype="<f4").reshape(height, width)
    outer = np.fromfile(f"{folder}/outer.f32", dtype="<f4").reshape(height, width)
    deep_watershed(inner, outer)  # warm-up
    wall, cpu = [], []
    labels = None
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        labels = deep_watershed(inner, outer)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    labels.astype("<u4").tofile(f"{folder}/skimage.u32")
    print(
        f"skimage_ms_median={statistics.median(wall):.1f} cpu_ms_median={statistics.median(cpu):.1f} "
        f"runs={runs} objects={int(labels.max())}"
    )


if __name__ == "__main__":
    main()
