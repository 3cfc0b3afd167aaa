// Bindings of the fused optimiser steps (csrc/optim.h). Every array is updated in place,
// so each goes through inout<T>: exact dtype, C-contiguous, writeable, never converted (a
// converted copy would swallow the update). Step-dependent scalars (bias corrections,
// decayed learning rates, NAdam's momentum schedule) are computed here in double; ASGD's
// eta and mu, which PyTorch keeps as state, come from the caller.
#include <pybind11/pybind11.h>

#include <cmath>
#include <utility>
#include <vector>

#include "bind/bind.h"
#include "bind/checks.h"
#include "optim.h"

namespace dlx::bind {
namespace {

// The arrays of one step: `param` fixes the dtype T and the shape of all the others. Every
// array but `grad` is written, so no two of them may share memory.
template <typename T>
struct StepArrays {
  const char* fn;
  py::array param;
  int64_t n;
  std::vector<std::pair<const char*, py::array>> seen;  // also keeps the arrays alive

  StepArrays(const py::object& param_obj, const char* fn_)
      : fn(fn_), param(inout<T>(param_obj, fn_, "param")), n(static_cast<int64_t>(param.size())) {
    seen.emplace_back("param", param);
  }

  void check_like(const py::array& a, const char* name) {
    std::vector<int64_t> shape(static_cast<size_t>(param.ndim()));
    for (py::ssize_t i = 0; i < param.ndim(); ++i) shape[static_cast<size_t>(i)] = dim(param, i);
    check_shape(a, shape, fn, name);
    for (const auto& [other_name, other] : seen) check_no_overlap(other, other_name, a, name, fn);
    seen.emplace_back(name, a);
  }
  const T* grad(const py::object& obj) {
    py::array a = input<T>(obj, fn, "grad");
    check_like(a, "grad");
    return cptr<T>(a);
  }
  T* state(const py::object& obj, const char* name) {
    py::array a = inout<T>(obj, fn, name);
    check_like(a, name);
    return mptr<T>(a);
  }
  T* optional_state(const py::object& obj, const char* name) {
    return obj.is_none() ? nullptr : state(obj, name);
  }
  T* p() { return mptr<T>(param); }
};

// Calls body(StepArrays<T>&) with T the dtype of `param` (float32 or float64).
template <typename F>
void with_arrays(const py::object& param_obj, const char* fn, const F& body) {
  py::array param = as_array(param_obj, fn, "param");
  dispatch(param, fn, "param", [&](auto tag) {
    StepArrays<decltype(tag)> arrays(param_obj, fn);
    body(arrays);
  });
}

void check_step(int64_t step, const char* fn) {
  DLX_CHECK(step >= 1, fn, ": `step` must be >= 1 (the count including this step), got ", step);
}

void check_beta(double beta, const char* fn, const char* name) {
  DLX_CHECK(beta >= 0.0 && beta < 1.0, fn, ": `", name, "` must be in [0, 1), got ", beta);
}

void check_optional(bool given, bool wanted, const char* fn, const char* buffer, const char* why) {
  DLX_CHECK(given == wanted, fn, ": `", buffer, "` must be given exactly when ", why, " (got ",
            given ? "a buffer" : "None", ")");
}

void sgd_step_py(const py::object& param, const py::object& grad, const py::object& buf, double lr,
                 double momentum, double dampening, double weight_decay, bool nesterov,
                 bool first_step) {
  constexpr const char* fn = "sgd_step_";
  check_optional(!buf.is_none(), momentum != 0.0, fn, "momentum_buffer", "`momentum` != 0");
  DLX_CHECK(!nesterov || momentum != 0.0, fn, ": `nesterov` needs a non-zero `momentum`");
  with_arrays(param, fn, [&](auto& a) {
    const auto* g = a.grad(grad);
    auto* b = a.optional_state(buf, "momentum_buffer");
    const SgdParams s{lr, momentum, dampening, weight_decay, nesterov, first_step};
    py::gil_scoped_release release;
    sgd_step_(a.p(), g, b, a.n, s);
  });
}

void asgd_step_py(const py::object& param, const py::object& grad, const py::object& ax,
                  double eta, double mu, double lambd, double weight_decay) {
  constexpr const char* fn = "asgd_step_";
  with_arrays(param, fn, [&](auto& a) {
    const auto* g = a.grad(grad);
    auto* avg = a.state(ax, "ax");
    const AsgdParams s{eta, lambd, mu, weight_decay};
    py::gil_scoped_release release;
    asgd_step_(a.p(), g, avg, a.n, s);
  });
}

void rprop_step_py(const py::object& param, const py::object& grad, const py::object& prev,
                   const py::object& step_size, double etaminus, double etaplus,
                   double step_size_min, double step_size_max) {
  constexpr const char* fn = "rprop_step_";
  with_arrays(param, fn, [&](auto& a) {
    const auto* g = a.grad(grad);
    auto* pv = a.state(prev, "prev");
    auto* ss = a.state(step_size, "step_size");
    const RpropParams s{etaminus, etaplus, step_size_min, step_size_max};
    py::gil_scoped_release release;
    rprop_step_(a.p(), g, pv, ss, a.n, s);
  });
}

void adagrad_step_py(const py::object& param, const py::object& grad, const py::object& sum,
                     int64_t step, double lr, double lr_decay, double weight_decay, double eps) {
  constexpr const char* fn = "adagrad_step_";
  check_step(step, fn);
  const double clr = lr / (1.0 + static_cast<double>(step - 1) * lr_decay);
  with_arrays(param, fn, [&](auto& a) {
    const auto* g = a.grad(grad);
    auto* st = a.state(sum, "state_sum");
    const AdagradParams s{clr, weight_decay, eps};
    py::gil_scoped_release release;
    adagrad_step_(a.p(), g, st, a.n, s);
  });
}

void rmsprop_step_py(const py::object& param, const py::object& grad, const py::object& square_avg,
                     const py::object& buf, const py::object& grad_avg, double lr, double alpha,
                     double eps, double weight_decay, double momentum) {
  constexpr const char* fn = "rmsprop_step_";
  check_optional(!buf.is_none(), momentum > 0.0, fn, "momentum_buffer", "`momentum` > 0");
  with_arrays(param, fn, [&](auto& a) {
    const auto* g = a.grad(grad);
    auto* sq = a.state(square_avg, "square_avg");
    auto* b = a.optional_state(buf, "momentum_buffer");
    auto* ga = a.optional_state(grad_avg, "grad_avg");
    const RmspropParams s{lr, alpha, eps, weight_decay, momentum};
    py::gil_scoped_release release;
    rmsprop_step_(a.p(), g, sq, b, ga, a.n, s);
  });
}

void adadelta_step_py(const py::object& param, const py::object& grad, const py::object& square_avg,
                      const py::object& acc_delta, double lr, double rho, double eps,
                      double weight_decay) {
  constexpr const char* fn = "adadelta_step_";
  with_arrays(param, fn, [&](auto& a) {
    const auto* g = a.grad(grad);
    auto* sq = a.state(square_avg, "square_avg");
    auto* acc = a.state(acc_delta, "acc_delta");
    const AdadeltaParams s{lr, rho, eps, weight_decay};
    py::gil_scoped_release release;
    adadelta_step_(a.p(), g, sq, acc, a.n, s);
  });
}

void adam_step_py(const py::object& param, const py::object& grad, const py::object& exp_avg,
                  const py::object& exp_avg_sq, int64_t step, const py::object& max_exp_avg_sq,
                  double lr, double beta1, double beta2, double eps, double weight_decay,
                  bool decoupled_weight_decay) {
  constexpr const char* fn = "adam_step_";
  check_step(step, fn);
  check_beta(beta1, fn, "beta1");
  check_beta(beta2, fn, "beta2");
  const double t = static_cast<double>(step);
  const AdamParams s{lr,
                     beta1,
                     beta2,
                     eps,
                     weight_decay,
                     1.0 - std::pow(beta1, t),
                     1.0 - std::pow(beta2, t),
                     decoupled_weight_decay};
  with_arrays(param, fn, [&](auto& a) {
    const auto* g = a.grad(grad);
    auto* m = a.state(exp_avg, "exp_avg");
    auto* v = a.state(exp_avg_sq, "exp_avg_sq");
    auto* vmax = a.optional_state(max_exp_avg_sq, "max_exp_avg_sq");
    py::gil_scoped_release release;
    adam_step_(a.p(), g, m, v, vmax, a.n, s);
  });
}

void adamax_step_py(const py::object& param, const py::object& grad, const py::object& exp_avg,
                    const py::object& exp_inf, int64_t step, double lr, double beta1, double beta2,
                    double eps, double weight_decay) {
  constexpr const char* fn = "adamax_step_";
  check_step(step, fn);
  check_beta(beta1, fn, "beta1");
  check_beta(beta2, fn, "beta2");
  const AdamaxParams s{lr, beta1, beta2, eps, weight_decay,
                       1.0 - std::pow(beta1, static_cast<double>(step))};
  with_arrays(param, fn, [&](auto& a) {
    const auto* g = a.grad(grad);
    auto* m = a.state(exp_avg, "exp_avg");
    auto* u = a.state(exp_inf, "exp_inf");
    py::gil_scoped_release release;
    adamax_step_(a.p(), g, m, u, a.n, s);
  });
}

void radam_step_py(const py::object& param, const py::object& grad, const py::object& exp_avg,
                   const py::object& exp_avg_sq, int64_t step, double lr, double beta1,
                   double beta2, double eps, double weight_decay, bool decoupled_weight_decay) {
  constexpr const char* fn = "radam_step_";
  check_step(step, fn);
  check_beta(beta1, fn, "beta1");
  check_beta(beta2, fn, "beta2");
  const double t = static_cast<double>(step);
  const double bc1 = 1.0 - std::pow(beta1, t), bc2 = 1.0 - std::pow(beta2, t);
  // Length of the approximated SMA; the variance is tractable (rectified) when rho_t > 5.
  const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
  const double rho_t = rho_inf - 2.0 * t * std::pow(beta2, t) / bc2;
  const bool rectify = rho_t > 5.0;
  const double rect = rectify ? std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                                          ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                              : 1.0;
  const RadamParams s{lr,  beta1, beta2, eps,     weight_decay,
                      bc1, bc2,   rect,  rectify, decoupled_weight_decay};
  with_arrays(param, fn, [&](auto& a) {
    const auto* g = a.grad(grad);
    auto* m = a.state(exp_avg, "exp_avg");
    auto* v = a.state(exp_avg_sq, "exp_avg_sq");
    py::gil_scoped_release release;
    radam_step_(a.p(), g, m, v, a.n, s);
  });
}

void nadam_step_py(const py::object& param, const py::object& grad, const py::object& exp_avg,
                   const py::object& exp_avg_sq, int64_t step, double mu_product, double lr,
                   double beta1, double beta2, double eps, double weight_decay,
                   double momentum_decay, bool decoupled_weight_decay) {
  constexpr const char* fn = "nadam_step_";
  check_step(step, fn);
  check_beta(beta1, fn, "beta1");
  check_beta(beta2, fn, "beta2");
  DLX_CHECK(mu_product >= 0.0 && mu_product < 1.0, fn,
            ": `mu_product` must be in [0, 1) (the product of mu_1 .. mu_step), got ", mu_product);
  const double t = static_cast<double>(step);
  const double mu_next = beta1 * (1.0 - 0.5 * std::pow(0.96, (t + 1.0) * momentum_decay));
  const double mu = beta1 * (1.0 - 0.5 * std::pow(0.96, t * momentum_decay));
  const NadamParams s{lr,
                      beta1,
                      beta2,
                      eps,
                      weight_decay,
                      1.0 - std::pow(beta2, t),
                      -lr * (1.0 - mu) / (1.0 - mu_product),
                      -lr * mu_next / (1.0 - mu_product * mu_next),
                      decoupled_weight_decay};
  with_arrays(param, fn, [&](auto& a) {
    const auto* g = a.grad(grad);
    auto* m = a.state(exp_avg, "exp_avg");
    auto* v = a.state(exp_avg_sq, "exp_avg_sq");
    py::gil_scoped_release release;
    nadam_step_(a.p(), g, m, v, a.n, s);
  });
}

}  // namespace

void bind_optim(py::module_& m) {
  using py::arg;
  m.def("sgd_step_", &sgd_step_py, arg("param"), arg("grad"), arg("momentum_buffer") = py::none(),
        arg("lr") = 1e-3, arg("momentum") = 0.0, arg("dampening") = 0.0, arg("weight_decay") = 0.0,
        arg("nesterov") = false, arg("first_step") = false,
        "Fused SGD step (momentum, dampening, Nesterov, weight decay); in place.");
  m.def("asgd_step_", &asgd_step_py, arg("param"), arg("grad"), arg("ax"), arg("eta"),
        arg("mu") = 1.0, arg("lambd") = 1e-4, arg("weight_decay") = 0.0,
        "Fused ASGD step with this step's `eta` and `mu` (the average `ax` follows); in place.");
  m.def("rprop_step_", &rprop_step_py, arg("param"), arg("grad"), arg("prev"), arg("step_size"),
        arg("etaminus") = 0.5, arg("etaplus") = 1.2, arg("step_size_min") = 1e-6,
        arg("step_size_max") = 50.0, "Fused Rprop step; in place.");
  m.def("adagrad_step_", &adagrad_step_py, arg("param"), arg("grad"), arg("state_sum"), arg("step"),
        arg("lr") = 1e-2, arg("lr_decay") = 0.0, arg("weight_decay") = 0.0, arg("eps") = 1e-10,
        "Fused Adagrad step; in place.");
  m.def("rmsprop_step_", &rmsprop_step_py, arg("param"), arg("grad"), arg("square_avg"),
        arg("momentum_buffer") = py::none(), arg("grad_avg") = py::none(), arg("lr") = 1e-2,
        arg("alpha") = 0.99, arg("eps") = 1e-8, arg("weight_decay") = 0.0, arg("momentum") = 0.0,
        "Fused RMSprop step (centered when grad_avg is given); in place.");
  m.def("adadelta_step_", &adadelta_step_py, arg("param"), arg("grad"), arg("square_avg"),
        arg("acc_delta"), arg("lr") = 1.0, arg("rho") = 0.9, arg("eps") = 1e-6,
        arg("weight_decay") = 0.0, "Fused Adadelta step; in place.");
  m.def("adam_step_", &adam_step_py, arg("param"), arg("grad"), arg("exp_avg"), arg("exp_avg_sq"),
        arg("step"), arg("max_exp_avg_sq") = py::none(), arg("lr") = 1e-3, arg("beta1") = 0.9,
        arg("beta2") = 0.999, arg("eps") = 1e-8, arg("weight_decay") = 0.0,
        arg("decoupled_weight_decay") = false,
        "Fused Adam / AdamW step (amsgrad when max_exp_avg_sq is given); in place.");
  m.def("adamax_step_", &adamax_step_py, arg("param"), arg("grad"), arg("exp_avg"),
        arg("exp_inf"), arg("step"), arg("lr") = 2e-3, arg("beta1") = 0.9, arg("beta2") = 0.999,
        arg("eps") = 1e-8, arg("weight_decay") = 0.0, "Fused Adamax step; in place.");
  m.def("radam_step_", &radam_step_py, arg("param"), arg("grad"), arg("exp_avg"), arg("exp_avg_sq"),
        arg("step"), arg("lr") = 1e-3, arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-8,
        arg("weight_decay") = 0.0, arg("decoupled_weight_decay") = false,
        "Fused RAdam step; in place.");
  m.def("nadam_step_", &nadam_step_py, arg("param"), arg("grad"), arg("exp_avg"), arg("exp_avg_sq"),
        arg("step"), arg("mu_product"), arg("lr") = 2e-3, arg("beta1") = 0.9, arg("beta2") = 0.999,
        arg("eps") = 1e-8, arg("weight_decay") = 0.0, arg("momentum_decay") = 4e-3,
        arg("decoupled_weight_decay") = false,
        "Fused NAdam step; `mu_product` includes this step's mu. In place.");
}

}  // namespace dlx::bind
