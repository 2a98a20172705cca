"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode (all thread-local).

Each is a context manager and a decorator, and restores the previous state in `finally`.
The state lives in one thread-local object read on every op, so reading it must stay cheap.
"""

from __future__ import annotations

import functools
import inspect
import threading


class _State(threading.local):
    grad_enabled = True  # class attributes are each new thread's starting values
    inference = False


state = _State()


def is_grad_enabled() -> bool:
    return state.grad_enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _Mode:
    """Base for the grad-mode context managers; subclasses set `_enter` and `_exit`."""

    def __call__(self, fn):
        if inspect.isclass(fn):
            raise TypeError(f"{type(self).__name__} decorates functions, not classes")
        mode = self

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                gen = fn(*args, **kwargs)
                # the mode applies only while the generator body runs, not between yields
                try:
                    with mode.clone():
                        value = next(gen)
                    while True:
                        try:
                            sent = yield value
                        except BaseException as e:
                            with mode.clone():
                                value = gen.throw(e)
                        else:
                            with mode.clone():
                                value = gen.send(sent)
                except StopIteration as stop:
                    return stop.value

            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with mode.clone():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return type(self)()


class _BareDecorator(_Mode):
    """Also usable without parentheses: `@framework.no_grad` as well as `@framework.no_grad()`."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_BareDecorator):
    """Ops inside record no graph: `with framework.no_grad(): ...` or `@framework.no_grad()`."""

    def __enter__(self):
        self._prev = state.grad_enabled
        state.grad_enabled = False

    def __exit__(self, *exc):
        state.grad_enabled = self._prev


class enable_grad(_BareDecorator):
    """Re-enable recording inside a no_grad block."""

    def __enter__(self):
        self._prev = state.grad_enabled
        state.grad_enabled = True

    def __exit__(self, *exc):
        state.grad_enabled = self._prev


class set_grad_enabled(_Mode):
    """`set_grad_enabled(False)` as a function call, context manager, or decorator."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = state.grad_enabled
        state.grad_enabled = self.mode  # PyTorch applies it immediately when called

    def __call__(self, fn):
        state.grad_enabled = self._prev  # used as a decorator: only calls of fn change the mode
        return super().__call__(fn)

    def __enter__(self):
        state.grad_enabled = self.mode

    def __exit__(self, *exc):
        state.grad_enabled = self._prev

    def clone(self):
        return set_grad_enabled(self.mode)


class inference_mode(_Mode):
    """Like no_grad, and tensors created inside can never join a later autograd graph."""

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # used bare: `@framework.inference_mode`

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = (state.grad_enabled, state.inference)
        if self.mode:
            state.grad_enabled, state.inference = False, True
        else:
            state.inference = False

    def __exit__(self, *exc):
        state.grad_enabled, state.inference = self._prev

    def clone(self):
        return inference_mode(self.mode)
