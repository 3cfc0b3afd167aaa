#include <pybind11/pybind11.h>

#include <string>

#include "bind/bind.h"
#include "bind/checks.h"
#include "rnn.h"

namespace dlx::bind {
namespace {

RnnMode parse_mode(const std::string& mode, const char* fn) {
  if (mode == "rnn_tanh") return RnnMode::tanh;
  if (mode == "rnn_relu") return RnnMode::relu;
  if (mode == "lstm") return RnnMode::lstm;
  if (mode == "gru") return RnnMode::gru;
  throw std::invalid_argument(
      str(fn, ": `mode` must be 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru', got '", mode, "'"));
}

// Validated arrays and sizes shared by forward and backward.
struct Checked {
  RnnMode mode;
  RnnDims d;
  py::array x, w_ih, w_hh, b_ih, b_hh, h0, c0;
  bool bias;
};

template <typename T>
Checked check_common(const char* fn, const std::string& mode_s, const py::object& x_obj,
                     const py::object& w_ih_obj, const py::object& w_hh_obj,
                     const py::object& b_ih_obj, const py::object& b_hh_obj,
                     const py::object& h0_obj, const py::object& c0_obj, bool reverse) {
  Checked c;
  c.mode = parse_mode(mode_s, fn);
  c.x = input<T>(x_obj, fn, "input");
  c.w_ih = input<T>(w_ih_obj, fn, "weight_ih");
  c.w_hh = input<T>(w_hh_obj, fn, "weight_hh");
  check_ndim(c.x, 3, fn, "input");
  check_ndim(c.w_ih, 2, fn, "weight_ih");
  check_ndim(c.w_hh, 2, fn, "weight_hh");
  const int64_t S = dim(c.x, 0), N = dim(c.x, 1), I = dim(c.x, 2), H = dim(c.w_hh, 1);
  const int64_t G = rnn_gate_count(c.mode);
  DLX_CHECK(S >= 1, fn, ": `input` must have at least one time step, got shape ", shape_str(c.x));
  DLX_CHECK(dim(c.w_hh, 0) == G * H, fn, ": `weight_hh` must have shape (", G, " * hidden, hidden)",
            " for mode '", mode_s, "', got ", shape_str(c.w_hh));
  DLX_CHECK(dim(c.w_ih, 0) == G * H, fn, ": `weight_ih` must have ", G * H, " rows (", G,
            " gates x hidden ", H, "), got shape ", shape_str(c.w_ih));
  DLX_CHECK(dim(c.w_ih, 1) == I, fn, ": `weight_ih` has ", dim(c.w_ih, 1),
            " input features but `input` has ", I, " (weight_ih shape ", shape_str(c.w_ih),
            ", input shape ", shape_str(c.x), ")");
  DLX_CHECK(b_ih_obj.is_none() == b_hh_obj.is_none(), fn,
            ": `bias_ih` and `bias_hh` must both be given or both be None");
  c.bias = !b_ih_obj.is_none();
  if (c.bias) {
    c.b_ih = input<T>(b_ih_obj, fn, "bias_ih");
    c.b_hh = input<T>(b_hh_obj, fn, "bias_hh");
    check_shape(c.b_ih, {G * H}, fn, "bias_ih");
    check_shape(c.b_hh, {G * H}, fn, "bias_hh");
  }
  if (h0_obj.is_none()) {
    c.h0 = zeros<T>({N, H}, fn);
  } else {
    c.h0 = input<T>(h0_obj, fn, "hx");
    check_shape(c.h0, {N, H}, fn, "hx");
  }
  if (c.mode == RnnMode::lstm) {
    if (c0_obj.is_none()) {
      c.c0 = zeros<T>({N, H}, fn);
    } else {
      c.c0 = input<T>(c0_obj, fn, "cx");
      check_shape(c.c0, {N, H}, fn, "cx");
    }
  } else {
    DLX_CHECK(c0_obj.is_none(), fn, ": `cx` is only used by mode 'lstm', got an array for mode '",
              mode_s, "'");
  }
  c.d = RnnDims{S, N, I, H, reverse};
  // Every buffer the kernels allocate must fit int64 (G * H * S * N elements).
  checked_mul(checked_mul(checked_mul(S, N, fn), G * H + H, fn), static_cast<int64_t>(sizeof(T)),
              fn);
  return c;
}

template <typename T>
const T* opt_ptr(const py::array& a, bool present) {
  return present ? cptr<T>(a) : nullptr;
}

py::tuple rnn_forward_py(const std::string& mode, const py::object& x_obj,
                         const py::object& w_ih_obj, const py::object& w_hh_obj,
                         const py::object& b_ih_obj, const py::object& b_hh_obj,
                         const py::object& h0_obj, const py::object& c0_obj, bool reverse,
                         bool stack_c) {
  constexpr const char* fn = "rnn_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    Checked c = check_common<T>(fn, mode, x_obj, w_ih_obj, w_hh_obj, b_ih_obj, b_hh_obj, h0_obj,
                                c0_obj, reverse);
    const RnnDims d = c.d;
    const bool lstm = c.mode == RnnMode::lstm;
    DLX_CHECK(!stack_c || lstm, fn, ": `stack_c` needs mode 'lstm', got mode '", mode, "'");
    // stack_c: one (steps + 1, N, H) array, the output followed by c_n (no copy to stack them).
    auto y = empty<T>({d.steps + (stack_c ? 1 : 0), d.batch, d.hidden}, fn);
    auto h_n = empty<T>({d.batch, d.hidden}, fn);
    auto c_n = empty<T>({lstm && !stack_c ? d.batch : 0, d.hidden}, fn);
    auto ws = empty<T>({d.steps, d.batch, rnn_workspace_width(c.mode, d.hidden)}, fn);
    const T* pb_ih = opt_ptr<T>(c.b_ih, c.bias);
    const T* pb_hh = opt_ptr<T>(c.b_hh, c.bias);
    const T* pc0 = opt_ptr<T>(c.c0, lstm);
    T *py_ = y.mutable_data(), *ph = h_n.mutable_data();
    T* pc = stack_c ? py_ + d.steps * d.batch * d.hidden : c_n.mutable_data();
    T* pws = ws.mutable_data();
    {
      py::gil_scoped_release release;
      rnn_forward<T>(c.mode, d, cptr<T>(c.x), cptr<T>(c.w_ih), cptr<T>(c.w_hh), pb_ih, pb_hh,
                     cptr<T>(c.h0), pc0, py_, ph, pc, pws);
    }
    if (stack_c) return py::make_tuple(y, h_n, py::none(), ws);
    return py::make_tuple(y, h_n, lstm ? py::object(c_n) : py::none(), ws);
  });
}

