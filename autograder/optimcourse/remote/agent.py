"""The kernel's end of the channel: does what the grader asks with the student's names, and answers
with plain data.

Under ``course-grade`` each graded cell runs ``serve(path, token)`` in the student's kernel: the agent
connects to the grader's socket and answers requests (look up a name, get or set an attribute, call,
index, iterate...) until the grader says ``done``. Objects stay here, named by handles; what goes back
is numbers, strings, arrays (as .npy bytes) and handles. Arrays are mirrored: after every request the
agent sends the new contents of each array the grader holds that changed, and applies the grader's
writes before the next one, so that in-place updates look the same on both sides.

Nothing here decides a score: the grader compares what it receives with torch.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import socket
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from . import measure, wire

__all__ = ["Agent", "serve"]

_BUILTINS = dict(vars(builtins))  # as they were when the agent was imported


def serve(path: str, token: str, namespace: dict[str, Any] | None = None) -> None:
    """Answer the grader at ``path`` until it is done. ``namespace``: the notebook's names (IPython's)."""
    if namespace is None:
        namespace = _BUILTINS["__import__"]("IPython").get_ipython().user_ns
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        wire.send(sock, {"hello": token})
        Agent(sock, namespace).loop()
    finally:
        sock.close()


def _raised(exc: BaseException) -> dict[str, Any]:
    """An exception as data: its type (and the built-in exceptions it derives from), message, and the
    last line of the student's code it passed through."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "optimcourse" not in f.filename]
    where = ""
    if frames:
        where = f"in {frames[-1].name}: {frames[-1].line}" if frames[-1].line else f"in {frames[-1].name}"
    cls = type(exc)
    try:
        message = str(exc)
    except Exception:  # a student's exception whose __str__ fails
        message = ""
    return {
        "raised": {
            "name": cls.__name__,
            "module": str(getattr(cls, "__module__", "")),
            "bases": [c.__name__ for c in cls.__mro__ if c.__module__ == "builtins"],
            "message": message,
            "where": where,
        }
    }


def _gather_item(item: Any) -> bool:
    """Whether ``item`` is one of side.gather's: (obj, "attr", name), (obj, "call", name, *args),
    (obj, "set", name, value) or (obj, "rows", objs, attrs, names)."""
    if not isinstance(item, tuple) or len(item) < 3:
        return False
    how, n = item[1], len(item)
    if how == "rows":
        return n == 5 and isinstance(item[2], tuple) and all(_names(v) for v in item[3:])
    return type(item[2]) is str and (how == "call" or (how == "attr" and n == 3) or (how == "set" and n == 4))


def _names(value: Any) -> bool:
    return isinstance(value, tuple) and all(type(v) is str for v in value)


def _rows(objs: Any, attrs: Any, state: Any, names: Any) -> tuple[Any, ...]:
    """side.read's rows: each object's attrs, and its entries ``names`` in ``state``."""
    rows = []
    for p in objs:
        entry = state.get(p, {}) if state is not None and p in state else {}
        rows.append((tuple(getattr(p, a) for a in attrs), tuple(entry.get(n) for n in names)))
    return tuple(rows)


class _Shallow:
    """A value sent as the plain read would send it (its lists and dicts as references), inside a gather."""

    def __init__(self, value: Any) -> None:
        self.value = value


class _Helper:
    """A helper object of the grader's (an optimizer the checks step with): methods only, each a callback."""

    def __init__(self, name: str, methods: dict[str, Callable[..., Any]]) -> None:
        self.__dict__.update(methods)
        self._name = name

    def __repr__(self) -> str:
        return f"<the grader's {self._name}>"


