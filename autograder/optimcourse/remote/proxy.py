"""The grader's end of the channel: the student's objects, seen from the trusted process.

A :class:`Session` talks to the agent in one kernel. ``session.name("SGD")`` is a :class:`RemoteObject`
that stands for the kernel's ``SGD``: calling it, reading or setting its attributes, indexing and
iterating it are requests to the agent, and what comes back is plain data or another RemoteObject.
The chapters' checks run unchanged on these stand-ins, as they do on the student's objects in the
student's own kernel.

Arrays are mirrored, not proxied: a kernel array arrives as a local NumPy array, one per kernel array
(so ``p.data is arrays[i]`` means what it means in the kernel), and the two copies are kept in step at
every request: local writes go to the kernel first, the kernel's changes come back with the answer.
An array the grader creates and passes in is mirrored the same way, so that the grader changing it
afterwards is seen by the student's code, as it would be in one process.

The grader's own functions (a loss's gradient, say) can be passed to the student's code: the kernel
calls them back through the channel, and they run here.
"""

from __future__ import annotations

import builtins
import collections
import copy
import socket
import time
import types
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .. import side
from . import wire

__all__ = ["KernelTimeout", "RemoteObject", "Session", "is_remote", "raised_by_student"]


class KernelTimeout(TimeoutError):
    """The student's code did not answer in time."""


_KINDS = {
    name: getattr(builtins, name)
    for name in ("dict", "list", "set", "frozenset", "tuple", "int", "float", "str", "bool", "bytes", "type")
}
_CONTAINERS = ("dict", "list", "tuple", "set", "frozenset", "OrderedDict", "defaultdict", "deque")
_EXCEPTIONS: dict[tuple[str, str, str], type[BaseException]] = {}


def _exception_class(info: dict[str, Any]) -> type[Exception]:
    """A local class standing for the student's exception: the built-in one itself, or a subclass named
    like theirs of the nearest built-in exception it derives from (never a BaseException that would stop
    the grader: SystemExit and KeyboardInterrupt from the student's code become plain Exceptions)."""
    name, module = str(info.get("name", "Exception")), str(info.get("module", ""))
    bases = [getattr(builtins, b, None) for b in info.get("bases", ())]
    base = next((b for b in bases if isinstance(b, type) and issubclass(b, Exception)), Exception)
    if module == "builtins" and base.__name__ == name:
        return base
    key = (module, name, base.__name__)
    if key not in _EXCEPTIONS:
        _EXCEPTIONS[key] = type(name, (base,), {"__module__": module or "student"})
    return _EXCEPTIONS[key]  # type: ignore[return-value]  # a subclass of base, made by type() above


def _student_exception(info: dict[str, Any]) -> Exception:
    """The student's exception, described by the agent, as a local one (see :func:`raised_by_student`)."""
    exc = _exception_class(info)(str(info.get("message", "")))
    exc.student_where = str(info.get("where", ""))  # type: ignore[attr-defined]  # read by raised_by_student
    return exc


def is_remote(value: Any) -> bool:
    return isinstance(value, RemoteObject)


def raised_by_student(exc: BaseException) -> bool:
    """Whether ``exc`` stands for an exception of the student's code (an answer, even an OSError such as a
    missing file), not a failure of the channel."""
    return hasattr(exc, "student_where")