py::tuple rnn_backward_py(const std::string& mode, const py::object& gy_obj,
                          const py::object& gh_obj, const py::object& gc_obj,
                          const py::object& x_obj, const py::object& w_ih_obj,
                          const py::object& w_hh_obj, const py::object& h0_obj,
                          const py::object& c0_obj, const py::object& y_obj,
                          const py::object& ws_obj, bool bias, bool reverse) {
  constexpr const char* fn = "rnn_backward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    Checked c = check_common<T>(fn, mode, x_obj, w_ih_obj, w_hh_obj, py::none(), py::none(), h0_obj,
                                c0_obj, reverse);
    const RnnDims d = c.d;
    const bool lstm = c.mode == RnnMode::lstm;
    const int64_t S = d.steps, N = d.batch, H = d.hidden, G = rnn_gate_count(c.mode);
    py::array gy = input<T>(gy_obj, fn, "grad_output");
    check_shape(gy, {S, N, H}, fn, "grad_output");
    py::array y = input<T>(y_obj, fn, "output");
    check_shape(y, {S, N, H}, fn, "output");
    py::array ws = input<T>(ws_obj, fn, "workspace");
    check_shape(ws, {S, N, rnn_workspace_width(c.mode, H)}, fn, "workspace");
    py::array gh, gc;
    if (!gh_obj.is_none()) {
      gh = input<T>(gh_obj, fn, "grad_h_n");
      check_shape(gh, {N, H}, fn, "grad_h_n");
    }
    if (!gc_obj.is_none()) {
      DLX_CHECK(lstm, fn, ": `grad_c_n` is only used by mode 'lstm'");
      gc = input<T>(gc_obj, fn, "grad_c_n");
      check_shape(gc, {N, H}, fn, "grad_c_n");
    }
    auto gx = empty<T>({S, N, d.input}, fn);
    auto gh0 = empty<T>({N, H}, fn);
    auto gc0 = empty<T>({lstm ? N : 0, H}, fn);
    auto gw_ih = empty<T>({G * H, d.input}, fn);
    auto gw_hh = empty<T>({G * H, H}, fn);
    auto gb_ih = empty<T>({bias ? G * H : 0}, fn);
    auto gb_hh = empty<T>({bias ? G * H : 0}, fn);
    const T* pgh = opt_ptr<T>(gh, !gh_obj.is_none());
    const T* pgc = opt_ptr<T>(gc, !gc_obj.is_none());
    const T* pc0 = opt_ptr<T>(c.c0, lstm);
    T* pgx = gx.mutable_data();
    T* pgh0 = gh0.mutable_data();
    T* pgc0 = lstm ? gc0.mutable_data() : nullptr;
    T* pgw_ih = gw_ih.mutable_data();
    T* pgw_hh = gw_hh.mutable_data();
    T* pgb_ih = bias ? gb_ih.mutable_data() : nullptr;
    T* pgb_hh = bias ? gb_hh.mutable_data() : nullptr;
    {
      py::gil_scoped_release release;
      rnn_backward<T>(c.mode, d, cptr<T>(gy), pgh, pgc, cptr<T>(c.x), cptr<T>(c.w_ih),
                      cptr<T>(c.w_hh), cptr<T>(c.h0), pc0, cptr<T>(y), cptr<T>(ws), pgx, pgh0, pgc0,
                      pgw_ih, pgw_hh, pgb_ih, pgb_hh);
    }
    py::object none = py::none();
    return py::make_tuple(gx, gh0, lstm ? py::object(gc0) : none, gw_ih, gw_hh,
                          bias ? py::object(gb_ih) : none, bias ? py::object(gb_hh) : none);
  });
}

}  // namespace