class Agent:
    def __init__(self, sock: socket.socket, namespace: dict[str, Any]) -> None:
        self.sock, self.namespace = sock, namespace
        self.objects: dict[int, Any] = {}  # handle -> object; kept alive while the grader holds it
        self.handles: dict[int, int] = {}  # id(object) -> handle
        self.synced: dict[int, np.ndarray] = {}  # handle -> an array's contents as the grader last saw them
        self.next_handle = 1
        self.method_names: dict[type, list[str]] = {}

    # -- values --------------------------------------------------------------------------------------
    def ref(self, obj: Any) -> int:
        h = self.handles.get(id(obj))
        if h is None or self.objects.get(h) is not obj:
            h, self.next_handle = self.next_handle, self.next_handle + 1
            self.objects[h], self.handles[id(obj)] = obj, h
        return h

    def encode(self, value: Any, blobs: list[bytes], deep: bool = False) -> Any:
        t = type(value)
        if value is None or t in (bool, int, float, str):
            return value
        if t is complex:
            return {"c": [value.real, value.imag]}
        if isinstance(value, np.generic) and not value.dtype.hasobject:
            blobs.append(wire.array_bytes(np.asarray(value)))
            return {"np": len(blobs) - 1}
        if isinstance(value, np.ndarray) and not value.dtype.hasobject:
            h = self.ref(value)
            self.synced[h] = np.array(value, copy=True)
            blobs.append(wire.array_bytes(np.asarray(value)))
            return {"a": len(blobs) - 1, "h": h}
        if t is tuple:
            return {"tu": [self.encode(v, blobs, deep) for v in value]}
        if t is _Shallow:
            return self.encode(value.value, blobs)
        if deep and t is list:
            return {"l": [self.encode(v, blobs, deep) for v in value]}
        if deep and (t is dict or (t.__module__ == "collections" and issubclass(t, dict))):
            return {"d": [[self.encode(k, blobs, deep), self.encode(v, blobs, deep)] for k, v in value.items()]}
        if deep and t in (set, frozenset):
            return {"set": [self.encode(v, blobs, deep) for v in value], "frozen": t is frozenset}
        given = self.given_name(value)
        if given is not None:
            return {"given": given}
        kind = next((c.__name__ for c in t.__mro__ if c.__module__ in ("builtins", "collections")), "object")
        known = id(value) in self.handles
        out = {"r": self.ref(value), "cls": [str(getattr(t, "__module__", "")), t.__qualname__], "kind": kind}
        if not known:  # the methods its class defines: the grader calls them in one request, not two
            out["methods"] = self.methods(t)
        return out

    def methods(self, cls: type) -> list[str]:
        names = self.method_names.get(cls)
        if names is None:
            names = []
            for name in dir(cls):
                if name.startswith("_"):
                    continue
                try:
                    attr = inspect.getattr_static(cls, name)
                except AttributeError:
                    continue
                if inspect.isfunction(attr) or (
                    inspect.ismethoddescriptor(attr) and not inspect.isdatadescriptor(attr)
                ):
                    names.append(name)
            self.method_names[cls] = names
        return names

    def given_name(self, value: Any) -> str | None:
        """ "required" for the sentinel of optimcourse.given, a value the grader compares by identity (the
        given classes go as references: the student's objects are made from them here)."""
        given = sys.modules.get("optimcourse.given")
        return "required" if given is not None and given.__dict__.get("required") is value else None

    def decode(self, value: Any, blobs: list[bytes]) -> Any:
        if not isinstance(value, (dict, list)):
            return value
        if isinstance(value, list):
            raise wire.ProtocolError("a bare list in a message")
        if "r" in value:
            try:
                return self.objects[value["r"]]
            except KeyError:
                raise wire.ProtocolError(f"no object with handle {value['r']}") from None
        if "a" in value:
            array, h = wire.array_from(blobs[value["a"]]), value["h"]
            old = self.objects.get(h)
            if isinstance(old, np.ndarray) and old.shape == array.shape and old.dtype == array.dtype:
                old[...] = array
                array = old
            else:
                self.objects[h], self.handles[id(array)] = array, h
            self.synced[h] = np.array(array, copy=True)
            return array
        if "np" in value:
            return wire.array_from(blobs[value["np"]])[()]
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
        if "gen" in value:
            return (item for item in [self.decode(v, blobs) for v in value["gen"]])
        if "m" in value:  # a method of one of the student's objects
            return getattr(self.decode({"r": value["m"][0]}, blobs), str(value["m"][1]))
        if "given" in value:
            return getattr(importlib.import_module("optimcourse.given"), str(value["given"]))
        if "obj" in value:  # a helper of the grader's: its methods call back
            methods = {str(m): self.callback(n, m) for m, n in value["obj"].items()}
            return _Helper(str(value.get("name", "Helper")), methods)
        if "cb" in value:
            return self.callback(value["cb"], value.get("name", "callback"))
        raise wire.ProtocolError(f"a value the agent cannot read: {sorted(value)}")

    # -- keeping arrays in step --------------------------------------------------------------------------
    def apply_writes(self, header: dict[str, Any], blobs: list[bytes]) -> None:
        for h in header.get("release", ()):
            obj = self.objects.pop(h, None)
            self.synced.pop(h, None)
            if obj is not None and self.handles.get(id(obj)) == h:
                del self.handles[id(obj)]
        for h, index in header.get("writes", ()):
            self.decode({"a": index, "h": h}, blobs)

    def changes(self, blobs: list[bytes]) -> list[list[int]]:
        changed = []
        for h, seen in self.synced.items():
            now = self.objects[h]
            if now.shape != seen.shape or now.dtype != seen.dtype or now.tobytes() != seen.tobytes():
                self.synced[h] = np.array(now, copy=True)
                blobs.append(wire.array_bytes(np.asarray(now)))
                changed.append([h, len(blobs) - 1])
        return changed

    def reply(self, header: dict[str, Any], blobs: list[bytes]) -> None:
        header["changes"] = self.changes(blobs)
        wire.send(self.sock, header, blobs)

    # -- requests ------------------------------------------------------------------------------------------
    def loop(self) -> None:
        while True:
            header, blobs = wire.receive(self.sock)
            if header.get("op") == "done":
                return
            self.answer(header, blobs)

    def answer(self, header: dict[str, Any], blobs: list[bytes]) -> None:
        self.apply_writes(header, blobs)
        out: list[bytes] = []
        try:
            result = self.perform(header, blobs)
            encoded: dict[str, Any]
            if header.get("op") == "items":  # the list itself by value, its items as usual
                encoded = {"ok": {"l": [self.encode(v, out) for v in result]}}
            else:
                encoded = {"ok": self.encode(result, out, deep=header.get("op") in ("value", "gather"))}
        except wire.ProtocolError as exc:
            encoded = {"protocol": str(exc)}
        except Exception as exc:  # the student's code raised: that is the answer
            encoded = _raised(exc)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt, from student code: reported, not obeyed
            encoded = _raised(exc)  # (a timeout's interrupt comes after the grader stopped waiting: nobody reads it)
        self.reply(encoded, out)

    def perform(self, header: dict[str, Any], blobs: list[bytes]) -> Any:
        op = header.get("op")
        obj: Any = self.decode(header["obj"], blobs) if "obj" in header else None

        def arg(key):
            return self.decode(header[key], blobs)

        if op == "name":
            name = header["name"]
            if name not in self.namespace:
                raise NameError(f"name {name!r} is not defined")
            return self.namespace[name]
        if op == "builtin":
            return _BUILTINS[header["name"]]
        if op == "import":
            return importlib.import_module(header["name"])
        if op == "measure":  # how the student's code runs, measured here with the course's own tools
            fn = measure.MEASURES.get(str(header.get("name")))
            if fn is None:
                raise wire.ProtocolError(f"no such measurement: {header.get('name')!r}")
            return fn(*[self.decode(a, blobs) for a in header.get("args", ())])
        if op == "read":  # several objects' attributes, and their entries in a mapping, in one request
            state, names = self.decode(header["state"], blobs), header.get("names", ())
            return _rows(self.decode(header["objs"], blobs), header["attrs"], state, names)
        if op == "gather":  # side.gather: several reads, calls and writes in order, in one request
            items = self.decode(header["items"], blobs)
            if not isinstance(items, tuple) or not all(_gather_item(item) for item in items):
                raise wire.ProtocolError("gather: items that are not (object, how, name, ...)")
            values: list[Any] = []
            for target, how, name, *value in items:
                try:
                    if how == "rows":
                        values.append(_Shallow(_rows(name, value[0], getattr(target, "state", None), value[1])))
                    elif how == "set":
                        setattr(target, name, *value)
                        values.append(None)
                    else:
                        got = getattr(target, name)
                        values.append(got(*value) if how == "call" else got)
                except BaseException as exc:  # the student's answer: reported beside what ran before it
                    return (values, _raised(exc)["raised"])
            return (values, None)
        if op == "setattrs":
            for target, name, value in self.decode(header["items"], blobs):
                setattr(target, name, value)
            return None
        if op == "callmethod":
            args = [self.decode(a, blobs) for a in header.get("args", ())]
            kwargs = {k: self.decode(v, blobs) for k, v in header.get("kwargs", {}).items()}
            return getattr(obj, header["name"])(*args, **kwargs)
        if op == "getattr":
            return getattr(obj, header["name"])
        if op == "setattr":
            return setattr(obj, header["name"], arg("value"))
        if op == "delattr":
            return delattr(obj, header["name"])
        if op == "call":
            args = [self.decode(a, blobs) for a in header.get("args", ())]
            kwargs = {k: self.decode(v, blobs) for k, v in header.get("kwargs", {}).items()}
            return obj(*args, **kwargs)
        if op == "getitem":
            return obj[arg("key")]
        if op == "setitem":
            obj[arg("key")] = arg("value")
            return None
        if op == "delitem":
            del obj[arg("key")]
            return None
        if op == "items":  # a built-in container's iteration, all at once
            return list(obj)
        if op == "iter":
            return iter(obj)
        if op == "next":
            return next(obj)
        if op == "len":
            return len(obj)
        if op == "bool":
            return bool(obj)
        if op == "contains":
            return arg("value") in obj
        if op == "eq":
            return obj == arg("value")
        if op == "repr":
            return repr(obj)
        if op == "str":
            return str(obj)
        if op == "value":
            return obj
        raise wire.ProtocolError(f"no such request: {op!r}")

    # -- the grader's functions, called from the student's code --------------------------------------------
    def callback(self, number: int, name: str) -> Callable[..., Any]:
        agent = self

        def call(*args: Any, **kwargs: Any) -> Any:
            out: list[bytes] = []
            header = {
                "op": "callback",
                "id": number,
                "args": [agent.encode(a, out) for a in args],
                "kwargs": {k: agent.encode(v, out) for k, v in kwargs.items()},
            }
            agent.reply(header, out)
            while True:  # the grader may ask for things before it answers
                request, blobs = wire.receive(agent.sock)
                if "op" in request:
                    if request["op"] == "done":
                        raise wire.ChannelClosed("the grader finished while the student's code was running")
                    agent.answer(request, blobs)
                    continue
                agent.apply_writes(request, blobs)
                if "raised" in request:
                    info = request["raised"]
                    cls = next(
                        (
                            c
                            for c in (_BUILTINS.get(n) for n in info.get("bases", ()))
                            if isinstance(c, type) and issubclass(c, Exception)
                        ),
                        RuntimeError,
                    )
                    raise cls(info.get("message", ""))
                return agent.decode(request.get("ok"), blobs)

        call.__name__ = call.__qualname__ = str(name)
        return call
