// One registration function per op family; module.cpp calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace dlx::bind {
void bind_isa(pybind11::module_& m);
void bind_threads(pybind11::module_& m);
void bind_gemm(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_pool(pybind11::module_& m);
void bind_activation(pybind11::module_& m);
void bind_activation_channel(pybind11::module_& m);  // called by bind_activation
void bind_softmax_loss(pybind11::module_& m);
void bind_loss(pybind11::module_& m);  // called by bind_softmax_loss
void bind_batchnorm(pybind11::module_& m);
void bind_norm(pybind11::module_& m);  // layer/group/RMS norm, embedding
void bind_dropout(pybind11::module_& m);
void bind_optim(pybind11::module_& m);
void bind_rnn(pybind11::module_& m);
void bind_attention(pybind11::module_& m);
}  // namespace dlx::bind
