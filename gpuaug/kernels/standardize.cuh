// Keras's standardize on one value: rescale, samplewise and featurewise centre and scale.
//
// The device-side twin of gpuaug/backends/reference/standardize.py (docs/semantics.md §5),
// step for step in Keras's order, each step rounded to the working dtype.  ZCA and a
// preprocessing_function are not per-value steps: the backend runs them after the kernel.
#pragma once
#include "numeric.cuh"

namespace gpuaug {

// Keras's standardize up to (and excluding) the samplewise steps: the rescale.
template <int WORK>
GPUAUG_HD double rescale_value(double v, const Epilogue& e) {
    return (e.flags & STD_RESCALE) ? round_work<WORK>(mul_rn(v, e.rescale)) : v;
}

// The samplewise mean and (std + eps) of a sample from its moments, in the working dtype.
template <int WORK>
GPUAUG_HD void sample_statistics(double sum, double sumsq, i64 count, double eps, double* mean,
                                 double* std_eps) {
    const double m = div_rn(sum, (double)count);
    double var = sub_rn(div_rn(sumsq, (double)count), mul_rn(m, m));
    var = var > 0.0 ? var : 0.0;
    *mean = round_work<WORK>(m);
    *std_eps = round_work<WORK>(add_rn(round_work<WORK>(sqrt(var)), eps));
}

// The featurewise statistics of one batch: Epilogue.mean_offset / std_offset resolved.
struct FeatureStatistics {
    const double* mean;     // broadcast through Epilogue.mean_strides (row, col, channel)
    const double* std_eps;  // std + 1e-6, broadcast through Epilogue.std_strides
};

// The rest of standardize: samplewise, then featurewise centre and scale.
template <int WORK>
GPUAUG_HD double standardize_value(double v, const Epilogue& e, const FeatureStatistics& f,
                                   double s_mean, double s_std_eps, int r, int c, int k) {
    if (e.flags & STD_SAMPLE_CENTER) v = round_work<WORK>(sub_rn(v, s_mean));
    if (e.flags & STD_SAMPLE_SCALE) v = round_work<WORK>(div_rn(v, s_std_eps));
    if (e.flags & STD_FEATURE_CENTER)
        v = round_work<WORK>(sub_rn(
            v, f.mean[r * e.mean_strides[0] + c * e.mean_strides[1] + k * e.mean_strides[2]]));
    if (e.flags & STD_FEATURE_SCALE)
        v = round_work<WORK>(div_rn(
            v, f.std_eps[r * e.std_strides[0] + c * e.std_strides[1] + k * e.std_strides[2]]));
    return v;
}

}  // namespace gpuaug
