"""``Module``: the base class of layers and models, with PyTorch's semantics.

Assigning a Parameter, a Module or (after ``register_buffer``) a Tensor to an attribute
registers it; ``state_dict`` keys are the dotted attribute paths (``features.3.bias``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from dlx import _device, _dtype
from dlx._autograd import TensorBase
from dlx.nn.modules._hooks import call_with_backward_hooks
from dlx.nn.modules._module_utils import (
    IncompatibleKeys,
    RemovableHandle,
    check_name,
    load_state,
    module_repr,
)
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor


class Module:
    """Base class for all layers and models (subclass it and define ``forward``).

    Subclasses call ``super().__init__()`` before assigning parameters or submodules.
    """

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _modules: dict[str, Module | None]

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_pre_hooks", {})
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "_backward_hooks", {})
        object.__setattr__(self, "_backward_pre_hooks", {})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass defines it."""
        msg = f"Module [{type(self).__name__}] is missing the required 'forward' function"
        raise NotImplementedError(msg)

    def _fusion(self) -> tuple[Any, ...] | None:
        """This layer's forward as a primitive ``Sequential`` may fuse with its neighbours:
        ``("linear", weight, bias)``, ``("relu",)`` or ``("identity",)``; None (the
        default) when it must run as itself. Layers return None when a subclass overrides
        ``forward``, so fusing never skips user code."""
        return None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if not (
            d.get("_forward_pre_hooks")
            or d.get("_forward_hooks")
            or d.get("_backward_hooks")
            or d.get("_backward_pre_hooks")
        ):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        if self._backward_hooks or self._backward_pre_hooks:
            out = call_with_backward_hooks(self, args, kwargs)
        else:
            out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, args)`` runs before forward; it may return replacement args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, args, output)`` runs after forward; it may return a new output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_full_backward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` once the gradients with respect to the
        module's tensor inputs are computed (PyTorch semantics); it may return replacement
        ``grad_input``. ``grad_input`` is ``(None,)`` when no input requires grad."""
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    def register_full_backward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, grad_output)`` before the module's gradients are computed; it may
        return replacement ``grad_output``."""
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        return handle

    # -- registration -----------------------------------------------------------------
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, a placeholder) under ``name``."""
        if "_parameters" not in self.__dict__:
            msg = "cannot assign parameters before Module.__init__() call"
            raise AttributeError(msg)
        check_name(self, name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            msg = (
                f"cannot assign {type(param).__name__!r} as parameter {name!r} "
                f"(dlx.nn.Parameter or None expected)"
            )
            raise TypeError(msg)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register a non-trainable tensor (e.g. running statistics) under ``name``.

        Persistent buffers appear in ``state_dict``. An ndarray is wrapped without a copy.
        """
        if "_buffers" not in self.__dict__:
            msg = "cannot assign buffer before Module.__init__() call"
            raise AttributeError(msg)
        check_name(self, name, "buffer", self._buffers)
        if isinstance(tensor, np.ndarray):
            tensor = Tensor(tensor)
        if tensor is not None and not isinstance(tensor, Tensor):
            msg = f"cannot assign {type(tensor).__name__!r} as buffer {name!r} (Tensor or None expected)"
            raise TypeError(msg)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a child module under ``name``."""
        if module is not None and not isinstance(module, Module):
            msg = f"{type(module).__name__} is not a Module subclass"
            raise TypeError(msg)
        check_name(self, name, "module", self._modules)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params, modules, buffers = d.get("_parameters"), d.get("_modules"), d.get("_buffers")
        if isinstance(value, Parameter):
            if params is None:
                msg = "cannot assign parameters before Module.__init__() call"
                raise AttributeError(msg)
            self._forget(name, "_parameters")
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                msg = (
                    f"cannot assign {type(value).__name__!r} as parameter {name!r} "
                    f"(dlx.nn.Parameter or None expected)"
                )
                raise TypeError(msg)
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                msg = "cannot assign module before Module.__init__() call"
                raise AttributeError(msg)
            self._forget(name, "_modules")
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                msg = f"cannot assign {type(value).__name__!r} as child module {name!r} (Module or None expected)"
                raise TypeError(msg)
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                msg = f"cannot assign {type(value).__name__!r} as buffer {name!r} (Tensor or None expected)"
                raise TypeError(msg)
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Drop ``name`` from every store but ``keep`` (so reassignment keeps its order)."""
        d = self.__dict__
        d.pop(name, None)
        for key in ("_parameters", "_buffers", "_modules"):
            if key != keep:
                d[key].pop(name, None)
        d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        msg = f"{type(self).__name__!r} object has no attribute {name!r}"
        raise AttributeError(msg)

    def __delattr__(self, name: str) -> None:
        for key in ("_parameters", "_buffers", "_modules"):
            store = self.__dict__[key]
            if name in store:
                del store[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = set(super().__dir__())
        for key in ("_parameters", "_buffers", "_modules"):
            keys.update(self.__dict__[key])
        return sorted(keys)

    # -- traversal ----------------------------------------------------------------------
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module and all descendants, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and all descendants."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Immediate children with their attribute names."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """Immediate children."""
        for _, m in self.named_children():
            yield m

    def _named_members(
        self, kind: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, module in mods:
            store = module.__dict__[kind]
            for name, value in store.items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, Parameter)``; a parameter shared by several modules appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """All parameters (each once)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` for persistent and non-persistent buffers."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """All buffers (each once)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The descendant at dotted path ``target`` ("" is self)."""
        mod: Module = self
        for item in target.split(".") if target else []:
            child = mod._modules.get(item)
            if child is None:
                msg = f"{mod._get_name()} has no submodule {item!r} (in {target!r})"
                raise AttributeError(msg)
            mod = child
        return mod

    # -- modes and gradients ------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout, batch norm statistics) here and in all children."""
        if not isinstance(mode, bool):
            msg = f"`mode` must be a bool, got {mode!r}"
            raise TypeError(msg)
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode; same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset parameter gradients: to None, or to zero in place (arrays kept)."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every child (recursively), then on self; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _convert(self, dtype: np.dtype) -> Module:
        """Convert floating parameters, their gradients and floating buffers to ``dtype``.

        This rebinds ``.data``: create optimisers after converting, as in PyTorch.
        """
        for t in [*self.parameters(), *self.buffers()]:
            if t.dtype.kind == "f" and t.dtype != dtype:
                g = t.grad
                t.data = t.numpy().astype(dtype)
                if g is not None:
                    t.grad = g.numpy().astype(dtype)
        return self

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Module:
        """Convert floating parameters and buffers to ``dtype``; the CPU is the only device.

        Accepts PyTorch's forms: ``to(dtype)``, ``to("cpu")``, ``to(device, dtype)``,
        ``to(tensor)``; any other device raises a RuntimeError saying dlx runs on the CPU.
        """
        for a in args:
            if isinstance(a, str | _device.device):
                device = a
            elif isinstance(a, TensorBase):
                dtype = a.dtype
            else:
                dtype = a
        _device.check_device(device)
        return self if dtype is None else self._convert(_dtype.as_dtype(dtype))

    def cpu(self) -> Module:
        """Self (dlx runs on the CPU)."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Always raises: dlx runs on the CPU."""
        _device.check_device("cuda")
        return self

    def float(self) -> Module:
        """Convert floating parameters and buffers to float32."""
        return self._convert(_dtype.float32)

    def double(self) -> Module:
        """Convert floating parameters and buffers to float64 (e.g. for gradcheck)."""
        return self._convert(_dtype.float64)

    # -- state dict -----------------------------------------------------------------------
    def state_dict(
        self, destination: dict[str, Any] | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Any]:
        """Parameters and persistent buffers by dotted name, in registration order.

        Values are detached Tensors sharing the parameters' memory (``.numpy()`` gives the
        arrays without a copy), or the parameters themselves when ``keep_vars``.
        """
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values into the existing parameter and buffer arrays (in place).

        Everything is checked before anything is copied: missing or unexpected keys (with
        ``strict``) and shape mismatches raise :class:`StateDictError` (a RuntimeError, as
        in PyTorch) naming every offending key. Values may be arrays, dlx tensors or
        anything ``numpy.asarray`` accepts (e.g. CPU torch tensors); dtypes are cast.
        """
        return load_state(self, state_dict, strict)

    # -- description ----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Constructor keyword arguments as JSON-serialisable values (for serialisation).

        Every built-in layer defines it; containers return ``{}`` and are rebuilt from
        their children. Custom modules override it to be serialisable.
        """
        msg = f"{type(self).__name__} does not define get_config(); override it to serialise the module"
        raise NotImplementedError(msg)

    def summary(self, input_shape: Any, dtype: Any = np.float32) -> str:
        """Keras-style table: layer (type), output shape, parameter count, and totals.

        ``input_shape`` is one sample's shape (the batch axis, shown as None, is added).
        Layers with ``output_shape`` need no computation; other modules run one forward
        on zeros under ``no_grad``. Use ``print(model.summary((3, 32, 32)))``.
        """
        from dlx.nn.modules._summary import summary

        return summary(self, input_shape, dtype)

    # -- repr ---------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """Extra information shown inside the parentheses of ``repr``."""
        return ""

    def __repr__(self) -> str:
        return module_repr(self._get_name(), self.extra_repr(), self._modules.items())