class Session:
    """The channel to one kernel's agent. ``deadline``: the time.monotonic() by which every answer must come."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline
        self.proxies: weakref.WeakValueDictionary[int, RemoteObject] = weakref.WeakValueDictionary()
        # mirrored arrays: handle -> (the local array, weakly; its contents as the kernel last saw them)
        self.mirrors: dict[int, tuple[weakref.ref, np.ndarray]] = {}
        self.handle_of: dict[int, int] = {}  # id(local array) -> handle
        self.callbacks: dict[int, Callable[..., Any]] = {}
        self.released: list[int] = []
        self.next_local = -1
        self.broken: BaseException | None = None
        self.methods_of: dict[int, frozenset[str]] = {}
        self.given_pieces: dict[str, Any] = {}  # the kernel's optimcourse.given classes, once looked up
        # the arrays that crossed lately, kept alive: a check that writes into one and drops it at once (a caller
        # reusing its buffer, `p.data[...] = v`) must still have that write reach the kernel at the next request
        self.recent: collections.deque[np.ndarray] = collections.deque(maxlen=16)

    # -- the student's names --------------------------------------------------------------------------
    def name(self, name: str) -> Any:
        return self.request("name", name=name)

    def builtin(self, name: str) -> Any:
        return self.request("builtin", name=name)

    def module(self, name: str) -> Any:
        return self.request("import", name=name)

    def read(self, objs: Any, attrs: tuple[str, ...], state: Any = None, names: tuple[str, ...] = ()) -> Any:
        """``[((getattr(o, a) for a in attrs), (state[o].get(n) for n in names)) for o in objs]`` in one request
        (no entries where ``o`` is not in ``state``)."""
        return self.request("read", objs=tuple(objs), attrs=list(attrs), state=state, names=list(names))

    def gather(self, items: Any) -> Any:
        """``side.gather``'s items, in one request: what ran, and the student's exception that stopped it."""
        from ..side import Gathered

        items = tuple(
            (item[0], "rows", *(tuple(v) for v in item[2:])) if item[1] == "rows" else tuple(item) for item in items
        )
        values, failed = self.request("gather", items=items)
        if not isinstance(values, list) or not (failed is None or isinstance(failed, dict)):
            raise wire.ProtocolError("a gather answer that is not (values, exception)")
        values = [list(v) if i[1] == "rows" and isinstance(v, tuple) else v for i, v in zip(items, values)]
        return Gathered(values, None if failed is None else _student_exception(failed))

    def set_attrs(self, items: Any) -> None:
        """``setattr(obj, name, value)`` for each ``(obj, name, value)``, in one request."""
        self.request("setattrs", items=tuple(tuple(item) for item in items))

    def done(self) -> None:
        try:
            wire.send(self.sock, {"op": "done"})
        except OSError:
            pass

    # -- values --------------------------------------------------------------------------------------
    def _mirror(self, array: np.ndarray, h: int) -> None:
        self.mirrors[h] = (weakref.ref(array), np.array(array, copy=True))
        self.handle_of[id(array)] = h

    def encode(self, value: Any, blobs: list[bytes]) -> Any:
        t = type(value)
        if value is None or t in (bool, int, float, str):
            return value
        if isinstance(value, RemoteObject):
            if object.__getattribute__(value, "_session") is not self:
                raise wire.GraderError("an object of another kernel")
            return {"r": object.__getattribute__(value, "_h")}
        if isinstance(value, _Method):
            return {"m": [object.__getattribute__(value.owner, "_h"), value.name]}
        if t is complex:
            return {"c": [value.real, value.imag]}
        if isinstance(value, np.generic):
            blobs.append(wire.array_bytes(np.asarray(value)))
            return {"np": len(blobs) - 1}
        if isinstance(value, np.ndarray):
            h = self.handle_of.get(id(value))
            if h is not None and h in self.mirrors and self.mirrors[h][0]() is value:
                return {"r": h}  # the kernel has it; any change was written before this request
            h, self.next_local = self.next_local, self.next_local - 1
            value = np.asarray(value)
            blobs.append(wire.array_bytes(value))
            self._mirror(value, h)
            self.recent.append(value)
            return {"a": len(blobs) - 1, "h": h}
        if t is tuple:
            return {"tu": [self.encode(v, blobs) for v in value]}
        if t is list:
            return {"l": [self.encode(v, blobs) for v in value]}
        if t is dict:
            return {"d": [[self.encode(k, blobs), self.encode(v, blobs)] for k, v in value.items()]}
        if t in (set, frozenset):
            return {"set": [self.encode(v, blobs) for v in value], "frozen": t is frozenset}
        given = side.given_name(value)
        if given is not None:  # the kernel's own copy of the course's given piece (a class, `required`)
            return {"given": given}
        methods = getattr(type(value), "student_methods", None)
        if methods:  # a helper of the checks (an optimizer to step with): its public methods, as callbacks
            return {
                "obj": {m: self.encode(getattr(value, m), blobs)["cb"] for m in methods},
                "name": type(value).__name__.lstrip("_"),
            }
        if isinstance(value, types.GeneratorType):
            return {"gen": [self.encode(v, blobs) for v in value]}
        if callable(value) and not isinstance(value, type):
            number = len(self.callbacks) + 1
            self.callbacks[number] = value
            return {"cb": number, "name": getattr(value, "__name__", "callback")}
        raise wire.GraderError(f"the grader cannot pass a {t.__name__} to the student's code")

    def decode(self, value: Any, blobs: list[bytes]) -> Any:
        if not isinstance(value, dict):
            if isinstance(value, list):
                raise wire.ProtocolError("a bare list in an answer")
            return value
        if "a" in value:
            h = value["h"]
            array = wire.array_from(blobs[value["a"]])
            held = self.mirrors.get(h)
            local = held[0]() if held is not None else None
            if held is not None and local is not None and local.shape == array.shape and local.dtype == array.dtype:
                local[...] = array
                self.mirrors[h] = (held[0], np.array(array, copy=True))
                array = local
            else:
                self._mirror(array, h)
            self.recent.append(
                array
            )  # `p.data[...] = v` writes into an array dropped at once: it must still reach the kernel
            return array
        if "r" in value:
            h = value["r"]
            if not isinstance(h, int):
                raise wire.ProtocolError("a handle that is not a number")
            held = self.mirrors.get(h)
            if held is not None and held[0]() is not None:
                return held[0]()
            proxy = self.proxies.get(h)
            if "methods" in value:  # said once per object: kept for every later stand-in of it
                self.methods_of[h] = frozenset(str(m) for m in value["methods"])
            if proxy is None:
                cls = value.get("cls") or ["", "object"]
                methods = self.methods_of.get(h, frozenset())
                proxy = RemoteObject._new(self, h, str(cls[-1]), str(value.get("kind", "object")), methods)
                self.proxies[h] = proxy
            return proxy
        if "np" in value:
            return wire.array_from(blobs[value["np"]])[()]
        if "given" in value:  # the kernel's sentinel stands for this process's
            from .. import given

            # only `required`: a class of the course's here would stand for the student's and be checked in
            # their place (the agent sends the kernel's own classes as handles)
            if value["given"] != "required":
                raise wire.ProtocolError("a given piece other than `required` in an answer")
            return given.required
        if "c" in value:
            return complex(*value["c"])
        if "tu" in value:
            return tuple(self.decode(v, blobs) for v in value["tu"])
        if "l" in value:
            return [self.decode(v, blobs) for v in value["l"]]
        if "d" in value:
            return {self.decode(k, blobs): self.decode(v, blobs) for k, v in value["d"]}
        if "set" in value:
            items = {self.decode(v, blobs) for v in value["set"]}
            return frozenset(items) if value.get("frozen") else items
        raise wire.ProtocolError(f"an answer the grader cannot read: {sorted(value)}")

    # -- one request ----------------------------------------------------------------------------------
    def _writes(self, blobs: list[bytes]) -> list[list[int]]:
        writes = []
        for h, (ref, seen) in list(self.mirrors.items()):
            local = ref()
            if local is None:
                del self.mirrors[h]
                self.released.append(h)
                continue
            if local.shape != seen.shape or local.dtype != seen.dtype or local.tobytes() != seen.tobytes():
                blobs.append(wire.array_bytes(local))
                writes.append([h, len(blobs) - 1])
                self.mirrors[h] = (ref, np.array(local, copy=True))
        return writes

    def _send(self, header: dict[str, Any], blobs: list[bytes]) -> None:
        header["writes"] = self._writes(blobs)
        if self.released:
            header["release"], self.released = self.released, []
        wire.send(self.sock, header, blobs)

    def _receive(self) -> tuple[dict[str, Any], list[bytes]]:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise KernelTimeout("the student's code did not answer before the cell's time limit")
        self.sock.settimeout(left)
        try:
            return wire.receive(self.sock)
        except TimeoutError:
            raise KernelTimeout("the student's code did not answer before the cell's time limit") from None

    def request(self, op: str, **fields: Any) -> Any:
        """Ask the agent; its answer, or the student's exception raised here. A failure of the channel
        itself (timeout, a dead kernel, garbage, the grader's own bug) is kept in ``self.broken``: the
        checks catch exceptions as observations, so the verdict reads it from there, and every later
        request fails at once."""
        if self.broken is not None:
            raise self.broken
        try:
            return self._request(op, fields)
        except (KernelTimeout, wire.ChannelClosed, wire.ProtocolError, wire.GraderError, OSError) as exc:
            if not raised_by_student(exc):
                self.broken = exc
            raise

    def _request(self, op: str, fields: dict[str, Any]) -> Any:
        blobs: list[bytes] = []
        header: dict[str, Any] = {"op": op}
        for key, value in fields.items():
            if key in ("name",):
                header[key] = value
            elif key in ("attrs", "names"):
                header[key] = [str(v) for v in value]
            elif key == "args":
                header[key] = [self.encode(v, blobs) for v in value]
            elif key == "kwargs":
                header[key] = {str(k): self.encode(v, blobs) for k, v in value.items()}
            else:
                header[key] = self.encode(value, blobs)
        self._send(header, blobs)
        return self._answer()

    def _answer(self) -> Any:
        while True:
            header, blobs = self._receive()
            for h, index in header.get("changes", ()):
                self.decode({"a": index, "h": h}, blobs)
            if header.get("op") == "callback":
                self._run_callback(header, blobs)
                continue
            if "ok" in header:
                return self.decode(header["ok"], blobs)
            if "raised" in header:
                raise _student_exception(header["raised"] if isinstance(header["raised"], dict) else {})
            raise wire.ProtocolError(str(header.get("protocol", "an answer with neither a value nor an exception")))

    def _run_callback(self, header: dict[str, Any], blobs: list[bytes]) -> None:
        fn = self.callbacks.get(header.get("id"))  # type: ignore[arg-type]  # a missing id finds no callback
        out: list[bytes] = []
        try:
            if fn is None:
                raise wire.ProtocolError("no such callback")
            args = [self.decode(a, blobs) for a in header.get("args", ())]
            kwargs = {str(k): self.decode(v, blobs) for k, v in header.get("kwargs", {}).items()}
            answer = {"ok": self.encode(fn(*args, **kwargs), out)}
        except (KernelTimeout, wire.ChannelClosed):
            raise
        except Exception as exc:
            answer = {
                "raised": {
                    "name": type(exc).__name__,
                    "module": type(exc).__module__,
                    "bases": [c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"],
                    "message": str(exc),
                }
            }
        self._send(answer, out)


class RemoteObject:
    """A stand-in for an object in the student's kernel (not an array: those are mirrored)."""

    __slots__ = ("__weakref__", "_h", "_kind", "_methods", "_session")
    _classes: ClassVar[dict[str, type]] = {}

    @classmethod
    def _new(
        cls, session: Session, h: int, name: str, kind: str, methods: frozenset[str] = frozenset()
    ) -> RemoteObject:
        sub = cls._classes.get(name)
        if sub is None:  # named like the student's class, for messages that print type(x).__name__
            sub = cls._classes[name] = type(name, (RemoteObject,), {"__slots__": ()})
        obj: Any = object.__new__(sub)
        object.__setattr__(obj, "_session", session)
        object.__setattr__(obj, "_h", h)
        object.__setattr__(obj, "_kind", kind)
        object.__setattr__(obj, "_methods", methods)
        return obj

    def _ask(self, op: str, **fields: Any) -> Any:
        session = object.__getattribute__(self, "_session")
        return session.request(op, obj=self, **fields)

    # isinstance(x, dict) holds for a stand-in of a dict, as it does for the dict itself; read-only on purpose
    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        return _KINDS.get(object.__getattribute__(self, "_kind"), type(self))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in ("__name__", "__qualname__", "__dict__"):
            raise AttributeError(name)
        if name in object.__getattribute__(self, "_methods"):
            return _Method(self, name)  # looked up when called: `opt.step()` is one request
        return self._ask("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._ask("setattr", name=name, value=value)

    def __delattr__(self, name: str) -> None:
        self._ask("delattr", name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ask("call", args=args, kwargs=kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key=key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._ask("setitem", key=key, value=value)

    def __delitem__(self, key: Any) -> None:
        self._ask("delitem", key=key)

    def __iter__(self) -> Any:
        if object.__getattribute__(self, "_kind") in _CONTAINERS:  # its items in one request, not one each
            return iter(self._ask("items"))
        it = self._ask("iter")
        return it if not isinstance(it, RemoteObject) else _RemoteIterator(it)

    def __len__(self) -> int:
        n = self._ask("len")
        if type(n) is not int:
            raise TypeError("len() of the student's object did not give an integer")
        return n

    def __bool__(self) -> bool:
        return bool(self._ask("bool"))

    def __contains__(self, value: Any) -> bool:
        return bool(self._ask("contains", value=value))

    def __eq__(self, other: Any) -> Any:
        return self._ask("eq", value=other)

    def __ne__(self, other: Any) -> Any:
        result = self.__eq__(other)
        return not result if isinstance(result, bool) else np.logical_not(result)

    __hash__ = object.__hash__  # the same kernel object is always the same stand-in

    def __repr__(self) -> str:
        text = self._ask("repr")
        return text if isinstance(text, str) else "<student object>"

    def __str__(self) -> str:
        text = self._ask("str")
        return text if isinstance(text, str) else "<student object>"

    def __float__(self) -> float:
        return float(self._value())

    def __int__(self) -> int:
        return int(self._value())

    def __index__(self) -> int:
        value = self._value()
        return value.__index__()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self._value(), dtype=dtype)

    def __deepcopy__(self, memo: dict) -> Any:
        return copy.deepcopy(self._value(), memo)

    def __copy__(self) -> Any:
        return copy.copy(self._value())

    def _value(self) -> Any:
        """The object as plain data (lists, dicts, sets, arrays, numbers), as far as it is plain data."""
        return self._ask("value")


class _Method:
    """``obj.name`` for a method of the student's class: calling it asks for ``getattr(obj, name)(...)``."""

    __slots__ = ("__name__", "name", "owner")

    def __init__(self, owner: RemoteObject, name: str) -> None:
        self.owner, self.name, self.__name__ = owner, name, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.owner._ask("callmethod", name=self.name, args=args, kwargs=kwargs)

    def __repr__(self) -> str:
        return f"<method {self.name} of the student's object>"


class _RemoteIterator:
    __slots__ = ("it",)

    def __init__(self, it: RemoteObject) -> None:
        self.it = it

    def __iter__(self) -> _RemoteIterator:
        return self

    def __next__(self) -> Any:
        try:
            return self.it._ask("next")
        except StopIteration:
            raise
        except Exception as exc:
            if type(exc).__name__ == "StopIteration":
                raise StopIteration from None
            raise