void bind_rnn(py::module_& m) {
  m.def("rnn_forward", &rnn_forward_py, py::arg("mode"), py::arg("input"), py::arg("weight_ih"),
        py::arg("weight_hh"), py::arg("bias_ih") = py::none(), py::arg("bias_hh") = py::none(),
        py::arg("hx") = py::none(), py::arg("cx") = py::none(), py::arg("reverse") = false,
        py::arg("stack_c") = false,
        "One recurrent layer and direction over a whole time-major sequence: "
        "(output, h_n, c_n or None, workspace). With stack_c (LSTM), output has steps + 1 "
        "entries, the last being c_n, and c_n is None.");
  m.def("rnn_backward", &rnn_backward_py, py::arg("mode"), py::arg("grad_output"),
        py::arg("grad_h_n"), py::arg("grad_c_n"), py::arg("input"), py::arg("weight_ih"),
        py::arg("weight_hh"), py::arg("hx"), py::arg("cx"), py::arg("output"), py::arg("workspace"),
        py::arg("bias") = true, py::arg("reverse") = false,
        "BPTT of rnn_forward: (grad_input, grad_hx, grad_cx or None, grad_weight_ih, "
        "grad_weight_hh, grad_bias_ih or None, grad_bias_hh or None).");
}

}  // namespace dlx::bind
